"""The checklist page's form fields <-> the answers mapping the lifecycle service takes.

Field names: ``e-{element}`` for an element's answer (several for checkboxes); dates in three fields
``-day``, ``-month``, ``-year`` (the NHS.UK date input); date-times add ``-time`` (``HH:MM``, in the care
bundle's local time); an item of a repeating group instance ``g-{group}-{n}-{item}`` with the same suffixes,
and ``g-{group}-count`` the number of instances shown. Parsing never raises: a value that cannot be read
becomes a field error ("Enter a whole number") and is left out of the answers, so nothing else typed is lost.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from schemas.care_bundle import AnswerValue, CareBundle, Element

#: Instances of one repeating group a form may post (the format's max_repeats, or this).
MAX_INSTANCES = 20
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
#: A plain decimal as typed: no exponents, no NaN or infinity.
_DECIMAL = re.compile(r"^-?\d{1,12}(\.\d{1,10})?$")
_MAX_TEXT = 10_000


class FormData(Protocol):
    def getlist(self, key: str) -> list[str]: ...


@dataclass
class ParsedForm:
    """Answers read from the form, and a message per field that could not be read (field id -> message)."""

    answers: dict[str, list[Any]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def field_name(element_id: str, group: str | None = None, instance: int | None = None) -> str:
    if group is None:
        return f"e-{element_id}"
    return f"g-{group}-{instance}-{element_id}"


def parse_answers(
    care_bundle: CareBundle, form: FormData, *, instances: Mapping[str, int] | None = None
) -> ParsedForm:
    """Read every element of ``care_bundle`` from ``form`` (the anchor included)."""
    zone = ZoneInfo(care_bundle.timezone)
    parsed = ParsedForm()
    for element in (care_bundle.anchor_element, *care_bundle.walk()):
        if element.id in care_bundle.repeating_group_of or element.calculated is not None:
            continue
        if element.is_repeating_group:
            parsed.answers[element.id] = _instances(element, form, zone, parsed, instances)
            continue
        if element.type in ("group", "display"):
            continue
        values = _values(element, field_name(element.id), form, zone, parsed.errors)
        if values:
            parsed.answers[element.id] = values
    return parsed


def instance_count(element: Element, form: FormData) -> int:
    """How many instances of a repeating group the form shows (0 to the group's limit)."""
    raw = (form.getlist(f"g-{element.id}-count") or ["0"])[0]
    count = int(raw) if raw.isdigit() else 0
    return min(count, element.max_repeats or MAX_INSTANCES)


def _instances(
    element: Element,
    form: FormData,
    zone: ZoneInfo,
    parsed: ParsedForm,
    counts: Mapping[str, int] | None,
) -> list[dict[str, list[Any]]]:
    count = counts.get(element.id, 0) if counts is not None else instance_count(element, form)
    found: list[dict[str, list[Any]]] = []
    for index in range(count):
        instance: dict[str, list[Any]] = {}
        for item in _answerable(element.items):
            values = _values(item, field_name(item.id, element.id, index), form, zone, parsed.errors)
            if values:
                instance[item.id] = values
        found.append(instance)
    return found


def _answerable(elements: Iterable[Element]) -> Iterable[Element]:
    for element in elements:
        if element.type == "group":
            yield from _answerable(element.items)
        elif element.type != "display" and element.calculated is None:
            yield element


def _values(
    element: Element, name: str, form: FormData, zone: ZoneInfo, errors: dict[str, str]
) -> list[AnswerValue]:
    try:
        return _read(element, name, form, zone)
    except ValueError as error:
        errors[name] = str(error)
        return []


def _read(element: Element, name: str, form: FormData, zone: ZoneInfo) -> list[AnswerValue]:
    kind = element.type
    if kind == "date":
        day = _date(form, name)
        return [] if day is None else [day]
    if kind == "dateTime":
        moment = _date_time(form, name, zone)
        return [] if moment is None else [moment]
    raw = [value.strip() for value in form.getlist(name) if value.strip()]
    if not raw:
        return []
    if not element.repeats:
        raw = raw[-1:]
    if kind == "choice":
        codes = {option.code for option in element.options}
        unknown = [value for value in raw if value not in codes]
        if unknown:
            raise ValueError("Select one of the options")
        return list(dict.fromkeys(raw))
    if kind == "boolean":
        if raw[0] not in ("true", "false"):
            raise ValueError("Select yes or no")
        return [raw[0] == "true"]
    if kind == "integer":
        if not re.fullmatch(r"-?\d{1,9}", raw[0]):
            raise ValueError("Enter a whole number")
        return [int(raw[0])]
    if kind == "decimal":
        if not _DECIMAL.fullmatch(raw[0]):
            raise ValueError("Enter a number, for example 0.75")
        return [Decimal(raw[0])]
    text = raw[0]
    if len(text) > (element.max_length or _MAX_TEXT):
        raise ValueError(f"Enter {element.max_length or _MAX_TEXT} characters or fewer")
    if kind == "string" and ("\n" in text or "\r" in text):
        raise ValueError("Enter one line of text")
    return [text]


def _parts(form: FormData, name: str, *suffixes: str) -> list[str]:
    return [((form.getlist(f"{name}-{suffix}") or [""])[0]).strip() for suffix in suffixes]


def _date(form: FormData, name: str) -> dt.date | None:
    day, month, year = _parts(form, name, "day", "month", "year")
    if not (day or month or year):
        return None
    if not (day.isdigit() and month.isdigit() and year.isdigit() and len(year) == 4):
        raise ValueError("Enter a real date, for example 27 3 2025")
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError as error:
        raise ValueError("Enter a real date, for example 27 3 2025") from error


def read_date_time(form: FormData, name: str, zone: ZoneInfo) -> dt.datetime | None:
    """The date-time of fields ``{name}-day|month|year|time`` in ``zone``; None when all are empty."""
    return _date_time(form, name, zone)


def _date_time(form: FormData, name: str, zone: ZoneInfo) -> dt.datetime | None:
    day = _date(form, name)
    (time,) = _parts(form, name, "time")
    if day is None and not time:
        return None
    if day is None:
        raise ValueError("Enter the date as well as the time")
    match = _TIME.fullmatch(time)
    if match is None:
        raise ValueError("Enter a time, for example 14:30")
    local = dt.datetime.combine(day, dt.time(int(match[1]), int(match[2])), tzinfo=zone)
    # A time skipped when the clocks go forward does not come back unchanged from UTC.
    round_trip = local.astimezone(dt.UTC).astimezone(zone)
    if round_trip.replace(tzinfo=None) != local.replace(tzinfo=None):
        raise ValueError("That time did not happen on this date: the clocks went forward")
    return local


def form_values(care_bundle: CareBundle, answers: Mapping[str, Sequence[Any]]) -> dict[str, list[str]]:
    """The form fields that show ``answers`` again (the inverse of :func:`parse_answers`)."""
    zone = ZoneInfo(care_bundle.timezone)
    fields: dict[str, list[str]] = {}
    for element in (care_bundle.anchor_element, *care_bundle.walk()):
        if element.is_repeating_group:
            instances = [item for item in answers.get(element.id, ()) if isinstance(item, Mapping)]
            fields[f"g-{element.id}-count"] = [str(len(instances))]
            for index, instance in enumerate(instances):
                for item in _answerable(element.items):
                    _show(
                        item, field_name(item.id, element.id, index), instance.get(item.id, ()), zone, fields
                    )
        elif element.id not in care_bundle.repeating_group_of and element.type not in ("group", "display"):
            _show(element, field_name(element.id), answers.get(element.id, ()), zone, fields)
    return fields


def _show(
    element: Element, name: str, values: Sequence[Any], zone: ZoneInfo, fields: dict[str, list[str]]
) -> None:
    if not values:
        return
    value = values[0]
    if isinstance(value, dt.datetime):
        local = value.astimezone(zone)
        fields.update(_date_fields(name, local.date()))
        fields[f"{name}-time"] = [local.strftime("%H:%M")]
    elif isinstance(value, dt.date):
        fields.update(_date_fields(name, value))
    elif isinstance(value, bool):
        fields[name] = ["true" if value else "false"]
    else:
        fields[name] = [str(item) for item in values]


def _date_fields(name: str, day: dt.date) -> dict[str, list[str]]:
    return {f"{name}-day": [str(day.day)], f"{name}-month": [str(day.month)], f"{name}-year": [str(day.year)]}
