"""Checks on one answer value against its Questionnaire item: type, format, options, limits, attachments,
references and quantities. Only ``check_answer`` is called per answer; the rest run when the item asks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from fhir_adapters.operation_outcome import Issue, echo
from fhir_adapters.sdc.compiled import Comparable, CompiledItem, Quantity, comparable, option_key
from fhir_adapters.sdc.issues import terminology_check
from fhir_adapters.sdc.primitives import (
    base64_length,
    compare_temporal,
    decimal_places,
    is_date,
    is_date_time,
    is_integer,
    is_number,
    is_time,
    is_uri,
    reference_target,
)
from fhir_adapters.sdc.ucum import UCUM_SYSTEM, to_base

_Fail = Callable[..., None]


def _well_formed(key: str, value: Any) -> tuple[str, str] | None:
    """(issue code, message) when the value does not have the JSON type or format its key promises."""
    if key == "valueString":
        return (
            None
            if isinstance(value, str) and value
            else ("structure", "valueString must be a non-empty string")
        )
    if key == "valueCoding" or key == "valueQuantity" or key == "valueReference" or key == "valueAttachment":
        return (
            None
            if (type(value) is dict or isinstance(value, Mapping)) and value
            else ("structure", f"{key} must be a non-empty object")
        )
    if key == "valueBoolean":
        return None if isinstance(value, bool) else ("structure", "valueBoolean must be true or false")
    if key == "valueInteger":
        return None if is_integer(value) else ("structure", "valueInteger must be a 32-bit JSON integer")
    if key == "valueDecimal":
        return None if is_number(value) else ("structure", "valueDecimal must be a JSON number")
    if not isinstance(value, str):
        return ("structure", f"{key} must be a string")
    if key == "valueDate":
        return None if is_date(value) else ("value", f"{echo(value)} is not a FHIR date")
    if key == "valueDateTime":
        return None if is_date_time(value) else ("value", f"{echo(value)} is not a FHIR dateTime")
    if key == "valueTime":
        return None if is_time(value) else ("value", f"{echo(value)} is not a FHIR time")
    if key == "valueUri":
        return None if is_uri(value) else ("value", f"{echo(value)} is not a valid URI")
    return ("structure", f"{key} is not an answer type")


def check_answer(item: CompiledItem, key: str, value: Any, path: str, issues: list[Issue]) -> bool:
    """Report what is wrong with one answer value; True when it is usable (right type and format)."""
    if key not in item.value_keys:
        allowed = " or ".join(sorted(item.value_keys)) or "no answers"
        issues.append(
            Issue(
                "error", "structure", f"Item '{item.link_id}' ({item.type}) takes {allowed}, not {key}", path
            )
        )
        return False
    problem = _well_formed(key, value)
    if problem is not None:
        issues.append(Issue("error", problem[0], f"Item '{item.link_id}': {problem[1]}", path))
        return False
    if key == "valueString" and item.type == "string" and ("\n" in value or "\r" in value):
        issues.append(
            Issue(
                "error",
                "value",
                f"Item '{item.link_id}' is a single-line string; use type text for more",
                path,
            )
        )
    if item.checks_values:
        _constraints(item, key, value, path, issues)
    return True


def _constraints(item: CompiledItem, key: str, value: Any, path: str, issues: list[Issue]) -> None:
    def fail(message: str, code: str = "value") -> None:
        issues.append(Issue("error", code, f"Item '{item.link_id}': {message}", path))

    free_text = key == "valueString" and item.type == "open-choice"
    if item.options is not None and not free_text and not _in_options(item, key, value):
        fail(f"{_show(key, value)} is not one of the answer options")
    if item.value_set and not free_text:
        _check_value_set(item, key, value, path, issues)
    if item.min_value is not None or item.max_value is not None:
        _check_limits(item, key, value, path, issues)
    if isinstance(value, str):
        if item.min_length is not None and len(value) < item.min_length:
            fail(f"answer is shorter than {item.min_length} characters")
        if item.max_length is not None and len(value) > item.max_length:
            fail(f"answer is longer than {item.max_length} characters")
    if item.regex is not None and key not in (
        "valueCoding",
        "valueQuantity",
        "valueReference",
        "valueAttachment",
    ):
        text = (
            value
            if isinstance(value, str)
            else str(value).lower()
            if isinstance(value, bool)
            else repr(value)
        )
        if item.regex.fullmatch(text) is None:
            fail(f"the answer does not match the pattern {item.regex.pattern}")  # free text: never echoed
    if item.max_places is not None:
        number = value.get("value") if key == "valueQuantity" else value
        if is_number(number) and decimal_places(number) > item.max_places:
            fail(f"{number} has more than {item.max_places} decimal places")
    if key == "valueAttachment":
        _check_attachment(item, value, fail)
    elif key == "valueReference":
        _check_reference(item, value, fail)
    elif key == "valueQuantity":
        _check_units(item, value, path, issues, fail)


def _in_options(item: CompiledItem, key: str, value: Any) -> bool:
    options = item.options or frozenset()
    found = option_key(key, value)
    if found in options:
        return True
    if key == "valueCoding" and isinstance(found, tuple):
        code = found[2]
        return ("coding", None, code) in options or (found[1] is None and code in item.option_codes)
    return False


def _check_value_set(item: CompiledItem, key: str, value: Any, path: str, issues: list[Issue]) -> None:
    if item.value_set_codes is not None and key == "valueCoding":
        if option_key(key, value) not in item.value_set_codes:
            issues.append(
                Issue(
                    "error",
                    "code-invalid",
                    f"Item '{item.link_id}': {_show(key, value)} is not in {item.value_set}",
                    path,
                )
            )
        return
    issues.append(
        terminology_check(
            "value-set",
            f"is {_show(key, value)} in {item.value_set} (item '{item.link_id}')?",
            path,
            item.value_set,
            value,
        )
    )


def _check_limits(item: CompiledItem, key: str, value: Any, path: str, issues: list[Issue]) -> None:
    answer = comparable(key, value)
    if answer is None:
        return
    for bound, sign, word in ((item.min_value, -1, "minimum"), (item.max_value, 1, "maximum")):
        if bound is None:
            continue
        order: int | str | None
        if answer[0] == "quantity" and bound[0] == "quantity":
            order = quantity_order(answer[1], bound[1])
            if order == "incompatible":
                issues.append(
                    Issue(
                        "error",
                        "value",
                        f"Item '{item.link_id}': {answer[1].label} cannot be compared "
                        f"with the {word} {bound[1].label}",
                        path,
                    )
                )
            elif order == "unknown":
                issues.append(
                    terminology_check(
                        "unit-conversion",
                        f"compare {answer[1].label} with the {word} {bound[1].label} (item '{item.link_id}')",
                        path,
                        None,
                        value,
                    )
                )
        else:
            order = compare(answer, bound)
        if order == sign:
            issues.append(
                Issue(
                    "error",
                    "value",
                    f"Item '{item.link_id}': {_show_comparable(answer)} is "
                    f"{'below the' if sign < 0 else 'above the'} {word} {_show_comparable(bound)}",
                    path,
                )
            )


def compare(answer: Comparable, bound: Comparable) -> int | None:
    """-1/0/1, or None when not comparable (different kinds, or units this module cannot convert)."""
    kind = answer[0]
    if kind != bound[0]:
        return None
    if kind == "number" or kind == "string" or kind == "time":
        left, right = answer[1], bound[1]
        return int(left > right) - int(left < right)
    if kind == "temporal":
        return compare_temporal(answer[1], bound[1])
    if kind == "quantity":
        order = quantity_order(answer[1], bound[1])
        return order if isinstance(order, int) else None
    return None


def quantity_order(answer: Quantity, bound: Quantity) -> int | Literal["incompatible", "unknown"]:
    """Order of two quantities with the same unit, or UCUM units this module converts."""
    same_code = answer.code is not None and answer.code == bound.code and answer.system == bound.system
    same_text = answer.code is None and bound.code is None and answer.unit == bound.unit
    if same_code or same_text:
        return int(answer.value > bound.value) - int(answer.value < bound.value)
    left = to_base(answer.value, answer.code) if answer.code and answer.system == UCUM_SYSTEM else None
    right = to_base(bound.value, bound.code) if bound.code and bound.system == UCUM_SYSTEM else None
    if left is None or right is None:
        return "unknown"
    if left[0] != right[0]:
        return "incompatible"
    return int(left[1] > right[1]) - int(left[1] < right[1])


def _check_attachment(item: CompiledItem, value: Mapping[str, Any], fail: _Fail) -> None:
    content_type = value.get("contentType")
    data = value.get("data")
    size = value.get("size")
    length = None
    if data is not None:
        length = base64_length(data) if isinstance(data, str) else None
        if length is None:
            fail("attachment data is not base64")
        elif size is not None and size != length:
            fail(f"attachment size {size} does not match its data ({length} bytes)")
        if content_type is None:
            fail("an attachment with data needs a contentType", "required")
    if item.mime_types is not None and content_type is not None and content_type not in item.mime_types:
        fail(f"attachment type {content_type} is not one of {', '.join(sorted(item.mime_types))}")
    actual = size if is_number(size) else length
    if item.max_size is not None and actual is not None and actual > item.max_size:
        fail(f"attachment of {actual} bytes is larger than {item.max_size:g} bytes")


def _check_reference(item: CompiledItem, value: Mapping[str, Any], fail: _Fail) -> None:
    reference = value.get("reference")
    kind = value.get("type") if isinstance(value.get("type"), str) else None
    if isinstance(reference, str):
        ok, target = reference_target(reference)
        if not ok:
            fail(f"'{reference}' is not a valid reference")
            return
        kind = target or kind
    if item.reference_types is not None and kind is not None and kind not in item.reference_types:
        fail(f"a reference to {kind} is not allowed (only {', '.join(sorted(item.reference_types))})")


def _check_units(
    item: CompiledItem, value: Mapping[str, Any], path: str, issues: list[Issue], fail: _Fail
) -> None:
    system, code = value.get("system"), value.get("code")
    if item.unit_options is not None and (system, code) not in item.unit_options:
        fail(f"unit {code or value.get('unit')} is not one of the unit options")
    if item.unit_value_set:
        issues.append(
            terminology_check(
                "unit-value-set",
                f"is unit {system or ''}|{code or value.get('unit') or ''} in {item.unit_value_set}"
                f" (item '{item.link_id}')?",
                path,
                item.unit_value_set,
                value,
            )
        )


def _show(key: str, value: Any) -> str:
    if key == "valueCoding" and isinstance(value, Mapping):
        return f"{value.get('system') or ''}|{value.get('code') or ''}"
    if key == "valueReference" and isinstance(value, Mapping):
        return str(value.get("reference"))
    return repr(value) if isinstance(value, str) else str(value)


def _show_comparable(value: Comparable) -> str:
    kind, inner = value
    if kind == "quantity":
        return str(inner.label)
    if kind == "temporal":
        return "-".join(f"{part:02d}" for part in inner[:3]) + ("T…" if len(inner) > 3 else "")
    if kind == "time":
        return ":".join(f"{part:02d}" for part in inner[:3])
    if kind == "number" and float(inner).is_integer():
        return str(int(inner))
    return str(inner)
