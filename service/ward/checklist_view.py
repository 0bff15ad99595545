"""What the checklist page shows: each element as a field (or read-only value), with its state.

Built from the care bundle, the form values (what is typed, or what is stored), the judgement of the current
answers (what is enabled, calculated values, outcomes, timing) and field errors. Templates render these
plain objects with the NHS.UK macros; nothing here touches the request.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from schemas.care_bundle import AnswerValue, CareBundle, Element
from service.checklists import ElementOutcome, Evaluation, Outcome, TimingStatus
from service.ward.answers_form import MAX_INSTANCES, field_name

_NUMBER_TYPES = ("integer", "decimal")


@dataclass
class FieldView:
    """One element on the page. ``kind`` picks the template: ``radios``, ``checkboxes``, ``boolean``,
    ``number``, ``string``, ``text``, ``date``, ``datetime``, ``group``, ``repeating``, ``display``,
    ``calculated``."""

    element: Element
    kind: str
    name: str
    enabled: bool
    instance: int | None = None
    values: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None
    children: list[FieldView] = field(default_factory=list)
    instances: list[list[FieldView]] = field(default_factory=list)
    can_add: bool = False
    calculated: str | None = None
    outcome: ElementOutcome | None = None
    badge: Badge | None = None

    @property
    def id(self) -> str:
        return self.element.id

    def value(self, suffix: str = "") -> str:
        found = self.values.get(self.name + suffix, [])
        return found[0] if found else ""

    def checked(self, code: str) -> bool:
        return code in self.values.get(self.name, [])

    @property
    def date_items(self) -> list[dict[str, Any]]:
        """The day, month and year inputs of an NHS.UK date input for this element."""
        return [
            {
                "name": f"{self.name}-{part}",
                "id": f"{self.name}-{part}",
                "label": label,
                "value": self.value(f"-{part}"),
                "width": width,
            }
            for part, label, width in (("day", "Day", 2), ("month", "Month", 2), ("year", "Year", 4))
        ]

    @property
    def items(self) -> list[dict[str, Any]]:
        """The options as NHS.UK radio or checkbox items (an exclusive option unticks the others)."""
        return [
            {
                "value": option.code,
                "text": option.display,
                "checked": self.checked(option.code),
                **({"behaviour": "exclusive"} if option.exclusive else {}),
            }
            for option in self.element.options
        ]


@dataclass(frozen=True)
class Badge:
    """A timing badge: ``tag`` is the NHS.UK tag colour, ``text`` what it says ("Due by 14:30")."""

    tag: str
    text: str


def build_fields(
    care_bundle: CareBundle,
    values: Mapping[str, list[str]],
    evaluation: Evaluation,
    errors: Mapping[str, str],
    now: dt.datetime,
    answers: Mapping[str, Sequence[Any]] | None = None,
) -> list[FieldView]:
    """The page's fields, in document order (the anchor first). ``answers`` are those ``evaluation``
    judged: they say which repeating group instances hold no answer yet (see :func:`instance_positions`)."""
    zone = ZoneInfo(care_bundle.timezone)
    builder = _Builder(care_bundle, values, evaluation, errors, now, zone, answers or {})
    return [builder.field(care_bundle.anchor_element, None, None)] + [
        builder.field(element, None, None) for element in care_bundle.elements
    ]


class _Builder:
    def __init__(
        self,
        care_bundle: CareBundle,
        values: Mapping[str, list[str]],
        evaluation: Evaluation,
        errors: Mapping[str, str],
        now: dt.datetime,
        zone: ZoneInfo,
        answers: Mapping[str, Sequence[Any]],
    ) -> None:
        self.care_bundle = care_bundle
        groups = set(care_bundle.repeating_group_of.values())
        self.positions = {
            group: instance_positions(instances) for group, instances in answers.items() if group in groups
        }
        self.values = values
        self.evaluation = evaluation
        self.errors = errors
        self.now = now
        self.zone = zone
        self.outcomes = {outcome.element_id: outcome for outcome in evaluation.outcomes}

    def field(self, element: Element, group: str | None, instance: int | None) -> FieldView:
        name = field_name(element.id, group, instance)
        enabled = self._enabled(element, group, instance) or element.id == self.care_bundle.anchor.id
        view = FieldView(
            element=element,
            kind=_kind(element),
            name=name,
            enabled=enabled,
            instance=instance,
            values={
                key: value for key, value in self.values.items() if key == name or key.startswith(name + "-")
            },
            error=self.errors.get(name),
            outcome=self.outcomes.get(element.id) if instance is None else None,
        )
        if view.outcome is not None:
            view.badge = badge(view.outcome, self.now, self.zone)
        if element.calculated is not None:
            view.calculated = _show(self.evaluation.calculated.get(element.id), element)
        if element.is_repeating_group:
            count = _count(self.values, element)
            view.instances = [
                [self.field(item, element.id, index) for item in element.items] for index in range(count)
            ]
            view.can_add = count < (element.max_repeats or MAX_INSTANCES)
        elif element.type == "group":
            view.children = [self.field(item, group, instance) for item in element.items]
        return view

    def _enabled(self, element: Element, group: str | None, instance: int | None) -> bool:
        enabled = self.evaluation.enabled_instances
        if group is None or instance is None:
            return (element.id, instance) in enabled
        positions = self.positions.get(group)
        position = positions[instance] if positions is not None and instance < len(positions) else instance
        if position is None:
            # An instance with no answer yet (just added) is not judged: show its unconditional questions
            # while its group is shown; a conditional one appears once the instance holds answers.
            return (group, None) in enabled and not element.enable_when
        return (element.id, position) in enabled


def instance_positions(instances: Sequence[Any]) -> list[int | None]:
    """Each form instance's position among the instances ``evaluate`` judges, which leaves out those with
    no answer (None here): ``[{}, {"a": [1]}]`` -> ``[None, 0]``."""
    positions: list[int | None] = []
    judged = 0
    for instance in instances:
        if isinstance(instance, Mapping) and any(instance.values()):
            positions.append(judged)
            judged += 1
        else:
            positions.append(None)
    return positions


def _count(values: Mapping[str, list[str]], element: Element) -> int:
    raw = (values.get(f"g-{element.id}-count") or ["0"])[0]
    return min(int(raw) if raw.isdigit() else 0, element.max_repeats or MAX_INSTANCES)


def _kind(element: Element) -> str:
    if element.calculated is not None:
        return "calculated"
    if element.is_repeating_group:
        return "repeating"
    if element.type == "choice":
        return "checkboxes" if element.repeats else "radios"
    if element.type in _NUMBER_TYPES:
        return "number"
    return {"dateTime": "datetime"}.get(element.type, element.type)


def _show(value: AnswerValue | None, element: Element) -> str:
    if value is None:
        return "Not known yet"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    unit = f" {element.unit.display}" if element.unit else ""
    if isinstance(value, Decimal):
        return f"{value.normalize():f}{unit}"
    return f"{value}{unit}"


def badge(outcome: ElementOutcome, now: dt.datetime, zone: ZoneInfo) -> Badge | None:
    """Due / overdue / in time / late, for an element with timing rules (local time of the care bundle)."""
    status = outcome.timing_status
    if status is None or outcome.outcome is Outcome.NOT_APPLICABLE:
        return None
    if status is TimingStatus.DUE and outcome.due_at is not None:
        return Badge("blue", f"Due by {local_time(outcome.due_at, now, zone)}")
    if status is TimingStatus.OVERDUE and outcome.due_at is not None:
        return Badge("red", f"Overdue by {duration(now - outcome.due_at)}")
    if status is TimingStatus.MET:
        return Badge("green", "In time")
    if status is TimingStatus.NOT_MET:
        return Badge("orange", "Not in time")
    return Badge("grey", "Time not known yet")


def local_time(moment: dt.datetime, now: dt.datetime, zone: ZoneInfo) -> str:
    """``14:30`` today, ``Tue 3 Jun 14:30`` on another day (the care bundle's local time)."""
    local, today = moment.astimezone(zone), now.astimezone(zone).date()
    if local.date() == today:
        return local.strftime("%H:%M")
    return f"{local.strftime('%a')} {local.day} {local.strftime('%b %H:%M')}"


def duration(delta: dt.timedelta) -> str:
    """``2 h 10 min``, ``3 days 4 h``, ``45 min``, ``less than a minute``."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "less than a minute"
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} day{'s' if days != 1 else ''}" + (f" {hours} h" if hours else "")
    if hours:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    return f"{minutes} min"


def show_answer(element: Element, values: Sequence[Any], zone: ZoneInfo) -> str:
    """An answer as people read it (the completed view and version history)."""
    shown = []
    for value in values:
        option = element.option(value) if element.type == "choice" else None
        if option is not None:
            shown.append(option.display)
        elif isinstance(value, bool):
            shown.append("Yes" if value else "No")
        elif isinstance(value, dt.datetime):
            local = value.astimezone(zone)
            shown.append(f"{local.day} {local.strftime('%B %Y, %H:%M')}")
        elif isinstance(value, dt.date):
            shown.append(f"{value.day} {value.strftime('%B %Y')}")
        elif isinstance(value, Decimal):
            shown.append(f"{value.normalize():f}")
        else:
            shown.append(str(value))
    unit = f" {element.unit.display}" if element.unit and shown else ""
    return ", ".join(shown) + unit


_CONDITION = re.compile(r"(?P<element>[a-z0-9][a-z0-9-]*) (?P<op>!=|>=|<=|=|>|<) (?P<answer>[^\s;]+)")
_ANSWERED = re.compile(r"(?P<element>[a-z0-9][a-z0-9-]*) (?P<verb>is not|is) answered")
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?\+00:00")
_OPERATOR_WORDS = {
    "=": "is",
    "!=": "is not",
    ">": "is more than",
    "<": "is less than",
    ">=": "is at least",
    "<=": "is at most",
}


def humanise_reason(care_bundle: CareBundle, reason: str | None) -> str | None:
    """An outcome's reason in the questions' and answers' own words, times in local time.

    The engine writes reasons with element ids and codes (``applies only when birth-mode = caesarean``);
    staff read ``Applies only when “Mode of birth” is “Caesarean birth”``.
    """
    if not reason:
        return reason
    zone = ZoneInfo(care_bundle.timezone)

    def element_text(element_id: str) -> str | None:
        element = care_bundle.element(element_id)
        return f"“{element.text}”" if element is not None else None

    def condition(match: re.Match[str]) -> str:
        element = care_bundle.element(match["element"])
        if element is None:
            return match[0]
        option = element.option(match["answer"]) if element.type == "choice" else None
        shown = option.display if option is not None else match["answer"]
        return f"“{element.text}” {_OPERATOR_WORDS[match['op']]} “{shown}”"

    def answered(match: re.Match[str]) -> str:
        text = element_text(match["element"])
        return f"{text} {match['verb']} answered" if text else match[0]

    def instant(match: re.Match[str]) -> str:
        local = dt.datetime.fromisoformat(match[0]).astimezone(zone)
        return f"{local.day} {local.strftime('%b %Y %H:%M')}"

    text = _INSTANT.sub(instant, reason)
    text = _ANSWERED.sub(answered, _CONDITION.sub(condition, text))
    for element in (care_bundle.anchor_element, *care_bundle.walk()):
        text = re.sub(rf"(?<![\w“-]){re.escape(element.id)}(?![\w”-])", f"“{element.text}”", text)
    return text[:1].upper() + text[1:]
