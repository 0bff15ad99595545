"""The in-memory care bundle: immutable dataclasses built once at start-up from a checked YAML file.

``bundles/FORMAT.md`` is the author's reference for every field; ``shape`` builds these objects and
``meaning`` checks what the shape cannot.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Literal

from fhir_adapters.vocabulary import ENABLE_WHEN_OPERATORS

ELEMENT_TYPES: tuple[str, ...] = (
    "boolean",
    "choice",
    "integer",
    "decimal",
    "date",
    "dateTime",
    "string",
    "text",
    "group",
    "display",
)
OPERATORS = ENABLE_WHEN_OPERATORS
ORDERED_TYPES = frozenset({"integer", "decimal", "date", "dateTime"})
NUMBER_TYPES = frozenset({"integer", "decimal"})
TIME_TYPES = frozenset({"date", "dateTime"})
ANSWERABLE_TYPES = frozenset(ELEMENT_TYPES) - {"group", "display"}
ANCHOR = "anchor"
#: Reserved suffix: the Questionnaire carries an element's help text in a display item ``{id}-help``.
HELP_SUFFIX = "-help"
ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
SEMVER_PATTERN = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$"
#: Working-day calendars: bank holidays per nation, from the ``holidays`` package.
CALENDARS: tuple[str, ...] = ("england-and-wales", "scotland")
#: The composite a care bundle without ``composites`` gets: every compliance element with all_or_none.
DEFAULT_COMPOSITE = "all-or-none"
CALCULATIONS: tuple[str, ...] = (
    "years_between",
    "months_between",
    "count",
    "sum",
    "difference",
    "all",
    "any",
)

#: A plain Python value an element can hold: a code (choice), bool, int, Decimal, date, aware datetime, str.
AnswerValue = bool | int | Decimal | str | dt.date | dt.datetime
Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Coding:
    system: str
    code: str
    display: str | None = None


@dataclass(frozen=True)
class Option:
    code: str
    display: str
    system: str | None = None  # None: the care bundle's own code system
    #: Chosen alone: "intact perineum" cannot be recorded with a tear (SDC optionExclusive).
    exclusive: bool = False


@dataclass(frozen=True)
class Unit:
    """A unit of measure: UCUM ``code`` (new versions) and the text shown; ``code`` None for text only."""

    display: str
    code: str | None = None


@dataclass(frozen=True)
class Condition:
    element: str
    operator: str
    answer: AnswerValue


@dataclass(frozen=True)
class Conditions:
    """Conditions joined by ``all`` (every one holds) or ``any`` (at least one holds)."""

    items: tuple[Condition, ...]
    behavior: Literal["all", "any"] = "all"


@dataclass(frozen=True)
class TimingRule:
    """A window the event (a date or date-time answer) must fall in, or an order between two answers.

    Window: from ``start`` (the anchor or an element), an upper bound (exactly one of ``within_hours``,
    ``by_end_of_day``, ``within_working_days``) and optionally a lower bound (``after_hours`` or
    ``from_day``). Order: ``before`` names the element the event must come before (``start`` is None).
    ``event`` is the element judged (None: the element that carries the rule). ``applies_when``: the rule
    is not applicable unless these hold (the 2-week target "for clinically serious cases").
    """

    start: str | None = None
    id: str | None = None
    event: str | None = None
    within_hours: Decimal | None = None
    by_end_of_day: int | None = None
    within_working_days: int | None = None
    after_hours: Decimal | None = None
    from_day: int | None = None
    before: str | None = None
    applies_when: Conditions | None = None
    title: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Compliance:
    """What makes an element ``met``; all the parts given must hold.

    ``met``: answers that meet it. ``at_least`` / ``at_most``: a number answer meets it inside these bounds
    (inclusive). ``exception``: answers that are a documented exception (the element is then
    ``not-applicable`` and does not count against a composite). ``exception_when``: conditions on other
    elements, any one of which makes a documented exception. ``applies_when``: the rule applies only when
    these hold (otherwise ``not-applicable``, not an exception). ``recorded``: any answer meets it.
    ``all_or_none``: False keeps the element out of the default composite. ``timing``: windows.
    """

    met: tuple[AnswerValue, ...] = ()
    exception: tuple[AnswerValue, ...] = ()
    exception_when: tuple[Condition, ...] = ()
    recorded: bool = False
    timing: tuple[TimingRule, ...] = ()
    all_or_none: bool = True
    applies_when: Conditions | None = None
    at_least: Decimal | None = None
    at_most: Decimal | None = None


@dataclass(frozen=True)
class Calculation:
    """A value Careloop works out from other answers (and that the Questionnaire carries as FHIRPath).

    ``years_between`` / ``months_between`` [earlier, later]: whole calendar years or months (local dates);
    ``count`` [elements]: answers equal to ``answer`` (or every answer, or group instances, without it);
    ``sum`` [elements]; ``difference`` [first, second]: second minus first; ``all`` / ``any``: conditions.
    """

    function: str
    elements: tuple[str, ...] = ()
    answer: AnswerValue | None = None
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class Element:
    id: str
    text: str
    type: str
    required: bool = False
    repeats: bool = False
    max_repeats: int | None = None
    options: tuple[Option, ...] = ()
    enable_when: tuple[Condition, ...] = ()
    enable_behavior: str | None = None
    codes: tuple[Coding, ...] = ()
    min_value: Decimal | None = None
    max_value: Decimal | None = None
    max_length: int | None = None
    unit: Unit | None = None
    help: str | None = None
    calculated: Calculation | None = None
    compliance: Compliance | None = None
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    items: tuple[Element, ...] = ()

    def option(self, code: object) -> Option | None:
        return next((option for option in self.options if option.code == code), None)

    @property
    def is_repeating_group(self) -> bool:
        return self.type == "group" and self.repeats


@dataclass(frozen=True)
class Anchor:
    id: str
    text: str
    type: str = "dateTime"
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Source:
    id: str
    citation: str
    url: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Composite:
    """A named all-or-none measure: compliant when every applicable member (element or rule id) is met."""

    id: str
    title: str
    members: tuple[str, ...]
    description: str = ""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Population:
    """Who the care bundle's measures count: a checklist outside it is outside every denominator."""

    text: str
    when: Conditions


