"""``/api/compliance/report`` and ``/report.csv``: the numbers of ``build_report``, the CSV's rows and header,
who may ask about which units (sessions and tokens), and refused queries."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from service.auth.tokens import create_token
from service.care_bundles import CareBundleCatalogue
from service.checklists.lifecycle import Actor
from service.compliance.counts import Measure, MeasureKind
from service.compliance.csv_export import COLUMNS, free_text, guard
from service.compliance.periods import Interval, local_today
from service.compliance.report import ReportRequest, build_report
from service.models import Role, Unit, User
from service.spc import ChartKind
from tests.factories import make_unit_offering
from tests.service.compliance.test_counts import MONDAY, OASI, birth_on, record

WEEKS = {"from": "2026-03-02", "to": "2026-03-22"}


def today() -> dt.date:
    return local_today(dt.datetime.now(dt.UTC))


def fill(session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit) -> None:
    """Week 1: met, not met (a reason), a caesarean (mpp not applicable), a duplicate pair; week 2: open."""
    record(session, catalogue, nurse, unit, birth_on(MONDAY), patient="A")
    record(
        session,
        catalogue,
        nurse,
        unit,
        birth_on(MONDAY + dt.timedelta(days=1)),
        patient="B",
        mpp="no",
        mpp_not_used_reason="other",
    )
    record(
        session,
        catalogue,
        nurse,
        unit,
        birth_on(MONDAY + dt.timedelta(days=2)),
        patient="C",
        birth_mode="caesarean",
    )
    for hour in (8, 9):
        record(session, catalogue, nurse, unit, birth_on(MONDAY + dt.timedelta(days=3), hour), patient="D")
    record(
        session, catalogue, nurse, unit, birth_on(MONDAY + dt.timedelta(days=8)), patient="E", finish=False
    )


@pytest.fixture
def lead(make_user: Callable[..., User], unit: Unit, sign_in: Callable[..., Any]) -> User:
    user = make_user("lead", role=Role.QI_LEAD, units=[unit])
    sign_in("lead")
    return user


def ask(client: FlaskClient, path: str = "/api/compliance/report", **query: Any) -> Any:
    return client.get(path, query_string={"care_bundle": OASI, **query})


def test_the_json_report_is_build_reports(
    client: FlaskClient,
    session: Session,
    catalogue: CareBundleCatalogue,
    nurse: Actor,
    unit: Unit,
    lead: User,
) -> None:
    fill(session, catalogue, nurse, unit)
    response = ask(client, unit=f"{unit.site.code}/{unit.code}", measure="element:mpp", **WEEKS)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()

    expected = build_report(
        session,
        catalogue,
        ReportRequest(OASI, Measure(MeasureKind.ELEMENT, "mpp"), (unit.id,), MONDAY, dt.date(2026, 3, 22)),
        today(),
    )
    assert [row["start"] for row in body["periods"]] == [p.period.start.isoformat() for p in expected.periods]
    for row, counts, point in zip(body["periods"], expected.periods, expected.chart.points, strict=True):
        assert (row["numerator"], row["denominator"], row["met"], row["not_met"], row["missing"]) == (
            counts.numerator,
            counts.denominator,
            counts.met,
            counts.not_met,
            counts.missing,
        )
        assert row["not_applicable"] == dict(counts.not_applicable)
        assert (row["duplicates"], row["open"], row["incomplete"]) == (
            counts.duplicates,
            counts.open,
            counts.incomplete,
        )
        assert row["proportion"] == (None if counts.proportion is None else round(counts.proportion, 6))
        assert row["centre"] == (None if point.centre is None else round(point.centre, 6))
        assert row["segment"] == point.segment
    week1, week2, _ = body["periods"]
    assert (week1["numerator"], week1["denominator"], week1["duplicates"]) == (2, 3, 1)
    assert sum(week1["not_applicable"].values()) == 1
    assert (week1["end"], week1["label"]) == ("2026-03-08", "2026-03-02")
    assert (week2["open"], week2["incomplete"]) == (1, True)
    assert body["scope"] == {
        "care_bundle": {"id": OASI, "title": catalogue.latest[OASI].care_bundle.title},
        "measure": {"kind": "element", "id": "mpp", "title": expected.measure.title},
        "unit": {"site": unit.site.code, "code": unit.code, "name": unit.name},
        "site": None,
        "units": [{"site": unit.site.code, "code": unit.code, "name": unit.name}],
        "site_complete": None,
        "versions": [],
        "interval": "week",
        "from": "2026-03-02",
        "to": "2026-03-22",
        "today": today().isoformat(),
    }
    chart = body["chart"]
    assert (chart["kind"], chart["direction"], chart["trial"]) == ("p", "increase", True)
    assert chart["segments"][0]["start"] == "2026-03-02"
    assert chart["segments"][0]["stop"] == "2026-03-23"


def test_defaults_the_first_composite_and_the_last_52_weeks_or_12_months(
    client: FlaskClient, unit: Unit, lead: User
) -> None:
    body = ask(client, unit=f"{unit.site.code}/{unit.code}").get_json()
    assert body["scope"]["measure"]["kind"] == "composite"
    assert body["scope"]["measure"]["id"] == OASI
    assert len(body["periods"]) == 52
    assert body["periods"][-1]["start"] <= today().isoformat() <= body["periods"][-1]["end"]
    months = ask(client, unit=f"{unit.site.code}/{unit.code}", interval="month").get_json()["periods"]
    assert len(months) == 12
    assert months[-1]["label"] == today().strftime("%Y-%m")


def test_options_reach_the_chart(client: FlaskClient, unit: Unit, lead: User) -> None:
    body = ask(
        client,
        unit=f"{unit.site.code}/{unit.code}",
        chart="p_prime",
        direction="decrease",
        target="0.85",
        rebase=["2026-03-16"],
        version="2.0.0",
        **WEEKS,
    ).get_json()
    chart = body["chart"]
    assert (chart["kind"], chart["direction"], chart["target"]) == ("p_prime", "decrease", 0.85)
    assert chart["rebase_at"] == ["2026-03-16"]
    assert body["scope"]["versions"] == ["2.0.0"]
    assert [row["segment"] for row in body["periods"]] == [0, 0, 1]


def test_csv_rows_are_the_json_rows_under_a_header_saying_what_was_counted(
    client: FlaskClient,
    session: Session,
    catalogue: CareBundleCatalogue,
    nurse: Actor,
    unit: Unit,
    lead: User,
) -> None:
    fill(session, catalogue, nurse, unit)
    unit.name = "=HYPERLINK(evil), ward"
    session.flush()
    query = {"unit": f"{unit.site.code}/{unit.code}", "measure": "element:mpp", **WEEKS}
    rows = ask(client, **query).get_json()["periods"]
    response = ask(client, "/api/compliance/report.csv", **query)

    assert response.status_code == 200
    assert response.content_type == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="compliance-{OASI}-element-mpp-{unit.site.code}-{unit.code}'
        '-2026-03-02-2026-03-22-week.csv"'
    )
    text = response.get_data(as_text=True)
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert text.startswith("# Careloop compliance report\r\n")
    header = "\n".join(comments)
    assert f"Care bundle: {OASI}" in header
    assert "versions: all" in header
    assert "Measure: element mpp" in header
    assert f"units counted: {unit.site.code}/{unit.code} ('=HYPERLINK(evil); ward)" in header
    assert "Range: 2026-03-02 to 2026-03-22 by week" in header
    assert (
        "completed and amended checklists, each in the period of its anchor's London date; possible "
        "duplicates counted once; not applicable outside the denominator; missing counted as not met"
    ) in header
    table = list(csv.DictReader(io.StringIO("\n".join(text.splitlines()[len(comments) :]))))
    assert tuple(table[0]) == COLUMNS
    assert len(table) == len(rows)
    for line, row in zip(table, rows, strict=True):
        for column in COLUMNS:
            value = row[column]
            if column == "not_applicable":
                expected = "; ".join(f"{reason}={count}" for reason, count in sorted(value.items()))
            elif isinstance(value, bool):
                expected = "true" if value else "false"
            else:
                expected = "" if value is None else str(value)
            assert line[column] == expected, column


def test_csv_cells_never_start_a_formula() -> None:
    assert [guard(text) for text in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "ok", "")] == [
        "'=1+1",
        "'+1",
        "'-1",
        "'@SUM(A1)",
        "'\tx",
        "ok",
        "",
    ]
    assert free_text("  -2+3,\n=cmd  ") == "'-2+3; =cmd"


def test_who_may_ask(
    client: FlaskClient,
    session: Session,
    unit: Unit,
    make_user: Callable[..., User],
    sign_in: Callable[..., Any],
) -> None:
    here = f"{unit.site.code}/{unit.code}"
    anonymous = ask(client, unit=here)
    assert anonymous.status_code == 401
    assert anonymous.get_json()["code"] == 401
    assert anonymous.headers["WWW-Authenticate"] == 'Bearer realm="careloop"'

    make_user("nurse-1", role=Role.CLINICIAN, units=[unit])
    sign_in("nurse-1")
    assert ask(client, unit=here).status_code == 403

    elsewhere = make_unit_offering(session, OASI, code="ward-9")
    session.add(Unit(site=unit.site, code="ward-2", name="Ward 2"))
    session.flush()
    make_user("lead-2", role=Role.QI_LEAD, units=[unit])
    client.post("/sign-out")
    sign_in("lead-2")
    other = ask(client, unit=f"{elsewhere.site.code}/{elsewhere.code}")
    assert other.status_code == 404
    missing = ask(client, unit="NOPE/none")
    assert (other.status_code, missing.status_code) == (404, 404)
    assert ask(client, site=elsewhere.site.code).status_code == 404
    mine = ask(client, site=unit.site.code).get_json()["scope"]
    assert ([u["code"] for u in mine["units"]], mine["site_complete"]) == ([unit.code], False)

    make_user("admin-1", role=Role.ADMIN)
    client.post("/sign-out")
    sign_in("admin-1")
    everything = ask(client, site=unit.site.code).get_json()["scope"]
    assert ([u["code"] for u in everything["units"]], everything["site_complete"]) == (
        [unit.code, "ward-2"],
        True,
    )
    assert ask(client, unit=f"{elsewhere.site.code}/{elsewhere.code}").status_code == 200


def test_tokens_report_on_their_site_or_their_unit(client: FlaskClient, session: Session, unit: Unit) -> None:
    session.add(Unit(site=unit.site, code="ward-2", name="Ward 2"))
    elsewhere = make_unit_offering(session, OASI, code="ward-9")
    _, site_token = create_token(
        session, name="bi", site=unit.site, unit=None, scopes="system/MeasureReport.rs"
    )
    _, unit_token = create_token(
        session, name="ward", site=unit.site, unit=unit, scopes="system/MeasureReport.read"
    )
    _, forms_token = create_token(
        session, name="ehr", site=unit.site, unit=unit, scopes="system/QuestionnaireResponse.rs"
    )

    def with_token(token: str, **query: Any) -> Any:
        return client.get(
            "/api/compliance/report",
            query_string={"care_bundle": OASI, **query},
            headers={"Authorization": f"Bearer {token}"},
        )

    site_wide = with_token(site_token, site=unit.site.code).get_json()["scope"]
    assert (len(site_wide["units"]), site_wide["site_complete"]) == (2, True)
    assert with_token(site_token, unit=f"{unit.site.code}/ward-2").status_code == 200
    assert with_token(site_token, unit=f"{elsewhere.site.code}/{elsewhere.code}").status_code == 404
    assert with_token(unit_token, unit=f"{unit.site.code}/{unit.code}").status_code == 200
    assert with_token(unit_token, unit=f"{unit.site.code}/ward-2").status_code == 404
    assert with_token(unit_token, site=unit.site.code).get_json()["scope"]["site_complete"] is False
    assert with_token(forms_token, unit=f"{unit.site.code}/{unit.code}").status_code == 403
    refused = with_token("clt_not-a-token", unit=f"{unit.site.code}/{unit.code}")
    assert refused.status_code == 401
    assert refused.get_json()["code"] == 401


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"care_bundle": None}, "care_bundle"),
        ({"site": "S1"}, "unit"),  # both unit and site
        ({"unit": None}, "unit"),  # neither
        ({"unit": "no-slash"}, "unit"),
        ({"measure": "bogus"}, "measure"),
        ({"measure": "element:no-such-element"}, "measure"),
        ({"version": "9.9.9"}, "version"),
        ({"interval": "fortnight"}, "interval"),
        ({"chart": "xmr"}, "chart"),
        ({"direction": "up"}, "direction"),
        ({"target": "2"}, "target"),
        ({"from": "2026-13-01"}, "from"),
        ({"from": "2026-04-01", "to": "2026-03-01"}, "from"),
        ({"baseline": "0"}, "baseline"),
    ],
)
def test_bad_queries_get_422_with_field_errors(
    client: FlaskClient, unit: Unit, lead: User, query: dict[str, Any], field: str
) -> None:
    params = {"care_bundle": OASI, "unit": f"{unit.site.code}/{unit.code}", **query}
    response = client.get(
        "/api/compliance/report",
        query_string={key: value for key, value in params.items() if value is not None},
    )
    assert response.status_code == 422, response.get_json()
    errors = response.get_json()["errors"]["query"]
    assert field in errors or (field == "unit" and "_schema" in errors), errors


def test_unknown_things_are_refused_without_echoing_long_input(
    client: FlaskClient, unit: Unit, lead: User
) -> None:
    here = f"{unit.site.code}/{unit.code}"
    unknown = ask(client, care_bundle="no-such-bundle", unit=here)
    assert unknown.status_code == 404
    long = client.get("/api/compliance/report", query_string={"care_bundle": "x" * 5000, "unit": here})
    assert long.status_code == 422
    assert "x" * 65 not in long.get_data(as_text=True)
    too_long = ask(client, unit=here, **{"from": "2000-01-03", "to": "2026-01-01"})
    assert too_long.status_code == 422
    assert "3660" in too_long.get_json()["message"]
    not_a_start = ask(client, unit=here, rebase="2026-03-04", **WEEKS)
    assert not_a_start.status_code == 422


def test_the_openapi_document_lists_every_endpoint_and_its_parameters(client: FlaskClient) -> None:
    document = client.get("/api/openapi.json").get_json()
    paths = document["paths"]
    common = {"care_bundle", "measure", "unit", "site", "interval", "version"}
    report = {"from", "to", "chart", "direction", "target", "rebase", "baseline"}
    for path, extra in (
        ("/api/compliance/report", report),
        ("/api/compliance/report.csv", report),
        ("/api/compliance/checklists", report | {"period"}),  # a chart query plus the point
    ):
        names = {parameter["name"] for parameter in paths[path]["get"]["parameters"]}
        assert names == common | extra, path
        assert {"401", "403", "404", "422"} <= set(paths[path]["get"]["responses"]), path
    assert "text/csv" in paths["/api/compliance/report.csv"]["get"]["responses"]["200"]["content"]
    assert set(document["components"]["securitySchemes"]) == {"bearerToken", "session"}
    proportion = document["components"]["schemas"]["PeriodOut"]["properties"]["proportion"]
    assert "6 decimal places" in proportion["description"]
    assert [dt.date(2026, 3, 2).weekday(), Interval.WEEK.value, ChartKind.P.value] == [0, "week", "p"]
