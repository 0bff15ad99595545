"""Compliance of a care bundle as FHIR R4 ``Measure`` and ``MeasureReport`` resources (issue 11), built from
plain data (no database, no Flask): the service counts, this module says it in FHIR.

One ``Measure`` per care bundle (``{base}/Measure/<care bundle id>``, version = the care bundle's latest
version, whose wording it uses), scored as a proportion where higher is better, with one ``group`` per
composite (all-or-none), compliance element and timing rule: ``composite:<id>``, ``element:<id>``,
``rule:<id>``. Each group has four populations, with FHIR's meaning (the Quality Measure IG's proportion
scoring): the **initial population** and the **denominator** are every counted checklist that has an
outcome for the measure; the **denominator exclusion** is those where it does not apply; the **numerator**
those where it is met. So the score is numerator / (denominator - denominator exclusion), the proportion the
compliance chart plots, and the chart's denominator is denominator - denominator exclusion.

A ``MeasureReport`` is one period's summary for a unit or a site: ``period`` start and end are the period's
first and last local dates in Europe/London (dates, both included), ``status`` is ``pending`` while the
period is incomplete (decision 0012), and ``measureScore`` is left out when nothing is in the denominator.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from fhir_adapters.vocabulary import CARELOOP_CANONICAL_BASE

GroupKind = Literal["composite", "element", "rule", "follow-up"]

MEASURE_POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"
MEASURE_SCORING = "http://terminology.hl7.org/CodeSystem/measure-scoring"
MEASURE_TYPE = "http://terminology.hl7.org/CodeSystem/measure-type"
IMPROVEMENT_NOTATION = "http://terminology.hl7.org/CodeSystem/measure-improvement-notation"
#: How a MeasureReport names the site it reports for (``reporter``) and the unit it reports on (``subject``).
SITE_IDENTIFIER_SYSTEM = f"{CARELOOP_CANONICAL_BASE}/site"
UNIT_IDENTIFIER_SYSTEM = f"{CARELOOP_CANONICAL_BASE}/unit"

_COUNTED = (
    "completed and amended checklists of the {care_bundle} care bundle (every version), each in the week "
    "or month of its anchor's date in Europe/London; of possible duplicates (the same patient, care bundle "
    "and episode) only the one completed last; in-progress and entered-in-error checklists never"
)
_KIND_WORDS = {
    "composite": "all-or-none measure",
    "element": "compliance element",
    "rule": "timing rule",
    "follow-up": "follow-up measure (each patient's baseline and latest follow-up, in the baseline's period)",
}


@dataclass(frozen=True)
class MeasureGroup:
    """One measure of a care bundle: a composite (all-or-none), a compliance element or a timing rule."""

    kind: GroupKind
    id: str
    title: str

    @property
    def group_id(self) -> str:
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True)
class MeasureDefinition:
    """What a care bundle's Measure says: its latest version's wording and every measure of its versions."""

    care_bundle_id: str
    version: str
    title: str
    status: str
    questionnaire_url: str
    groups: tuple[MeasureGroup, ...]
    description: str = ""


def measure_url(care_bundle_id: str) -> str:
    return f"{CARELOOP_CANONICAL_BASE}/Measure/{care_bundle_id}"


def measure_canonical(definition: MeasureDefinition) -> str:
    """``url|version``, as a MeasureReport names the Measure it reports."""
    return f"{measure_url(definition.care_bundle_id)}|{definition.version}"


def _coding(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}]}


def _populations(group: MeasureGroup, care_bundle: str) -> list[tuple[str, str, str, str]]:
    """(code, display, what is counted, the stored outcomes it is) of each population of ``group``."""
    counted = _COUNTED.format(care_bundle=care_bundle)
    what = f"the {_KIND_WORDS[group.kind]} '{group.title}'"
    if group.kind == "composite":
        applies = f"at least one member of {what} applies (an undocumented member counts as not met)"
        excluded = f"no member of {what} applies"
        met = f"every applicable member of {what} is met"
    else:
        applies = f"{what} is met, not met or missing (an undocumented element counts as not met)"
        excluded = f"{what} is not applicable (any documented reason): outside the compliance proportion"
        met = f"{what} is met"
    everyone = f"The {counted}, that have an outcome for {what}."
    outcome = f"outcome of {group.group_id}"
    if group.kind == "composite":
        outcomes = ("compliant or not compliant or no member applies", "no member applies", "compliant")
    else:
        outcomes = ("met, not-met, missing or not-applicable", "not-applicable", "met")
    return [
        ("initial-population", "Initial Population", everyone, f"{outcome}: {outcomes[0]}"),
        (
            "denominator",
            "Denominator",
            f"{everyone} Those excluded below are then taken out: the proportion's denominator is the "
            f"checklists where {applies}.",
            f"{outcome}: {outcomes[0]}",
        ),
        (
            "denominator-exclusion",
            "Denominator Exclusion",
            f"Of the denominator, the checklists where {excluded}.",
            f"{outcome}: {outcomes[1]}",
        ),
        (
            "numerator",
            "Numerator",
            f"Of the denominator less its exclusions, the checklists where {met}.",
            f"{outcome}: {outcomes[2]}",
        ),
    ]


def measure(definition: MeasureDefinition) -> dict[str, Any]:
    """The R4 ``Measure`` of one care bundle (id = the care bundle id)."""
    words = "".join(part.capitalize() for part in definition.care_bundle_id.replace("_", "-").split("-"))
    groups = []
    for group in definition.groups:
        populations = [
            {
                "code": _coding(MEASURE_POPULATION, code, display),
                "description": description,
                # Careloop's stored outcomes, in words: no CQL or FHIRPath computes them.
                "criteria": {"language": "text/plain", "expression": criteria},
            }
            for code, display, description, criteria in _populations(group, definition.title)
        ]
        groups.append(
            {
                "id": group.group_id,
                "code": {"text": group.title},
                "description": f"{_KIND_WORDS[group.kind].capitalize()}: {group.title}",
                "population": populations,
            }
        )
    return {
        "resourceType": "Measure",
        "id": definition.care_bundle_id,
        "url": measure_url(definition.care_bundle_id),
        "version": definition.version,
        "name": f"{words}Compliance",
        "title": f"{definition.title}: compliance",
        "status": definition.status,
        "publisher": "Careloop",
        "description": (
            f"Compliance with the {definition.title} care bundle per unit or site and week or month: "
            "all-or-none, per compliance element and per timing rule, from the outcomes Careloop stores "
            "when a checklist is completed or amended. "
            + (definition.description.strip() if definition.description else "")
        ).strip(),
        "relatedArtifact": [
            {
                "type": "depends-on",
                "display": "The care bundle's checklist (every version is counted)",
                "resource": definition.questionnaire_url,
            }
        ],
        "scoring": _coding(MEASURE_SCORING, "proportion", "Proportion"),
        "type": [_coding(MEASURE_TYPE, "process", "Process")],
        "improvementNotation": _coding(
            IMPROVEMENT_NOTATION, "increase", "Increased score indicates improvement"
        ),
        "guidance": (
            "Score: numerator / (denominator - denominator exclusion). Periods are weeks from Monday or "
            "calendar months of local dates in Europe/London. A period is pending (MeasureReport.status) "
            "until it has ended and no checklist anchored in it is still in progress."
        ),
        "group": groups,
    }


@dataclass(frozen=True)
class GroupCounts:
    """One measure's counts in one period, as the compliance chart has them."""

    group: MeasureGroup
    numerator: int
    #: The chart's denominator: met + not met (+ missing for elements and rules).
    denominator: int
    #: Outside the chart's denominator: not applicable (elements, rules) or no member applies (composites).
    excluded: int

    @property
    def score(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None


@dataclass(frozen=True)
class Reporter:
    """Whom a report is for: a site, and one of its units (None: the whole site)."""

    site_code: str
    site_name: str
    unit_code: str | None = None
    unit_name: str | None = None


@dataclass(frozen=True)
class PeriodReport:
    first_day: dt.date
    #: The period's last day (included).
    last_day: dt.date
    interval: str
    complete: bool
    groups: Sequence[GroupCounts]


def report_id(canonical: str, reporter: Reporter, interval: str, first_day: dt.date) -> str:
    """The same report (measure version, site or unit, interval, period) always has the same id."""
    key = f"{canonical}#{reporter.site_code}/{reporter.unit_code or ''}/{interval}/{first_day.isoformat()}"
    return str(uuid.uuid5(uuid.NAMESPACE_URL, key))


def _population(code: str, display: str, count: int) -> dict[str, Any]:
    return {"code": _coding(MEASURE_POPULATION, code, display), "count": count}


def measure_report(
    definition: MeasureDefinition, reporter: Reporter, period: PeriodReport, *, generated: dt.datetime
) -> dict[str, Any]:
    """The R4 summary ``MeasureReport`` of one period (``generated``: an aware instant, for ``date``)."""
    canonical = measure_canonical(definition)
    groups = []
    for counts in period.groups:
        everyone = counts.denominator + counts.excluded
        group: dict[str, Any] = {
            "id": counts.group.group_id,
            "code": {"text": counts.group.title},
            "population": [
                _population("initial-population", "Initial Population", everyone),
                _population("denominator", "Denominator", everyone),
                _population("denominator-exclusion", "Denominator Exclusion", counts.excluded),
                _population("numerator", "Numerator", counts.numerator),
            ],
        }
        if counts.score is not None:
            group["measureScore"] = {"value": counts.score}
        groups.append(group)
    report: dict[str, Any] = {
        "resourceType": "MeasureReport",
        "id": report_id(canonical, reporter, period.interval, period.first_day),
        "status": "complete" if period.complete else "pending",
        "type": "summary",
        "measure": canonical,
    }
    if reporter.unit_code is not None:
        report["subject"] = {
            "type": "Location",
            "identifier": {
                "system": UNIT_IDENTIFIER_SYSTEM,
                "value": f"{reporter.site_code}/{reporter.unit_code}",
            },
            "display": reporter.unit_name or reporter.unit_code,
        }
    report |= {
        "date": generated.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "reporter": {
            "type": "Organization",
            "identifier": {"system": SITE_IDENTIFIER_SYSTEM, "value": reporter.site_code},
            "display": reporter.site_name,
        },
        "period": {"start": period.first_day.isoformat(), "end": period.last_day.isoformat()},
        "improvementNotation": _coding(
            IMPROVEMENT_NOTATION, "increase", "Increased score indicates improvement"
        ),
        "group": groups,
    }
    return report
