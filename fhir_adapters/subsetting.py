"""A resource cut down as a search's ``_summary`` or ``_elements`` asks (FHIR R4 search, 3.1.1.5.8-9), with
R4's SUBSETTED tag when anything was left out: one implementation for every resource type served.

The summary elements (marked Σ in the R4 specification) and the mandatory ones (min 1, which a subset keeps
whatever was asked) are listed per resource type; a test holds them to ``fhir.resources``' definitions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: R4's SUBSETTED tag, on a resource served with only some of its elements.
SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"}
#: What every subset keeps (``resourceType`` is not an element, but JSON needs it).
_ALWAYS = frozenset({"resourceType", "id", "meta", "implicitRules"})
_CANONICAL = frozenset(
    {
        *("url", "identifier", "version", "name", "title", "status", "experimental", "date"),
        *("publisher", "contact", "useContext", "jurisdiction"),
    }
)
#: The Σ elements of each resource type served, in R4 (``_summary=true``).
SUMMARY_ELEMENTS: Mapping[str, frozenset[str]] = {
    "Questionnaire": _ALWAYS | _CANONICAL | {"effectivePeriod", "code", "subjectType"},
    "QuestionnaireResponse": _ALWAYS
    | {"identifier", "basedOn", "partOf", "questionnaire", "status", "subject", "encounter"}
    | {"authored", "author", "source"},
    "CodeSystem": _ALWAYS
    | _CANONICAL
    | {"caseSensitive", "valueSet", "hierarchyMeaning", "compositional", "versionNeeded", "content"}
    | {"supplements", "count", "filter", "property"},
    "StructureDefinition": _ALWAYS
    | _CANONICAL
    | {"keyword", "fhirVersion", "kind", "abstract", "context", "contextInvariant", "type"}
    | {"baseDefinition", "derivation"},
    "Measure": _ALWAYS
    | _CANONICAL
    | {"effectivePeriod", "disclaimer", "scoring", "compositeScoring", "type", "riskAdjustment"}
    | {"rateAggregation", "rationale", "clinicalRecommendationStatement", "improvementNotation"}
    | {"definition", "guidance", "description"},
    "MeasureReport": _ALWAYS
    | {"identifier", "status", "type", "measure", "subject", "date", "reporter", "period"}
    | {"improvementNotation"},
}
#: The mandatory (1..) elements of each resource type served, in R4.
MANDATORY_ELEMENTS: Mapping[str, frozenset[str]] = {
    "Questionnaire": frozenset({"status"}),
    "QuestionnaireResponse": frozenset({"status"}),
    "CodeSystem": frozenset({"status", "content"}),
    "StructureDefinition": frozenset({"url", "name", "status", "kind", "abstract", "type"}),
    "Measure": frozenset({"status"}),
    "MeasureReport": frozenset({"status", "type", "measure", "period"}),
}


def kept_elements(
    resource: Mapping[str, Any], *, summary: str | None = None, elements: frozenset[str] | None = None
) -> frozenset[str] | None:
    """The top-level elements of ``resource`` that ``_summary`` (or else ``_elements``) keeps; None: all.

    ``true``: the Σ elements; ``text``: ``text`` and the mandatory ones; ``data``: all but ``text``;
    ``false`` (and ``count``, which serves no resources): all. ``_elements`` keeps the mandatory ones too, as
    R4 says a server should.
    """
    resource_type = str(resource.get("resourceType", ""))
    mandatory = _ALWAYS | MANDATORY_ELEMENTS.get(resource_type, frozenset())
    if summary == "true":
        return SUMMARY_ELEMENTS.get(resource_type)
    if summary == "text":
        return mandatory | {"text"}
    if summary == "data":
        return frozenset(resource) - {"text"}
    if summary in ("false", "count"):
        return None
    if elements is not None:
        return mandatory | elements
    return None


def subset(
    resource: Mapping[str, Any], *, summary: str | None = None, elements: frozenset[str] | None = None
) -> Mapping[str, Any]:
    """``resource`` with only the elements :func:`kept_elements` keeps, tagged SUBSETTED when any went; the
    resource itself when nothing did (it is never changed)."""
    keep = kept_elements(resource, summary=summary, elements=elements)
    if keep is None or keep >= frozenset(resource):
        return resource
    meta = dict(resource.get("meta") or {})
    meta["tag"] = [*meta.get("tag", []), SUBSETTED]
    return {**{key: value for key, value in resource.items() if key in keep}, "meta": meta}
