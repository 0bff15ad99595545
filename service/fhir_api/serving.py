"""What every ``/fhir`` search takes besides its own parameters (``_count``, ``_summary``, ``_elements``,
``_total``), and the CapabilityStatement's date: the same from every worker. (A Questionnaire's ``meta`` and
ETag, the same from every worker too, are made with the catalogue: ``fhir_adapters.questionnaire``.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fhir_adapters.operation_outcome import Issue
from service.errors import InvalidInput

#: The date this server's capabilities last changed (CapabilityStatement.date): change it with them.
CAPABILITY_DATE = "2026-11-26"
#: R4's SUBSETTED tag, on a resource served with only some of its elements.
SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"}
#: Questionnaire's summary elements in R4 (``_summary=true``).
QUESTIONNAIRE_SUMMARY = frozenset(
    {
        *("resourceType", "id", "meta", "url", "identifier", "version", "name", "title", "status"),
        *("experimental", "date", "publisher", "description", "useContext", "jurisdiction"),
        *("effectivePeriod", "code", "subjectType"),
    }
)
RESULT_PARAMS = frozenset({"_count", "_summary", "_elements", "_total"})
MAX_COUNT = 100


@dataclass(frozen=True)
class ResultParams:
    count: int | None = None
    summary: str | None = None
    elements: frozenset[str] | None = None
    total: str = "accurate"

    def shape(self, resource: Mapping[str, Any]) -> Mapping[str, Any]:
        """``resource`` as these parameters ask (tagged SUBSETTED when elements were left out)."""
        keep: frozenset[str] | None = None
        if self.summary == "true":
            keep = QUESTIONNAIRE_SUMMARY
        elif self.summary == "data":
            keep = frozenset(resource) - {"text"}
        elif self.summary == "text":
            keep = frozenset({"resourceType", "id", "meta", "text"})
        elif self.elements is not None:
            keep = self.elements | {"resourceType", "id", "meta"}
        if keep is None or keep >= frozenset(resource):
            return resource
        meta = dict(resource.get("meta") or {})
        meta["tag"] = [*meta.get("tag", []), SUBSETTED]
        return {**{key: value for key, value in resource.items() if key in keep}, "meta": meta}


def _bad(name: str, raw: str, hint: str) -> Issue:
    return Issue("error", "invalid", f"{name}={raw[:40]}: {hint}")


def result_params(args: Mapping[str, Sequence[str]]) -> tuple[ResultParams, list[tuple[str, str]]]:
    """The result parameters of a search; each is checked (400 with what is wrong in ``diagnostics``)."""
    issues: list[Issue] = []
    used: list[tuple[str, str]] = []
    values: dict[str, Any] = {}
    for name in sorted(RESULT_PARAMS & set(args)):
        raw = args[name][-1]
        if name == "_count":
            if not raw.isdigit() or len(raw) > 6:
                issues.append(_bad("_count", raw, "give a whole number from 0"))
                continue
            values["count"] = min(int(raw), MAX_COUNT)
        elif name == "_summary":
            if raw not in ("true", "false", "text", "data", "count"):
                issues.append(
                    Issue("error", "invalid", f"_summary={raw[:40]}: true, false, text, data or count")
                )
                continue
            values["summary"] = raw
        elif name == "_elements":
            names = [part.strip() for part in raw.split(",") if part.strip()]
            if not names or not all(part.isidentifier() for part in names):
                issues.append(
                    Issue("error", "invalid", f"_elements={raw[:40]}: comma-separated element names")
                )
                continue
            values["elements"] = frozenset(names)
        elif name == "_total":
            if raw not in ("none", "estimate", "accurate"):
                issues.append(_bad("_total", raw, "none, estimate or accurate"))
                continue
            values["total"] = raw
        used.append((name, raw))
    if issues:
        raise InvalidInput("bad search result parameter", issues=issues)
    return ResultParams(**values), used
