"""The chart, the CSV, the JSON API and the FHIR MeasureReport say the same of the same checklists (issue 11,
"the CSV and MeasureReport agree with the chart"): every output is built by ``build_report``, and this test
reads each one as its users do (the SVG's drawn geometry, the CSV's rows, the JSON, the MeasureReports)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from fhir_adapters.measure import measure_url
from service.auth.tokens import create_token
from service.care_bundles import CareBundleCatalogue
from service.checklists.lifecycle import Actor
from service.models import Role, Unit
from tests.service.compliance.test_counts import MONDAY, OASI, birth_on, record
from tests.service.reports.drawn import read_chart, tolerance

WEEKS = 5
LAST = MONDAY + dt.timedelta(weeks=WEEKS, days=-1)


@pytest.fixture
def seeded(session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit) -> Unit:
    """Five weeks of OASI checklists: met and not met in varying numbers, a caesarean (outside), a
    duplicate, an open one, and a week with none."""
    for week, (met, not_met) in enumerate([(3, 1), (2, 2), (0, 0), (4, 0), (1, 3)]):
        monday = MONDAY + dt.timedelta(weeks=week)
        for number in range(met + not_met):
            changes = {"mpp": "no", "mpp_not_used_reason": "other"} if number >= met else {}
            day = birth_on(monday + dt.timedelta(days=number % 7), 9 + number)
            record(session, catalogue, nurse, unit, day, patient=f"W{week}-{number}", **changes)
    record(session, catalogue, nurse, unit, birth_on(MONDAY), patient="C", birth_mode="caesarean")
    record(session, catalogue, nurse, unit, birth_on(MONDAY, 9), patient="W0-0")  # W0-0 again: a duplicate
    record(
        session, catalogue, nurse, unit, birth_on(MONDAY + dt.timedelta(days=8)), patient="O", finish=False
    )
    session.commit()
    return unit


def test_chart_csv_json_and_measure_reports_agree(
    client: FlaskClient,
    session: Session,
    seeded: Unit,
    make_user: Callable[..., Any],
    sign_in: Callable[..., Any],
) -> None:
    make_user("quinn", role=Role.QI_LEAD, units=[seeded])
    session.commit()
    sign_in("quinn")
    where = f"{seeded.site.code}/{seeded.code}"
    query = {
        "care_bundle": OASI,
        "measure": f"composite:{OASI}",
        "unit": where,
        "from": MONDAY.isoformat(),
        "to": LAST.isoformat(),
        "interval": "week",
    }

    answer = client.get("/api/compliance/report", query_string=query)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    periods = answer.get_json()["periods"]
    assert [(p["numerator"], p["denominator"]) for p in periods] == [(3, 4), (2, 4), (0, 0), (4, 4), (1, 4)]
    assert periods[0]["duplicates"] == 1
    assert periods[0]["outside"] == 1
    assert periods[1]["open"] == 1

    # The CSV: the same rows.
    text = client.get("/api/compliance/report.csv", query_string=query).get_data(as_text=True)
    rows = list(
        csv.DictReader(io.StringIO("\n".join(line for line in text.splitlines() if not line.startswith("#"))))
    )
    assert len(rows) == len(periods)
    for row, period in zip(rows, periods, strict=True):
        assert (int(row["numerator"]), int(row["denominator"])) == (
            period["numerator"],
            period["denominator"],
        )
        for name in ("proportion", "centre", "upper", "lower"):
            assert (row[name] == "") == (period[name] is None), name
            if period[name] is not None:
                assert float(row[name]) == pytest.approx(period[name], abs=1e-6), name

    # The chart as drawn: points, centre and limits read off the SVG's geometry.
    svg = client.get("/reports/chart.svg", query_string=query)
    assert svg.status_code == 200, svg.get_data(as_text=True)[:500]
    drawing = svg.get_data(as_text=True)
    close = tolerance(drawing)
    drawn = read_chart(drawing)
    assert [point.period for point in drawn] == [period["label"] for period in periods]
    for point, period in zip(drawn, periods, strict=True):
        for name, value in (
            ("value", period["proportion"]),
            ("centre", period["centre"]),
            ("upper", period["upper"]),
            ("lower", period["lower"]),
        ):
            seen = getattr(point, name)
            assert (seen is None) == (value is None), (name, point, period)
            if value is not None:
                assert seen == pytest.approx(value, abs=close), (name, point, period)

    # The FHIR MeasureReports: one per week; the all-or-none group's score is the chart's proportion.
    _, secret = create_token(
        session, name="qi-tool", site=seeded.site, unit=seeded, scopes="system/MeasureReport.rs"
    )
    session.commit()
    bundle = client.get(
        "/fhir/MeasureReport",
        query_string={
            "measure": measure_url(OASI),
            "unit": where,
            "period": [f"ge{MONDAY.isoformat()}", f"le{LAST.isoformat()}"],
            "interval": "week",
        },
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert bundle.status_code == 200, bundle.get_data(as_text=True)
    reports = [entry["resource"] for entry in bundle.get_json(force=True)["entry"]]
    assert [report["period"]["start"] for report in reports] == [period["start"] for period in periods]
    for report, period in zip(reports, periods, strict=True):
        (group,) = [group for group in report["group"] if group["id"] == f"composite:{OASI}"]
        counts = {p["code"]["coding"][0]["code"]: p["count"] for p in group["population"]}
        assert counts["numerator"] == period["numerator"]
        assert counts["denominator"] - counts.get("denominator-exclusion", 0) == period["denominator"]
        if period["proportion"] is None:
            assert "measureScore" not in group
        else:
            assert group["measureScore"]["value"] == pytest.approx(period["proportion"], abs=1e-6)