@dataclass(frozen=True)
class Check:
    """Answers that must agree: when ``when`` holds (always, if None), ``require`` must hold too.

    ``error`` stops a checklist being completed; ``warning`` is shown and kept with the checklist.
    """

    id: str
    text: str
    require: Conditions
    when: Conditions | None = None
    severity: Severity = "error"
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ValueTest:
    """A comparison of one number with a threshold (``>= 5``)."""

    operator: str
    value: Decimal


@dataclass(frozen=True)
class FollowUp:
    """A measure across one patient's checklists of this care bundle, ordered by anchor time.

    The baseline is the patient's first checklist; the follow-up is the latest one (``after_days`` None) or
    the latest one between ``after_days`` and ``within_days`` after the baseline. ``population`` tests the
    baseline value (who is counted), then ``met`` tests the follow-up value or ``change`` tests follow-up
    minus baseline.
    """

    id: str
    title: str
    element: str
    population: ValueTest | None = None
    met: ValueTest | None = None
    change: ValueTest | None = None
    after_days: int | None = None
    within_days: int | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CareBundle:
    id: str
    version: str
    title: str
    status: str
    anchor: Anchor
    elements: tuple[Element, ...]
    description: str = ""
    publisher: str | None = None
    subject_type: str = "Patient"
    timezone: str = "Europe/London"
    calendar: str = "england-and-wales"
    patient_identifiers: tuple[str, ...] = ("nhs-number", "local")
    codes: tuple[Coding, ...] = ()
    sources: tuple[Source, ...] = ()
    notes: tuple[str, ...] = ()
    population: Population | None = None
    composites: tuple[Composite, ...] = ()
    checks: tuple[Check, ...] = ()
    follow_up: tuple[FollowUp, ...] = ()
    path: str | None = field(default=None, compare=False)
    #: The definition as loaded, as canonical JSON: what the browser copy of the rules reads.
    definition_json: str = field(default="", compare=False, repr=False)

    def walk(self) -> Iterator[Element]:
        """Every element, depth first, in document order (groups before their items)."""

        def _walk(elements: Sequence[Element]) -> Iterator[Element]:
            for element in elements:
                yield element
                yield from _walk(element.items)

        return _walk(self.elements)

    def element(self, element_id: str) -> Element | None:
        if element_id == self.anchor.id:
            return self.anchor_element
        return self._by_id.get(element_id)

    @cached_property
    def _by_id(self) -> Mapping[str, Element]:
        return {element.id: element for element in self.walk()}

    @cached_property
    def element_types(self) -> Mapping[str, str]:
        """Element id -> type for every element, the anchor included (for conditions and answers)."""
        types = {element.id: element.type for element in self.walk()}
        types[self.anchor.id] = self.anchor.type
        return types

    @cached_property
    def repeating_group_of(self) -> Mapping[str, str]:
        """Element id -> the id of the repeating group it sits in (elements outside one are absent)."""
        found: dict[str, str] = {}
        for element in self.walk():
            if element.is_repeating_group:
                for inner in _descendants(element):
                    found[inner.id] = element.id
        return found

    @property
    def anchor_element(self) -> Element:
        """The anchor as the required date/date-time element it is on every checklist (the first item)."""
        return Element(id=self.anchor.id, text=self.anchor.text, type=self.anchor.type, required=True)

    @property
    def compliance_elements(self) -> tuple[Element, ...]:
        return tuple(element for element in self.walk() if element.compliance is not None)

    @cached_property
    def timing_rules(self) -> tuple[tuple[str, Element, TimingRule], ...]:
        """(rule id, element carrying it, rule) for every timing rule; ids are stable for stored outcomes."""
        return tuple(
            (rule_id(element, index, rule), element, rule)
            for element in self.compliance_elements
            for index, rule in enumerate(element.compliance.timing if element.compliance else ())
        )

    @cached_property
    def all_composites(self) -> tuple[Composite, ...]:
        """The declared composites, or the default one (every compliance element with all_or_none)."""
        if self.composites:
            return self.composites
        members = tuple(
            element.id
            for element in self.compliance_elements
            if element.compliance is not None and element.compliance.all_or_none
        )
        return (Composite(DEFAULT_COMPOSITE, "All-or-none", members),)


