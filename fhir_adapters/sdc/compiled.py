"""A Questionnaire turned into an index once, so validating each response is a dictionary walk.

Compile when the Questionnaire is loaded (``compile_questionnaire``) and keep the result: it is immutable in
use and holds pre-parsed limits, option sets, compiled regexes and enableWhen conditions.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from fhir_adapters.operation_outcome import Issue
from fhir_adapters.sdc.primitives import is_number, temporal_key
from fhir_adapters.vocabulary import (
    ENABLE_WHEN_OPERATORS,
    EXT_CONSTRAINT,
    EXT_ENABLE_WHEN_EXPRESSION,
    EXT_MAX_DECIMAL_PLACES,
    EXT_MAX_OCCURS,
    EXT_MAX_QUANTITY,
    EXT_MAX_SIZE,
    EXT_MAX_VALUE,
    EXT_MIME_TYPE,
    EXT_MIN_LENGTH,
    EXT_MIN_OCCURS,
    EXT_MIN_QUANTITY,
    EXT_MIN_VALUE,
    EXT_OPTION_EXCLUSIVE,
    EXT_REFERENCE_RESOURCE,
    EXT_REGEX,
    EXT_UNIT_OPTION,
    EXT_UNIT_VALUE_SET,
)

# Answer value[x] keys each R4 item type accepts (before answerOption widens choice / open-choice).
VALUE_KEYS: dict[str, frozenset[str]] = {
    "boolean": frozenset({"valueBoolean"}),
    "decimal": frozenset({"valueDecimal"}),
    "integer": frozenset({"valueInteger"}),
    "date": frozenset({"valueDate"}),
    "dateTime": frozenset({"valueDateTime"}),
    "time": frozenset({"valueTime"}),
    "string": frozenset({"valueString"}),
    "text": frozenset({"valueString"}),
    "url": frozenset({"valueUri"}),
    "choice": frozenset({"valueCoding"}),
    "open-choice": frozenset({"valueCoding", "valueString"}),
    "attachment": frozenset({"valueAttachment"}),
    "reference": frozenset({"valueReference"}),
    "quantity": frozenset({"valueQuantity"}),
    "group": frozenset(),
    "display": frozenset(),
}
OPERATORS = frozenset(ENABLE_WHEN_OPERATORS)

# A comparable form of a value: ("number", float) ("temporal", tuple) ("time", tuple) ("string", str)
# ("boolean", bool) ("coding", (system, code)) ("reference", str) ("quantity", Quantity).
Comparable = tuple[str, Any]


@dataclass(frozen=True, slots=True)
class Quantity:
    value: Decimal
    system: str | None
    code: str | None
    unit: str | None

    @property
    def label(self) -> str:
        return f"{self.value} {self.unit or self.code or ''}".strip()


def quantity_of(data: Any) -> Quantity | None:
    if not isinstance(data, Mapping) or not is_number(data.get("value")):
        return None
    return Quantity(Decimal(str(data["value"])), data.get("system"), data.get("code"), data.get("unit"))


def comparable(key: str, value: Any) -> Comparable | None:
    """The comparable form of an answer (``valueX``) or enableWhen (``answerX``) value; None if malformed."""
    kind = key[6:] if key.startswith("answer") else key[5:]
    if kind == "Boolean":
        return ("boolean", value) if isinstance(value, bool) else None
    if kind in ("Integer", "Decimal"):
        return ("number", float(value)) if is_number(value) else None
    if kind in ("Date", "DateTime"):
        parts = temporal_key(value) if isinstance(value, str) else None
        return None if parts is None else ("temporal", parts)
    if kind == "Time":
        parts = temporal_key(value) if isinstance(value, str) and ":" in value else None
        return None if parts is None else ("time", parts)
    if kind in ("String", "Uri"):
        return ("string", value) if isinstance(value, str) else None
    if kind == "Coding":
        return ("coding", (value.get("system"), value.get("code"))) if isinstance(value, Mapping) else None
    if kind == "Reference":
        return ("reference", value.get("reference")) if isinstance(value, Mapping) else None
    if kind == "Quantity":
        quantity = quantity_of(value)
        return None if quantity is None else ("quantity", quantity)
    return None


@dataclass(frozen=True, slots=True)
class Condition:
    question: str
    operator: str
    expected: Comparable | None


@dataclass(eq=False, slots=True)
class CompiledItem:
    link_id: str
    type: str
    path: str
    text: str | None = None
    required: bool = False
    repeats: bool = False
    problem: str | None = None
    children: tuple[CompiledItem, ...] = ()
    child_order: dict[str, int] = field(default_factory=dict)
    conditions: tuple[Condition, ...] = ()
    enable_all: bool = False
    enable_unknown: bool = False
    value_keys: frozenset[str] = frozenset()
    options: frozenset[Hashable] | None = None
    option_codes: frozenset[str] = frozenset()
    exclusive: frozenset[Hashable] = frozenset()
    value_set: str | None = None
    value_set_codes: frozenset[Hashable] | None = None
    min_value: Comparable | None = None
    max_value: Comparable | None = None
    min_length: int | None = None
    max_length: int | None = None
    regex: re.Pattern[str] | None = None
    max_places: int | None = None
    min_occurs: int | None = None
    max_occurs: int | None = None
    mime_types: frozenset[str] | None = None
    max_size: float | None = None
    reference_types: frozenset[str] | None = None
    unit_options: frozenset[tuple[str | None, str | None]] | None = None
    unit_value_set: str | None = None
    checks_values: bool = False

    @property
    def is_group(self) -> bool:
        return self.type == "group"


@dataclass(eq=False, slots=True)
class CompiledQuestionnaire:
    url: str | None
    version: str | None
    status: str | None
    effective_start: tuple[int, ...] | None
    effective_end: tuple[int, ...] | None
    items: tuple[CompiledItem, ...]
    child_order: dict[str, int]
    by_link_id: dict[str, CompiledItem]
    parent_of: dict[str, CompiledItem | None]
    issues: tuple[Issue, ...]
    has_conditions: bool


def option_key(key: str, value: Any) -> Hashable | None:
    """How an answerOption value and an answer value are matched: Codings by system and code."""
    if key == "valueCoding":
        return ("coding", value.get("system"), value.get("code")) if isinstance(value, Mapping) else None
    if key == "valueReference":
        return ("reference", value.get("reference")) if isinstance(value, Mapping) else None
    if key == "valueInteger" and type(value) is int:
        return ("integer", value)
    if key in ("valueString", "valueDate", "valueTime") and isinstance(value, str):
        return (key, value)
    return None


class _Compiler:
    def __init__(self, questionnaire: Mapping[str, Any]) -> None:
        self.issues: list[Issue] = []
        self.by_link_id: dict[str, CompiledItem] = {}
        self.parent_of: dict[str, CompiledItem | None] = {}
        self.value_sets = _contained_value_sets(questionnaire)
        self.has_conditions = False

    def warn(self, path: str, message: str, code: str = "not-supported") -> None:
        self.issues.append(Issue("warning", code, message, path))

    def error(self, path: str, message: str) -> None:
        self.issues.append(Issue("error", "invalid", message, path))

    def items(self, raw: Any, path: str, parent: CompiledItem | None) -> tuple[CompiledItem, ...]:
        if not isinstance(raw, list):
            return ()
        compiled = []
        for index, data in enumerate(raw):
            if isinstance(data, Mapping):
                compiled.append(self.item(data, f"{path}.item[{index}]", parent))
        return tuple(compiled)

    def item(self, data: Mapping[str, Any], path: str, parent: CompiledItem | None) -> CompiledItem:
        link_id = data.get("linkId")
        item_type = data.get("type")
        item = CompiledItem(
            link_id=link_id if isinstance(link_id, str) else "",
            type=item_type if isinstance(item_type, str) else "",
            path=path,
            text=data.get("text") if isinstance(data.get("text"), str) else None,
            required=data.get("required") is True,
            repeats=data.get("repeats") is True,
        )
        if not item.link_id:
            self.error(path, "Questionnaire item has no linkId")
        elif item.link_id in self.by_link_id:
            self.error(path, f"Questionnaire linkId '{item.link_id}' is used more than once")
        else:
            self.by_link_id[item.link_id] = item
            self.parent_of[item.link_id] = parent
        keys = VALUE_KEYS.get(item.type)
        if keys is None:
            kind = "abstract" if item.type == "question" else "unknown"
            item.problem = f"Questionnaire item '{item.link_id}' has {kind} type '{item.type}'"
            keys = frozenset()
        item.value_keys = keys
        self.options(item, data.get("answerOption"))
        answer_value_set = data.get("answerValueSet")
        if isinstance(answer_value_set, str):
            item.value_set = answer_value_set
            item.value_set_codes = self.value_sets.get(answer_value_set)
        if type(data.get("maxLength")) is int:
            item.max_length = data["maxLength"]
        self.extensions(item, data.get("extension"))
        self.conditions(item, data)
        item.children = self.items(data.get("item"), path, item)
        item.child_order = {child.link_id: position for position, child in enumerate(item.children)}
        item.checks_values = bool(
            item.options is not None
            or item.value_set
            or item.min_value
            or item.max_value
            or item.min_length is not None
            or item.max_length is not None
            or item.regex
            or item.max_places is not None
            or item.mime_types is not None
            or item.max_size is not None
            or item.reference_types is not None
            or item.unit_options is not None
            or item.unit_value_set
            or item.type in ("string", "url", "attachment", "reference")
        )
        return item

    def options(self, item: CompiledItem, raw: Any) -> None:
        if not isinstance(raw, list):
            return
        keys: set[Hashable] = set()
        exclusive: set[Hashable] = set()
        kinds: set[str] = set()
        for option in raw:
            if not isinstance(option, Mapping):
                continue
            for name, value in option.items():
                key = option_key(name, value) if name.startswith("value") else None
                if key is None:
                    continue
                kinds.add(name)
                keys.add(key)
                if any(
                    isinstance(ext, Mapping)
                    and ext.get("url") == EXT_OPTION_EXCLUSIVE
                    and ext.get("valueBoolean")
                    for ext in _list(option.get("extension"))
                ):
                    exclusive.add(key)
        item.options = frozenset(keys)
        item.option_codes = frozenset(key[2] for key in keys if isinstance(key, tuple) and key[0] == "coding")
        item.exclusive = frozenset(exclusive)
        if item.type == "choice" and kinds:
            item.value_keys = frozenset(kinds)
        elif item.type == "open-choice" and kinds:
            item.value_keys = frozenset(kinds | {"valueString"})

    def extensions(self, item: CompiledItem, raw: Any) -> None:
        if not isinstance(raw, list):
            return
        for ext in raw:
            if not isinstance(ext, Mapping):
                continue
            url = ext.get("url")
            value_key = next((key for key in ext if key.startswith("value")), None)
            value = ext.get(value_key) if value_key else None
            if url in (EXT_MIN_VALUE, EXT_MAX_VALUE, EXT_MIN_QUANTITY, EXT_MAX_QUANTITY) and value_key:
                bound = comparable(value_key, value)
                if url in (EXT_MIN_VALUE, EXT_MIN_QUANTITY):
                    item.min_value = bound
                else:
                    item.max_value = bound
            elif url == EXT_MIN_LENGTH and type(value) is int:
                item.min_length = value
            elif url == EXT_MAX_DECIMAL_PLACES and type(value) is int:
                item.max_places = value
            elif url == EXT_MIN_OCCURS and type(value) is int:
                item.min_occurs = value
            elif url == EXT_MAX_OCCURS and type(value) is int:
                item.max_occurs = value
            elif url == EXT_REGEX and isinstance(value, str):
                try:
                    item.regex = re.compile(value)
                except re.error as exc:
                    self.warn(item.path, f"regex of item '{item.link_id}' cannot be used: {exc}")
            elif url == EXT_MIME_TYPE and isinstance(value, str):
                item.mime_types = (item.mime_types or frozenset()) | {value}
            elif url == EXT_MAX_SIZE and value is not None and is_number(value):
                item.max_size = float(value)
            elif url == EXT_REFERENCE_RESOURCE and isinstance(value, str):
                item.reference_types = (item.reference_types or frozenset()) | {value}
            elif url == EXT_UNIT_OPTION and isinstance(value, Mapping):
                unit = (value.get("system"), value.get("code"))
                item.unit_options = (item.unit_options or frozenset()) | {unit}
            elif url == EXT_UNIT_VALUE_SET and isinstance(value, str):
                item.unit_value_set = value
            elif url == EXT_CONSTRAINT:
                self.warn(item.path, f"FHIRPath constraint on item '{item.link_id}' was not evaluated")
            elif url == EXT_ENABLE_WHEN_EXPRESSION:
                item.enable_unknown = True
                self.warn(item.path, f"enableWhenExpression of item '{item.link_id}' was not evaluated")

    def conditions(self, item: CompiledItem, data: Mapping[str, Any]) -> None:
        raw = data.get("enableWhen")
        if not isinstance(raw, list) or not raw:
            return
        self.has_conditions = True
        item.enable_all = data.get("enableBehavior") == "all"
        conditions = []
        for index, condition in enumerate(raw):
            path = f"{item.path}.enableWhen[{index}]"
            question = condition.get("question") if isinstance(condition, Mapping) else None
            operator = condition.get("operator") if isinstance(condition, Mapping) else None
            answer_key = next((k for k in condition if k.startswith("answer")), None) if question else None
            expected = comparable(answer_key, condition[answer_key]) if answer_key else None
            if not isinstance(question, str) or operator not in OPERATORS or expected is None:
                self.warn(path, f"enableWhen of item '{item.link_id}' cannot be evaluated", "invalid")
                item.enable_unknown = True
                continue
            if operator == "exists" and expected[0] != "boolean":
                self.warn(
                    path, f"enableWhen 'exists' of item '{item.link_id}' needs answerBoolean", "invalid"
                )
                item.enable_unknown = True
                continue
            conditions.append(Condition(question, operator, expected))
        item.conditions = tuple(conditions)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _contained_value_sets(questionnaire: Mapping[str, Any]) -> dict[str, frozenset[Hashable]]:
    """Contained ValueSets that enumerate their codes, keyed ``#id``: these bindings need no server."""
    found: dict[str, frozenset[Hashable]] = {}
    contained = questionnaire.get("contained")
    for resource in contained if isinstance(contained, list) else ():
        if not isinstance(resource, Mapping) or resource.get("resourceType") != "ValueSet":
            continue
        codes = _enumerated_codes(resource)
        if codes is not None and isinstance(resource.get("id"), str):
            found["#" + resource["id"]] = codes
    return found


