"""``Measure`` and ``MeasureReport`` from plain data: valid R4 (R4B models), one group per measure, FHIR's
proportion populations (the score is numerator / (denominator - denominator exclusion))."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fhir.resources.R4B.measure import Measure
from fhir.resources.R4B.measurereport import MeasureReport

from fhir_adapters.measure import (
    MEASURE_POPULATION,
    SITE_IDENTIFIER_SYSTEM,
    UNIT_IDENTIFIER_SYSTEM,
    GroupCounts,
    MeasureDefinition,
    MeasureGroup,
    PeriodReport,
    Reporter,
    measure,
    measure_report,
    report_id,
)

ALL_OR_NONE = MeasureGroup("composite", "oasi-care-bundle", "OASI care bundle: all-or-none")
MPP = MeasureGroup("element", "mpp", "Manual perineal protection")
TIMING = MeasureGroup("rule", "repair-timing", "Repair within 1 hour")
DEFINITION = MeasureDefinition(
    care_bundle_id="oasi-care-bundle",
    version="2.0.0",
    title="OASI Care Bundle",
    status="active",
    questionnaire_url="https://careloop.example/fhir/Questionnaire/oasi-care-bundle",
    groups=(ALL_OR_NONE, MPP, TIMING),
)
WARD = Reporter("RXX", "Test Trust", "labour-ward", "Labour ward")
GENERATED = dt.datetime(2026, 3, 20, 9, 30, 12, 345, tzinfo=dt.UTC)
WEEK = PeriodReport(
    dt.date(2026, 3, 2),
    dt.date(2026, 3, 8),
    "week",
    True,
    (GroupCounts(ALL_OR_NONE, 3, 4, 1), GroupCounts(MPP, 2, 5, 2), GroupCounts(TIMING, 0, 0, 3)),
)


def populations(group: dict[str, Any]) -> dict[str, int]:
    found = {}
    for population in group["population"]:
        (coding,) = population["code"]["coding"]
        assert coding["system"] == MEASURE_POPULATION
        found[coding["code"]] = population["count"]
    return found


def test_the_measure_is_valid_r4_with_a_group_per_measure() -> None:
    resource = measure(DEFINITION)
    Measure.model_validate(resource)
    assert resource["id"] == "oasi-care-bundle"
    assert resource["url"] == "https://careloop.example/fhir/Measure/oasi-care-bundle"
    assert (resource["version"], resource["status"], resource["name"]) == (
        "2.0.0",
        "active",
        "OasiCareBundleCompliance",
    )
    assert resource["scoring"]["coding"][0]["code"] == "proportion"
    assert resource["type"][0]["coding"][0]["code"] == "process"
    assert resource["improvementNotation"]["coding"][0]["code"] == "increase"
    assert resource["relatedArtifact"][0]["resource"] == DEFINITION.questionnaire_url
    assert [group["id"] for group in resource["group"]] == [
        "composite:oasi-care-bundle",
        "element:mpp",
        "rule:repair-timing",
    ]
    assert [group["code"]["text"] for group in resource["group"]] == [g.title for g in DEFINITION.groups]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_each_group_says_what_it_counts(index: int) -> None:
    group = measure(DEFINITION)["group"][index]
    described = {
        population["code"]["coding"][0]["code"]: population["description"]
        for population in group["population"]
    }
    assert list(described) == ["initial-population", "denominator", "denominator-exclusion", "numerator"]
    everyone = described["initial-population"]
    for words in ("completed and amended", "Europe/London", "duplicates", "the one completed last", "never"):
        assert words in everyone
    assert "counts as not met" in described["denominator"]  # missing is not met
    if index == 0:
        assert "no member" in described["denominator-exclusion"]
        assert "every applicable member" in described["numerator"]
    else:
        assert "not applicable" in described["denominator-exclusion"]
        assert described["numerator"].endswith("is met.")


def test_a_report_is_valid_r4_with_the_counts_of_each_group() -> None:
    report = measure_report(DEFINITION, WARD, WEEK, generated=GENERATED)
    MeasureReport.model_validate(report)
    assert (report["status"], report["type"], report["measure"]) == (
        "complete",
        "summary",
        "https://careloop.example/fhir/Measure/oasi-care-bundle|2.0.0",
    )
    assert report["period"] == {"start": "2026-03-02", "end": "2026-03-08"}
    assert report["date"] == "2026-03-20T09:30:12Z"
    assert report["reporter"]["identifier"] == {"system": SITE_IDENTIFIER_SYSTEM, "value": "RXX"}
    assert report["subject"]["identifier"] == {"system": UNIT_IDENTIFIER_SYSTEM, "value": "RXX/labour-ward"}
    composite, mpp, timing = report["group"]
    assert composite["id"] == "composite:oasi-care-bundle"
    assert populations(composite) == {
        "initial-population": 5,
        "denominator": 5,
        "denominator-exclusion": 1,
        "numerator": 3,
    }
    assert composite["measureScore"] == {"value": 0.75}
    assert populations(mpp) == {
        "initial-population": 7,
        "denominator": 7,
        "denominator-exclusion": 2,
        "numerator": 2,
    }
    assert mpp["measureScore"]["value"] == pytest.approx(0.4)
    # Score = numerator / (denominator - exclusions), as FHIR's proportion scoring computes it.
    for group in (composite, mpp):
        counted = populations(group)
        expected = counted["numerator"] / (counted["denominator"] - counted["denominator-exclusion"])
        assert group["measureScore"]["value"] == expected
    assert "measureScore" not in timing  # nothing in the denominator: no score
    assert populations(timing)["denominator-exclusion"] == 3


def test_an_incomplete_period_is_pending_and_a_site_report_has_no_subject() -> None:
    site = Reporter("RXX", "Test Trust")
    pending = PeriodReport(WEEK.first_day, WEEK.last_day, "week", False, WEEK.groups)
    report = measure_report(DEFINITION, site, pending, generated=GENERATED)
    MeasureReport.model_validate(report)
    assert report["status"] == "pending"
    assert "subject" not in report
    assert report["reporter"]["display"] == "Test Trust"


def test_the_id_is_the_same_for_the_same_report_only() -> None:
    canonical = "https://careloop.example/fhir/Measure/oasi-care-bundle|2.0.0"
    first = report_id(canonical, WARD, "week", WEEK.first_day)
    assert first == measure_report(DEFINITION, WARD, WEEK, generated=GENERATED)["id"]
    assert first == report_id(canonical, WARD, "week", WEEK.first_day)
    others = {
        report_id(canonical, Reporter("RXX", "Test Trust"), "week", WEEK.first_day),
        report_id(canonical, WARD, "month", WEEK.first_day),
        report_id(canonical, WARD, "week", WEEK.first_day + dt.timedelta(days=7)),
        report_id(canonical.replace("2.0.0", "1.0.0"), WARD, "week", WEEK.first_day),
    }
    assert first not in others
    assert len(others) == 4