def rule_id(element: Element, index: int, rule: TimingRule) -> str:
    """A timing rule's id: its own, or ``{element}.timing[{index}]`` for files that name none."""
    return rule.id or f"{element.id}.timing[{index}]"


def _descendants(element: Element) -> Iterator[Element]:
    for item in element.items:
        yield item
        yield from _descendants(item)


def coerce_answer(element_type: str, value: AnswerValue) -> AnswerValue:
    """Turn a YAML scalar into the Python value an element of this type holds; ValueError if it cannot."""
    if element_type == "boolean":
        if isinstance(value, bool):
            return value
        raise ValueError("a boolean element's answer is true or false")
    if element_type == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ValueError("an integer element's answer is a whole number")
    if element_type == "decimal":
        if isinstance(value, int | Decimal) and not isinstance(value, bool):
            return Decimal(value)
        raise ValueError("a decimal element's answer is a number")
    if element_type == "date":
        if isinstance(value, str):
            return dt.date.fromisoformat(value)
        raise ValueError("a date element's answer is a date such as 2024-05-31")
    if element_type == "dateTime":
        if isinstance(value, str):
            moment = dt.datetime.fromisoformat(value)
            if moment.tzinfo is None:
                raise ValueError(
                    "a date-time answer needs a time zone offset, e.g. 2024-05-31T09:00:00+01:00"
                )
            return moment
        raise ValueError("a dateTime element's answer is a date-time with an offset")
    if isinstance(value, str) and element_type in ("choice", "string", "text"):
        return value
    raise ValueError(f"a {element_type} element's answer is text")