def _enumerated_codes(value_set: Mapping[str, Any]) -> frozenset[Hashable] | None:
    expansion = value_set.get("expansion")
    if isinstance(expansion, Mapping) and isinstance(expansion.get("contains"), list):
        return frozenset(
            ("coding", c.get("system"), c.get("code"))
            for c in expansion["contains"]
            if isinstance(c, Mapping)
        )
    compose = value_set.get("compose")
    if (
        not isinstance(compose, Mapping)
        or compose.get("exclude")
        or not isinstance(compose.get("include"), list)
    ):
        return None
    codes: set[Hashable] = set()
    for include in compose["include"]:
        concepts = include.get("concept") if isinstance(include, Mapping) else None
        if not isinstance(concepts, list) or include.get("filter") or include.get("valueSet"):
            return None
        codes.update(
            ("coding", include.get("system"), c.get("code")) for c in concepts if isinstance(c, Mapping)
        )
    return frozenset(codes)


def compile_questionnaire(questionnaire: Mapping[str, Any]) -> CompiledQuestionnaire:
    """Index a Questionnaire (JSON) for repeated validation; problems in it become ``issues``."""
    compiler = _Compiler(questionnaire)
    items = compiler.items(questionnaire.get("item"), "Questionnaire", None)
    period = questionnaire.get("effectivePeriod")
    start = end = None
    if isinstance(period, Mapping):
        start = temporal_key(period["start"]) if isinstance(period.get("start"), str) else None
        end = temporal_key(period["end"]) if isinstance(period.get("end"), str) else None
    for link_id, item in compiler.by_link_id.items():
        for condition in item.conditions:
            if condition.question not in compiler.by_link_id:
                compiler.warn(
                    item.path,
                    f"enableWhen of '{link_id}' refers to unknown '{condition.question}'",
                    "invalid",
                )
    url, version, status = (questionnaire.get(key) for key in ("url", "version", "status"))
    return CompiledQuestionnaire(
        url=url if isinstance(url, str) else None,
        version=version if isinstance(version, str) else None,
        status=status if isinstance(status, str) else None,
        effective_start=start,
        effective_end=end,
        items=items,
        child_order={item.link_id: position for position, item in enumerate(items)},
        by_link_id=compiler.by_link_id,
        parent_of=compiler.parent_of,
        issues=tuple(compiler.issues),
        has_conditions=compiler.has_conditions,
    )
