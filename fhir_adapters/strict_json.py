"""Strict FHIR R4 JSON checks for a QuestionnaireResponse, before (or instead of) ``fhir.resources``.

``fhir.resources`` coerces (``"valueBoolean": "yes"`` becomes ``true``) and does not enforce required
bindings (``"status": "bogus"`` passes). This walker holds JSON to the FHIR JSON rules for every element a
QuestionnaireResponse may carry: JSON types, primitive formats, required bindings, no unknown properties,
no empty strings, arrays or objects, no nulls except in primitive arrays paired with ``_x`` extensions,
exactly one ``value[x]``. Contained resources and the rarer extension value types are only checked to be
non-empty objects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from fhir_adapters.operation_outcome import Issue, echo
from fhir_adapters.sdc.primitives import (
    CODE_RE,
    ID_RE,
    base64_length,
    is_canonical,
    is_date,
    is_date_time,
    is_instant,
    is_integer,
    is_number,
    is_time,
    is_uri,
)

Problem = tuple[str, str] | None  # (issue code, message)


def _string(value: Any) -> Problem:
    if not isinstance(value, str):
        return ("structure", "must be a JSON string")
    return None if value else ("value", "must not be an empty string")


def _text_format(check: Callable[[str], bool], what: str) -> Callable[[Any], Problem]:
    def checker(value: Any) -> Problem:
        if not isinstance(value, str):
            return ("structure", "must be a JSON string")
        return None if check(value) else ("value", f"{echo(value)} is not a valid {what}")

    return checker


def _boolean(value: Any) -> Problem:
    return None if isinstance(value, bool) else ("structure", "must be a JSON boolean (true or false)")


def _integer(value: Any) -> Problem:
    return None if is_integer(value) else ("structure", "must be a JSON integer (32-bit)")


def _unsigned(value: Any) -> Problem:
    return None if is_integer(value) and value >= 0 else ("structure", "must be a JSON integer >= 0")


def _positive(value: Any) -> Problem:
    return None if is_integer(value) and value > 0 else ("structure", "must be a JSON integer > 0")


def _decimal(value: Any) -> Problem:
    return None if is_number(value) else ("structure", "must be a JSON number")


PRIMITIVES: dict[str, Callable[[Any], Problem]] = {
    "boolean": _boolean,
    "integer": _integer,
    "unsignedInt": _unsigned,
    "positiveInt": _positive,
    "decimal": _decimal,
    "string": _string,
    "markdown": _string,
    "xhtml": _string,
    "uri": _text_format(is_uri, "URI"),
    "url": _text_format(is_uri, "URL"),
    "canonical": _text_format(is_canonical, "canonical URL"),
    "oid": _text_format(is_uri, "OID"),
    "uuid": _text_format(is_uri, "UUID"),
    "code": _text_format(lambda v: CODE_RE.fullmatch(v) is not None, "code"),
    "id": _text_format(lambda v: ID_RE.fullmatch(v) is not None, "id"),
    "date": _text_format(is_date, "date"),
    "dateTime": _text_format(is_date_time, "dateTime"),
    "instant": _text_format(is_instant, "instant"),
    "time": _text_format(is_time, "time"),
    "base64Binary": _text_format(lambda v: base64_length(v) is not None, "base64Binary"),
}


class Prop(NamedTuple):
    type: str
    many: bool = False
    required: bool = False
    choice: str | None = None  # the value[x] group this key belongs to
    codes: frozenset[str] | None = None  # a required binding

    @property
    def primitive(self) -> bool:
        return self.type in PRIMITIVES


def _props(base: dict[str, Prop], **more: Prop) -> dict[str, Prop]:
    return {**base, **more}


def _choice(group: str, types: str) -> dict[str, Prop]:
    return {group + t[0].upper() + t[1:]: Prop(t, choice=group) for t in types.split()}


_ELEMENT = {"id": Prop("string"), "extension": Prop("Extension", many=True)}
_BACKBONE = _props(_ELEMENT, modifierExtension=Prop("Extension", many=True))
_QUANTITY = _props(
    _ELEMENT,
    value=Prop("decimal"),
    comparator=Prop("code", codes=frozenset({"<", "<=", ">=", ">"})),
    unit=Prop("string"),
    system=Prop("uri"),
    code=Prop("code"),
)
_PRIMITIVE_TYPES = (
    "base64Binary boolean canonical code date dateTime decimal id instant integer markdown oid positiveInt "
    "string time unsignedInt uri url uuid"
)
_MODELLED = (
    "Attachment CodeableConcept Coding Identifier Period Quantity Reference Meta Age Count Distance Duration"
)
_OPAQUE = (
    "Address Annotation ContactPoint HumanName Money Range Ratio SampledData Signature Timing ContactDetail "
    "Contributor DataRequirement Expression ParameterDefinition RelatedArtifact TriggerDefinition "
    "UsageContext Dosage"
)

TYPES: dict[str, dict[str, Prop]] = {
    "Element": _ELEMENT,  # what a primitive's ``_x`` object may hold
    "Extension": _props(
        _ELEMENT,
        url=Prop("uri", required=True),
        **_choice("value", f"{_PRIMITIVE_TYPES} {_MODELLED} {_OPAQUE}"),
    ),
    "Coding": _props(
        _ELEMENT,
        system=Prop("uri"),
        version=Prop("string"),
        code=Prop("code"),
        display=Prop("string"),
        userSelected=Prop("boolean"),
    ),
    "CodeableConcept": _props(_ELEMENT, coding=Prop("Coding", many=True), text=Prop("string")),
    "Period": _props(_ELEMENT, start=Prop("dateTime"), end=Prop("dateTime")),
    "Identifier": _props(
        _ELEMENT,
        use=Prop("code", codes=frozenset({"usual", "official", "temp", "secondary", "old"})),
        type=Prop("CodeableConcept"),
        system=Prop("uri"),
        value=Prop("string"),
        period=Prop("Period"),
        assigner=Prop("Reference"),
    ),
    "Reference": _props(
        _ELEMENT,
        reference=Prop("string"),
        type=Prop("uri"),
        identifier=Prop("Identifier"),
        display=Prop("string"),
    ),
    "Quantity": _QUANTITY,
    "Age": _QUANTITY,
    "Count": _QUANTITY,
    "Distance": _QUANTITY,
    "Duration": _QUANTITY,
    "Attachment": _props(
        _ELEMENT,
        contentType=Prop("code"),
        language=Prop("code"),
        data=Prop("base64Binary"),
        url=Prop("url"),
        size=Prop("unsignedInt"),
        hash=Prop("base64Binary"),
        title=Prop("string"),
        creation=Prop("dateTime"),
    ),
    "Meta": _props(
        _ELEMENT,
        versionId=Prop("id"),
        lastUpdated=Prop("instant"),
        source=Prop("uri"),
        profile=Prop("canonical", many=True),
        security=Prop("Coding", many=True),
        tag=Prop("Coding", many=True),
    ),
    "Narrative": _props(
        _ELEMENT,
        status=Prop(
            "code", required=True, codes=frozenset({"generated", "extensions", "additional", "empty"})
        ),
        div=Prop("xhtml", required=True),
    ),
    "QuestionnaireResponse": _props(
        _BACKBONE,
        id=Prop("id"),
        meta=Prop("Meta"),
        implicitRules=Prop("uri"),
        language=Prop("code"),
        text=Prop("Narrative"),
        contained=Prop("Resource", many=True),
        identifier=Prop("Identifier"),
        basedOn=Prop("Reference", many=True),
        partOf=Prop("Reference", many=True),
        questionnaire=Prop("canonical"),
        status=Prop(
            "code",
            required=True,
            codes=frozenset({"in-progress", "completed", "amended", "entered-in-error", "stopped"}),
        ),
        subject=Prop("Reference"),
        encounter=Prop("Reference"),
        authored=Prop("dateTime"),
        author=Prop("Reference"),
        source=Prop("Reference"),
        item=Prop("QuestionnaireResponse.item", many=True),
    ),
    "QuestionnaireResponse.item": _props(
        _BACKBONE,
        linkId=Prop("string", required=True),
        definition=Prop("uri"),
        text=Prop("string"),
        answer=Prop("QuestionnaireResponse.item.answer", many=True),
        item=Prop("QuestionnaireResponse.item", many=True),
    ),
    "QuestionnaireResponse.item.answer": _props(
        _BACKBONE,
        item=Prop("QuestionnaireResponse.item", many=True),
        **_choice(
            "value",
            "boolean decimal integer date dateTime time string uri Attachment Coding Quantity Reference",
        ),
    ),
}
for _name in _OPAQUE.split():
    TYPES.setdefault(_name, {})
_REQUIRED = {name: tuple(key for key, prop in spec.items() if prop.required) for name, spec in TYPES.items()}


def check_questionnaire_response_json(data: Any) -> list[Issue]:
    """Every way ``data`` breaks the FHIR R4 JSON rules for a QuestionnaireResponse (empty when none)."""
    walker = _Walker()
    if not isinstance(data, Mapping):
        walker.fail("structure", "A resource must be a JSON object", "QuestionnaireResponse")
    elif data.get("resourceType") != "QuestionnaireResponse":
        walker.fail(
            "structure", "resourceType must be QuestionnaireResponse", "QuestionnaireResponse.resourceType"
        )
    else:
        walker.object(data, "QuestionnaireResponse", "QuestionnaireResponse", resource=True)
    return walker.issues


def check_json(data: Any, type_name: str, path: str) -> list[Issue]:
    """The same checks for one element of a type in ``TYPES`` or ``PRIMITIVES`` (a Coding, a Reference...)."""
    walker = _Walker()
    walker.value(data, type_name, path)
    return walker.issues


class _Walker:
    def __init__(self) -> None:
        self.issues: list[Issue] = []

    def fail(self, code: str, message: str, path: str) -> None:
        self.issues.append(Issue("error", code, message, path))

    def value(self, value: Any, type_name: str, path: str, codes: frozenset[str] | None = None) -> None:
        check = PRIMITIVES.get(type_name)
        if check is not None:
            problem = check(value)
            if problem is not None:
                self.fail(problem[0], f"{type_name} {problem[1]}", path)
            elif codes is not None and value not in codes:
                self.fail("code-invalid", f"{echo(value)} is not one of {', '.join(sorted(codes))}", path)
        elif type_name == "Resource":
            if not isinstance(value, Mapping) or not isinstance(value.get("resourceType"), str):
                self.fail("structure", "A contained resource must be an object with a resourceType", path)
        else:
            self.object(value, type_name, path)

    def object(self, data: Any, type_name: str, path: str, resource: bool = False) -> None:
        if type(data) is not dict and not isinstance(data, Mapping):  # the exact check first: abc is slow
            self.fail("structure", f"{type_name} must be a JSON object", path)
            return
        if not data:
            self.fail("value", "Empty objects are not allowed", path)
            return
        spec = TYPES[type_name]
        if not spec:
            return  # a datatype we only check for shape
        chosen: dict[str, str] = {}
        for key, value in data.items():
            if key[:1] == "_":
                prop = spec.get(key[1:])
                if prop is None or not prop.primitive:
                    self.fail("structure", f"Unknown property {key}", f"{path}.{key}")
                    continue
                self._primitive_extension(value, prop, data.get(key[1:]), f"{path}.{key[1:]}")
                key = key[1:]
            else:
                prop = spec.get(key)
                if prop is None:
                    if not (resource and key == "resourceType"):
                        self.fail("structure", f"Unknown property {key}", f"{path}.{key}")
                    continue
                self._property(value, prop, data.get("_" + key), f"{path}.{key}")
            if prop.choice is not None:
                if chosen.get(prop.choice, key) != key:
                    self.fail("structure", f"Only one {prop.choice}[x] is allowed", f"{path}.{key}")
                chosen[prop.choice] = key
        for key in _REQUIRED[type_name]:
            if key not in data and "_" + key not in data:
                self.fail("required", f"{key} is required", f"{path}.{key}")
        if type_name == "Extension" and ("value" in chosen) == ("extension" in data):
            self.fail(
                "structure", "An extension has either a value[x] or extensions, not both or neither", path
            )
        elif type_name == "QuestionnaireResponse.item" and "answer" in data and "item" in data:
            self.fail("structure", "An item nests items under item or under answer, not both (qrs-1)", path)

    def _property(self, value: Any, prop: Prop, extension: Any, path: str) -> None:
        if not prop.many:
            if isinstance(value, list):
                self.fail("structure", "must be a single value, not an array", path)
            elif value is None:
                self.fail("structure", "null is not allowed", path)
            else:
                self.value(value, prop.type, path, prop.codes)
            return
        if not isinstance(value, list):
            self.fail("structure", "must be an array", path)
            return
        if not value:
            self.fail("value", "Empty arrays are not allowed", path)
            return
        paired = extension if prop.primitive and isinstance(extension, list) else None
        for index, entry in enumerate(value):
            if entry is None:
                if paired is None or index >= len(paired) or paired[index] is None:
                    self.fail(
                        "structure", "null is only allowed where _x holds an extension", f"{path}[{index}]"
                    )
            else:
                self.value(entry, prop.type, f"{path}[{index}]", prop.codes)

    def _primitive_extension(self, value: Any, prop: Prop, primitive: Any, path: str) -> None:
        if not prop.many:
            if isinstance(value, list):
                self.fail("structure", "must be a single object", path)
            else:
                self.object(value, "Element", path)
            return
        if not isinstance(value, list) or (isinstance(primitive, list) and len(primitive) != len(value)):
            self.fail("structure", "_x must be an array as long as its primitive array", path)
            return
        for index, entry in enumerate(value):
            if entry is not None:
                self.object(entry, "Element", f"{path}[{index}]")
