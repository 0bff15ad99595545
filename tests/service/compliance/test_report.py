"""A compliance report: the measures of a care bundle, the counts and the p or p' chart drawn from them, and
the periods where the care bundle version changes, offered (never applied) as rebase points."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy.orm import Session

from service.care_bundles import CareBundleCatalogue
from service.checklists.lifecycle import Actor, complete, start
from service.compliance.counts import Measure, MeasureKind
from service.compliance.periods import Interval
from service.compliance.report import ReportRequest, build_report, measures_of
from service.errors import InvalidInput, NotFound
from service.models import Unit
from service.spc import ChartKind, ImprovementDirection
from tests.service.compliance.test_counts import MONDAY, MRN, OASI, TODAY, birth_on, record

ALL_OR_NONE = Measure(MeasureKind.COMPOSITE, OASI)


def request(unit: Unit, **changes: object) -> ReportRequest:
    fields: dict[str, object] = {
        "care_bundle_id": OASI,
        "measure": ALL_OR_NONE,
        "unit_ids": (unit.id,),
        "first": MONDAY,
        "last": MONDAY + dt.timedelta(weeks=5, days=6),
        "interval": Interval.WEEK,
    }
    fields.update(changes)
    return ReportRequest(**fields)  # type: ignore[arg-type]


def test_measures_are_composites_then_elements_then_rules_of_every_version(
    catalogue: CareBundleCatalogue,
) -> None:
    found = measures_of(catalogue, OASI)
    kinds = [info.measure.kind for info in found]
    assert kinds == sorted(kinds, key=[MeasureKind.COMPOSITE, MeasureKind.ELEMENT, MeasureKind.RULE].index)
    assert found[0].measure == ALL_OR_NONE
    assert "mpp" in found[0].detail
    assert Measure(MeasureKind.ELEMENT, "mpp") in {info.measure for info in found}
    hip = measures_of(catalogue, "hip-fracture-pathway")
    assert any(info.measure.kind is MeasureKind.RULE for info in hip)  # the timing rules (36 h...)
    with pytest.raises(NotFound):
        measures_of(catalogue, "no-such-care-bundle")


def caesarean_on_version_1(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit, day: dt.date, patient: str
) -> None:
    birth = birth_on(day)
    checklist = start(
        session,
        catalogue,
        nurse,
        checklist_id=uuid.uuid4(),
        care_bundle_id=OASI,
        version="1.0.0",
        unit=unit,
        patient_kind="local",
        patient_value=patient,
        patient_system=MRN,
        encounter=None,
        anchor_time=birth,
        now=birth,
    )
    complete(
        session,
        catalogue,
        nurse,
        checklist.id,
        base_version=checklist.version,
        answers={"birth-time": [birth], "antenatal-discussion": ["no"], "birth-mode": ["caesarean"]},
        now=birth + dt.timedelta(hours=1),
    )


def test_the_chart_is_drawn_from_the_counts_and_a_version_change_is_offered_as_a_rebase_point(
    session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit
) -> None:
    for week in range(2):
        caesarean_on_version_1(
            session, catalogue, nurse, unit, MONDAY + dt.timedelta(weeks=week), f"V1-{week}"
        )
    for week in range(2, 6):
        for patient in range(week):  # 2, 3, 4, 5 births; one in each week not met
            changes = {"mpp": "no", "mpp_not_used_reason": "other"} if patient == 0 else {}
            day = MONDAY + dt.timedelta(weeks=week, days=patient % 7)
            record(session, catalogue, nurse, unit, birth_on(day), patient=f"P{week}-{patient}", **changes)

    report = build_report(session, catalogue, request(unit), TODAY)

    assert [period.denominator for period in report.periods] == [0, 0, 2, 3, 4, 5]
    assert [point.numerator for point in report.chart.points] == [0, 0, 1, 2, 3, 4]
    assert report.chart.points[0].is_gap  # no denominator: a gap, not a zero
    centre = report.chart.points[2].centre
    assert centre == pytest.approx(10 / 14)
    assert report.chart.trial  # 4 points: fewer than 12
    # Weeks 1-2 counted caesareans on version 1.0.0 (outside the all-or-none denominator, still counted).
    assert report.versions == ("1.0.0", "1.0.0", "2.0.0", "2.0.0", "2.0.0", "2.0.0")
    assert report.rebase_candidates == (MONDAY + dt.timedelta(weeks=2),)
    assert len(report.chart.segments) == 1  # offered, not applied

    rebased = build_report(session, catalogue, request(unit, rebase_at=report.rebase_candidates), TODAY)
    assert len(rebased.chart.segments) == 2
    laney = build_report(session, catalogue, request(unit, chart=ChartKind.P_PRIME, target=0.95), TODAY)
    assert laney.chart.kind is ChartKind.P_PRIME
    assert laney.chart.target == 0.95


@pytest.mark.parametrize(
    "changes",
    [
        {"measure": Measure(MeasureKind.ELEMENT, "no-such-element")},
        {"chart": ChartKind.XMR},
        {"target": 1.5},
        {"rebase_at": (MONDAY + dt.timedelta(days=1),)},  # not the first day of a week
        {"direction": ImprovementDirection.DECREASE, "last": MONDAY - dt.timedelta(days=1)},
    ],
)
def test_bad_requests_are_refused_clearly(
    session: Session, catalogue: CareBundleCatalogue, unit: Unit, changes: dict[str, object]
) -> None:
    with pytest.raises(InvalidInput):
        build_report(session, catalogue, request(unit, **changes), TODAY)
