"""The extensions Careloop defines, as R4 ``StructureDefinition`` resources served at their URLs
(``{base}/StructureDefinition/<id>``; decision 0003): what each means, where it goes, and its parts.

Each is written once here as data (:class:`ExtensionDefinition`, its sub-extensions as :class:`Part`) and
turned into a StructureDefinition (kind ``complex-type``, type ``Extension``, derivation ``constraint``) with
a differential that fixes ``Extension.url`` and types ``value[x]``, or slices ``Extension.extension`` by url
for a complex one. A test holds them to what the Questionnaires carry: a new extension without a
definition here fails it.

``version`` is the definition's own: change it with the definition (a new part, a new meaning).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from fhir_adapters.questionnaire import EXT_ANCHOR, EXT_SOURCE, EXT_TIMEZONE
from fhir_adapters.questionnaire_rules import (
    EXT_CALENDAR,
    EXT_COMPLIANCE,
    EXT_COMPOSITE,
    EXT_FOLLOW_UP,
    EXT_POPULATION,
)
from fhir_adapters.vocabulary import CARELOOP_EXTENSION_BASE, ENABLE_WHEN_OPERATORS

EXTENSION_BASE_DEFINITION = "http://hl7.org/fhir/StructureDefinition/Extension"
#: When these definitions last changed (StructureDefinition.date).
DEFINED = "2026-11-26"
#: The types an answer (and so a compliance answer or a condition's value) can take.
ANSWER_TYPES = ("boolean", "decimal", "integer", "date", "dateTime", "string", "Coding")
_OPERATORS = " | ".join(ENABLE_WHEN_OPERATORS)


@dataclass(frozen=True)
class Part:
    """One sub-extension (``Extension.extension`` slice, by its relative ``url``): a value of ``types``,
    or, with ``parts``, a complex extension itself."""

    url: str
    short: str
    types: tuple[str, ...] = ()
    parts: tuple[Part, ...] = ()
    min: int = 0
    max: str = "1"


@dataclass(frozen=True)
class ExtensionDefinition:
    url: str
    name: str
    title: str
    description: str
    #: FHIRPath of the elements it may be put on (``StructureDefinition.context``, type element).
    context: tuple[str, ...]
    types: tuple[str, ...] = ()
    parts: tuple[Part, ...] = ()
    #: How many times it may appear on one element.
    max: str = "1"
    version: str = "1.0.0"

    @property
    def id(self) -> str:
        return self.url.rsplit("/", 1)[1]


_CONDITION = (
    Part("question", "linkId of the item whose answer is looked at", ("string",), min=1),
    Part("operator", f"{_OPERATORS} (as Questionnaire.item.enableWhen.operator)", ("code",), min=1),
    Part(
        "answer",
        "The value compared with the item's answer; for exists, whether it has an answer",
        ANSWER_TYPES,
        min=1,
    ),
)


def _conditions(url: str, short: str, *, first: tuple[Part, ...] = ()) -> tuple[Part, ...]:
    """The parts of a condition list; as a Part named ``url`` unless ``url`` is empty (the root's)."""
    parts = (
        *first,
        Part("behavior", "all | any: every condition must hold, or one is enough", ("code",), min=1),
        Part("condition", "One condition", parts=_CONDITION, min=1, max="*"),
        Part(
            "expression",
            "The same conditions as one FHIRPath expression (text/fhirpath) on the QuestionnaireResponse",
            ("Expression",),
            min=1,
        ),
    )
    return (Part(url, short, parts=parts),) if url else parts


_COMPARISON = (
    Part("operator", "= | != | > | < | >= | <=", ("code",), min=1),
    Part("value", "The number compared with", ("decimal",), min=1),
)
_TIMING = (
    Part("id", "Names the rule in composites and reports", ("id",)),
    Part("title", "How reports name the rule", ("string",)),
    Part(
        "event",
        "linkId of the date or dateTime item judged (default: the item carrying the rule)",
        ("string",),
    ),
    Part("from", "linkId of the date or dateTime answer (or the anchor) that opens the window", ("string",)),
    Part(
        "before", "linkId of the date or dateTime answer the event must come before (an order)", ("string",)
    ),
    Part("withinHours", "Upper bound: within this many elapsed hours of the start", ("decimal",)),
    Part(
        "byEndOfDay", "Upper bound: by the end of the N-th calendar day after the start's date", ("integer",)
    ),
    Part(
        "withinWorkingDays", "Upper bound: by the end of the N-th working day after the start", ("integer",)
    ),
    Part("afterHours", "Lower bound: at least this many elapsed hours after the start", ("decimal",)),
    Part(
        "fromDay", "Lower bound: not before the start of the N-th calendar day after the start", ("integer",)
    ),
    *_conditions("appliesWhen", "The rule applies only when these conditions hold"),
)

DEFINITIONS: tuple[ExtensionDefinition, ...] = (
    ExtensionDefinition(
        EXT_ANCHOR,
        "CareBundleAnchor",
        "Care bundle anchor",
        "The linkId of the item holding the event a care bundle is timed from (e.g. the time of birth, or of "
        "arrival): every timing rule that starts at the anchor counts from its answer. It is the first item "
        "and always required.",
        ("Questionnaire",),
        ("string",),
    ),
    ExtensionDefinition(
        EXT_TIMEZONE,
        "CareBundleTimezone",
        "Care bundle time zone",
        "The IANA time zone (e.g. Europe/London) in which the care bundle's calendar-day and working-day "
        "rules count days, and in which its date-times are written.",
        ("Questionnaire",),
        ("code",),
    ),
    ExtensionDefinition(
        EXT_CALENDAR,
        "CareBundleWorkingDayCalendar",
        "Care bundle working-day calendar",
        "Whose bank holidays a within-working-days timing rule skips: england-and-wales or scotland. Present "
        "only when the care bundle has such a rule.",
        ("Questionnaire",),
        ("code",),
    ),
    ExtensionDefinition(
        EXT_SOURCE,
        "CareBundleSource",
        "Care bundle source",
        "A source of the care bundle's clinical content (a guideline, trial or audit standard): its id, "
        "citation, URL and notes on what it supports. Items name the sources they rest on in design notes.",
        ("Questionnaire",),
        parts=(
            Part("id", "How items refer to the source", ("string",), min=1),
            Part("citation", "Authors, title, journal or publisher, year", ("string",), min=1),
            Part("url", "Where the source is (e.g. its DOI as https://doi.org/...)", ("uri",)),
            Part("note", "What the source supports, and any unverified parts", ("string",), max="*"),
        ),
        max="*",
    ),
    ExtensionDefinition(
        EXT_COMPLIANCE,
        "CareBundleCompliance",
        "Care bundle compliance",
        "How an item's answer counts in compliance reports. It is met when everything given holds: an answer "
        "in met (or any answer, with recorded), inside atLeast and atMost, and within every timing rule that "
        "applies. An answer in exception, or an exceptionWhen condition that holds, makes it a documented "
        "exception; when appliesWhen does not hold it is not applicable. allOrNone false keeps it out of the "
        "default all-or-none composite.",
        ("Questionnaire.item",),
        parts=(
            Part("met", "An answer that meets the item", ANSWER_TYPES, max="*"),
            Part(
                "exception", "An answer that is a documented exception (e.g. declined)", ANSWER_TYPES, max="*"
            ),
            Part(
                "exceptionWhen",
                "A condition that, when it holds, makes the item a documented exception",
                parts=_CONDITION,
                max="*",
            ),
            *_conditions("appliesWhen", "The item is judged only when these conditions hold"),
            Part("atLeast", "Met only when the answer is at least this (inclusive)", ("decimal",)),
            Part("atMost", "Met only when the answer is at most this (inclusive)", ("decimal",)),
            Part("recorded", "true: any answer meets the item", ("boolean",)),
            Part(
                "allOrNone",
                "false: reported alone, not in the default composite (default true)",
                ("boolean",),
            ),
            Part(
                "timing",
                "A window (or an order) the item's date or date-time must fall in",
                parts=_TIMING,
                max="*",
            ),
        ),
    ),
    ExtensionDefinition(
        EXT_POPULATION,
        "CareBundlePopulation",
        "Care bundle population",
        "Whom the care bundle's measures count: a response whose answers do not meet these conditions is "
        "outside every denominator (every item and composite is not applicable).",
        ("Questionnaire",),
        parts=_conditions("", "", first=(Part("text", "The population in words", ("string",), min=1),)),
    ),
    ExtensionDefinition(
        EXT_COMPOSITE,
        "CareBundleComposite",
        "Care bundle composite",
        "A named all-or-none measure: met when every applicable member (an item with compliance, or a timing "
        "rule by its id) is met; outside the denominator when no member applies. The first is the headline "
        "result.",
        ("Questionnaire",),
        parts=(
            Part("id", "Names the composite in reports", ("id",), min=1),
            Part("title", "How reports name it", ("string",), min=1),
            Part("description", "What it is comparable with", ("markdown",)),
            Part(
                "member",
                "linkId of a compliance item, or the id of a timing rule",
                ("string",),
                min=1,
                max="*",
            ),
        ),
        max="*",
    ),
    ExtensionDefinition(
        EXT_FOLLOW_UP,
        "CareBundleFollowUp",
        "Care bundle follow-up measure",
        "A measure across one patient's responses to the care bundle, in anchor order: the first is the "
        "baseline, the follow-up the latest (or the latest between afterDays and withinDays after the "
        "baseline). population tests the baseline value; met the follow-up value, or change the follow-up "
        "minus the baseline.",
        ("Questionnaire",),
        parts=(
            Part("id", "Names the measure", ("id",), min=1),
            Part("title", "How reports name it", ("string",), min=1),
            Part("element", "linkId of the number item compared", ("string",), min=1),
            Part("population", "Who is counted: a test of the baseline value", parts=_COMPARISON),
            Part("met", "Met when the follow-up value passes this test", parts=_COMPARISON),
            Part("change", "Met when follow-up minus baseline passes this test", parts=_COMPARISON),
            Part("afterDays", "The follow-up window opens this many days after the baseline", ("integer",)),
            Part("withinDays", "The follow-up window closes this many days after the baseline", ("integer",)),
        ),
        max="*",
    ),
)
BY_ID: Mapping[str, ExtensionDefinition] = MappingProxyType({d.id: d for d in DEFINITIONS})
BY_URL: Mapping[str, ExtensionDefinition] = MappingProxyType({d.url: d for d in DEFINITIONS})


def structure_definition(definition: ExtensionDefinition) -> dict[str, Any]:
    """``definition`` as an R4 StructureDefinition (plain JSON)."""
    root = {
        "id": "Extension",
        "path": "Extension",
        "short": definition.title,
        "definition": definition.description,
        "min": 0,
        "max": definition.max,
    }
    return {
        "resourceType": "StructureDefinition",
        "id": definition.id,
        "url": definition.url,
        "version": definition.version,
        "name": definition.name,
        "title": definition.title,
        "status": "active",
        "date": DEFINED,
        "publisher": "Careloop",
        "description": definition.description,
        "fhirVersion": "4.0.1",
        "kind": "complex-type",
        "abstract": False,
        "context": [{"type": "element", "expression": where} for where in definition.context],
        "type": "Extension",
        "baseDefinition": EXTENSION_BASE_DEFINITION,
        "derivation": "constraint",
        "differential": {
            "element": [root, *_elements("Extension", definition.url, definition.types, definition.parts)]
        },
    }


def _elements(at: str, url: str, types: tuple[str, ...], parts: tuple[Part, ...]) -> list[dict[str, Any]]:
    """The differential below the element with id ``at``: its sub-extensions, ``url`` and ``value[x]``."""
    path = ".".join(step.split(":")[0] for step in at.split("."))
    elements: list[dict[str, Any]] = []
    if parts:
        elements.append(
            {
                "id": f"{at}.extension",
                "path": f"{path}.extension",
                "slicing": {"discriminator": [{"type": "value", "path": "url"}], "rules": "open"},
                "min": sum(part.min for part in parts),
            }
        )
        for part in parts:
            slice_id = f"{at}.extension:{part.url}"
            elements.append(
                {
                    "id": slice_id,
                    "path": f"{path}.extension",
                    "sliceName": part.url,
                    "short": part.short,
                    "definition": part.short,
                    "min": part.min,
                    "max": part.max,
                }
            )
            elements.extend(_elements(slice_id, part.url, part.types, part.parts))
    else:
        elements.append({"id": f"{at}.extension", "path": f"{path}.extension", "max": "0"})
    elements.append({"id": f"{at}.url", "path": f"{path}.url", "fixedUri": url})
    if parts:
        elements.append({"id": f"{at}.value[x]", "path": f"{path}.value[x]", "max": "0"})
    else:
        elements.append(
            {
                "id": f"{at}.value[x]",
                "path": f"{path}.value[x]",
                "min": 1,
                "type": [{"code": code} for code in types],
            }
        )
    return elements


def structure_definitions() -> list[dict[str, Any]]:
    """Every extension Careloop defines, as StructureDefinitions, in a fixed order."""
    return [structure_definition(definition) for definition in DEFINITIONS]


def extension_problems(resource: Mapping[str, Any]) -> list[str]:
    """How the extensions under :data:`CARELOOP_EXTENSION_BASE` anywhere in ``resource`` differ from their
    definitions: one not defined, or put where its context does not allow, or more often than allowed; a
    part or value type not defined; a part's cardinality broken. Empty when they all conform."""
    problems: list[str] = []

    def visit(node: Any, path: str) -> None:
        if isinstance(node, list):
            for value in node:
                visit(value, path)
        elif isinstance(node, Mapping):
            ours = [
                ext
                for ext in node.get("extension") or ()
                if isinstance(ext, Mapping)
                and str(ext.get("url", "")).startswith(f"{CARELOOP_EXTENSION_BASE}/")
            ]
            for ext in ours:
                problems.extend(
                    _extension_problems(ext, path, sum(1 for e in ours if e["url"] == ext["url"]))
                )
            for key, value in node.items():
                if key != "extension":
                    # Nested items share Questionnaire.item's definition (R4 contentReference).
                    visit(value, path if key == "item" and path.endswith(".item") else f"{path}.{key}")

    visit(resource, str(resource.get("resourceType", "")))
    return problems


def _extension_problems(extension: Mapping[str, Any], context: str, times: int) -> list[str]:
    definition = BY_URL.get(str(extension["url"]))
    if definition is None:
        return [f"{extension['url']}: no StructureDefinition defines it"]
    problems = [] if context in definition.context else [f"{definition.id}: not allowed on {context}"]
    if definition.max != "*" and times > int(definition.max):
        problems.append(f"{definition.id}: {times} on one {context}, at most {definition.max} allowed")
    return problems + _instance_problems(extension, definition.id, definition.types, definition.parts)


def _instance_problems(
    instance: Mapping[str, Any], where: str, types: tuple[str, ...], parts: tuple[Part, ...]
) -> list[str]:
    values = [key for key in instance if key.startswith("value")]
    if not parts:
        allowed = {"value" + kind[:1].upper() + kind[1:] for kind in types}
        if "extension" in instance or len(values) != 1 or values[0] not in allowed:
            return [f"{where}: one of {', '.join(sorted(allowed))} and nothing else"]
        return []
    problems = [f"{where}: a complex extension has no value"] if values else []
    inner = instance.get("extension") or []
    by_url = {part.url: part for part in parts}
    for part in parts:
        seen = sum(1 for sub in inner if sub.get("url") == part.url)
        if seen < part.min or (part.max != "*" and seen > int(part.max)):
            problems.append(f"{where}.{part.url}: {seen} given, {part.min}..{part.max} allowed")
    for sub in inner:
        found = by_url.get(str(sub.get("url")))
        if found is None:
            problems.append(f"{where}: no part {sub.get('url')!r}")
        else:
            problems.extend(_instance_problems(sub, f"{where}.{found.url}", found.types, found.parts))
    return problems
