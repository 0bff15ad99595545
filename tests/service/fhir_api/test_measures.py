"""``/fhir/Measure`` and ``/fhir/MeasureReport`` (issue 11): the MeasureReports agree with the compliance
chart (``build_report``) period by period and measure by measure; Measures are public definitions;
MeasureReport search needs a token that sees the unit or site asked for; bad input is a 4xx
OperationOutcome, never a 500."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.measure import Measure
from fhir.resources.R4B.measurereport import MeasureReport
from fhir.resources.R4B.operationoutcome import OperationOutcome
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from fhir_adapters.measure import SITE_IDENTIFIER_SYSTEM, UNIT_IDENTIFIER_SYSTEM
from fhir_adapters.operation_outcome import ECHO_CHARS
from service.care_bundles import CareBundleCatalogue
from service.checklists.lifecycle import Actor
from service.compliance.periods import Interval
from service.compliance.report import ReportRequest, build_report, measures_of
from service.fhir_api import measures as measures_module
from service.models import Unit
from tests.factories import make_member, make_unit_offering
from tests.service.compliance.test_counts import MONDAY, OASI, TODAY, birth_on, record
from tests.service.fhir_api.test_questionnaire_responses import token_for

CANONICAL = f"https://careloop.example/fhir/Measure/{OASI}"
MR = "/fhir/MeasureReport"
NOW = dt.datetime.combine(TODAY, dt.time(12), tzinfo=dt.UTC)
#: Six weeks from MONDAY: the seeded checklists and empty weeks after them.
RANGE = f"period=ge{MONDAY.isoformat()}&period=le{(MONDAY + dt.timedelta(weeks=6, days=-1)).isoformat()}"


@pytest.fixture(autouse=True)
def fixed_now(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "FHIR_NOW", NOW)


@pytest.fixture
def unit(session: Session) -> Unit:
    return make_unit_offering(session, OASI)


@pytest.fixture
def nurse(session: Session, unit: Unit) -> Actor:
    return Actor(user_id=make_member(session, "nurse", unit).id, unit_ids=frozenset({unit.id}))


@pytest.fixture
def seeded(session: Session, catalogue: CareBundleCatalogue, nurse: Actor, unit: Unit) -> Unit:
    """Checklists over three weeks: met, not met, not applicable, a duplicate, an open one."""
    week1, week2, week3 = MONDAY, MONDAY + dt.timedelta(days=7), MONDAY + dt.timedelta(days=14)
    record(session, catalogue, nurse, unit, birth_on(week1), patient="A")
    record(
        session, catalogue, nurse, unit, birth_on(week1), patient="B", mpp="no", mpp_not_used_reason="other"
    )
    record(
        session, catalogue, nurse, unit, birth_on(week1 + dt.timedelta(days=2)), patient="C", mpp="declined"
    )
    record(session, catalogue, nurse, unit, birth_on(week1), patient="D", birth_mode="caesarean")
    record(
        session,
        catalogue,
        nurse,
        unit,
        birth_on(week2, 8),
        patient="E",
        mpp="no",
        mpp_not_used_reason="other",
    )
    record(session, catalogue, nurse, unit, birth_on(week2, 9), patient="E", completed=birth_on(week2, 20))
    record(
        session,
        catalogue,
        nurse,
        unit,
        birth_on(week2 + dt.timedelta(days=3)),
        patient="F",
        perineal_examination="no",
    )
    record(session, catalogue, nurse, unit, birth_on(week3), patient="G")
    record(session, catalogue, nurse, unit, birth_on(week3 + dt.timedelta(days=1)), patient="H", finish=False)
    session.commit()
    return unit


def search(client: FlaskClient, headers: dict[str, str], query: str, status: int = 200) -> Any:
    response = client.get(f"{MR}?{query}", headers=headers)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/fhir+json"
    body = response.get_json(force=True)
    (OperationOutcome if status >= 400 else Bundle).model_validate(body)
    return body


def populations(group: dict[str, Any]) -> dict[str, int]:
    return {
        population["code"]["coding"][0]["code"]: population["count"] for population in group["population"]
    }


def reports(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    found = [entry["resource"] for entry in bundle.get("entry", [])]
    for report in found:
        MeasureReport.model_validate(report)
    return found


@pytest.mark.parametrize("interval", [Interval.WEEK, Interval.MONTH])
def test_the_measure_reports_agree_with_the_chart(
    client: FlaskClient,
    session: Session,
    catalogue: CareBundleCatalogue,
    seeded: Unit,
    interval: Interval,
) -> None:
    headers = token_for(session, seeded, "system/MeasureReport.s")
    bundle = search(client, headers, f"measure={CANONICAL}&{RANGE}&interval={interval}")
    found = reports(bundle)
    first, last = MONDAY, MONDAY + dt.timedelta(weeks=6, days=-1)
    assert [entry["fullUrl"] for entry in bundle["entry"]] == [f"urn:uuid:{r['id']}" for r in found]
    infos = measures_of(catalogue, OASI)
    compared = 0
    for info in infos:
        chart = build_report(
            session,
            catalogue,
            ReportRequest(OASI, info.measure, (seeded.id,), first, last, interval=interval),
            TODAY,
        )
        assert len(chart.periods) == len(found)
        group_id = f"{info.measure.kind}:{info.measure.id}"
        for period, report in zip(chart.periods, found, strict=True):
            assert report["period"]["start"] == period.period.start.isoformat()
            assert report["period"]["end"] == (period.period.end - dt.timedelta(days=1)).isoformat()
            assert report["status"] == ("pending" if period.incomplete else "complete")
            (group,) = [group for group in report["group"] if group["id"] == group_id]
            assert group["code"]["text"] == info.title
            counted = populations(group)
            assert counted["numerator"] == period.numerator
            assert counted["denominator"] - counted["denominator-exclusion"] == period.denominator
            assert counted["denominator-exclusion"] == period.outside + sum(period.not_applicable.values())
            assert counted["initial-population"] == counted["denominator"]
            if period.proportion is None:
                assert "measureScore" not in group
            else:
                assert group["measureScore"]["value"] == period.proportion
            compared += period.denominator
    assert compared > 0  # the seeded checklists were counted
    if interval is Interval.WEEK:
        statuses = [report["status"] for report in found]
        assert statuses == ["complete", "complete", "pending", "complete", "complete", "complete"]  # H open


def test_a_report_names_its_measure_unit_and_site(
    client: FlaskClient, session: Session, seeded: Unit
) -> None:
    headers = token_for(session, seeded, "system/MeasureReport.s")
    (report, *_) = reports(search(client, headers, f"measure={OASI}&{RANGE}"))
    assert report["measure"] == f"{CANONICAL}|2.0.0"
    assert report["type"] == "summary"
    assert report["subject"]["identifier"] == {
        "system": UNIT_IDENTIFIER_SYSTEM,
        "value": f"{seeded.site.code}/{seeded.code}",
    }
    assert report["reporter"]["identifier"] == {"system": SITE_IDENTIFIER_SYSTEM, "value": seeded.site.code}
    assert report["date"] == "2026-06-01T12:00:00Z"
    measure = client.get(f"/fhir/Measure/{OASI}").get_json(force=True)
    assert [group["id"] for group in report["group"]] == [group["id"] for group in measure["group"]]


def test_the_default_is_the_last_12_weeks_up_to_today(
    client: FlaskClient, session: Session, unit: Unit
) -> None:
    headers = token_for(session, unit, "system/MeasureReport.s")
    bundle = search(client, headers, f"measure=Measure/{OASI}")
    found = reports(bundle)
    assert len(found) == bundle["total"] == 12
    assert found[-1]["period"] == {"start": "2026-06-01", "end": "2026-06-07"}  # this week, oldest first
    assert found[-1]["status"] == "pending"
    assert found[0]["period"]["start"] == "2026-03-16"
    assert "period=ge2026-03-16" in bundle["link"][0]["url"]  # the self link says what was reported
    months = reports(
        search(client, headers, f"measure={OASI}&interval=month&period=ge2026-01&period=le2026-03")
    )
    assert [report["period"] for report in months] == [
        {"start": "2026-01-01", "end": "2026-01-31"},
        {"start": "2026-02-01", "end": "2026-02-28"},
        {"start": "2026-03-01", "end": "2026-03-31"},
    ]


def test_each_group_is_counted_once_per_page_not_per_period(
    client: FlaskClient,
    session: Session,
    unit: Unit,
    catalogue: CareBundleCatalogue,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[dt.date, dt.date]] = []
    real = measures_module.count_any

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append((kwargs["first"], kwargs["last"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(measures_module, "count_any", counting)
    headers = token_for(session, unit, "system/MeasureReport.s")
    search(client, headers, f"measure={OASI}")
    assert len(calls) == len(measures_of(catalogue, OASI))
    calls.clear()
    assert search(client, headers, f"measure={OASI}&_summary=count")["total"] == 12
    assert calls == []  # the number of periods needs no counting
    page = search(client, headers, f"measure={OASI}&_count=5&_offset=5")
    assert len(page["entry"]) == 5
    assert {call[0] for call in calls} == {dt.date(2026, 4, 20)}  # only the page's periods


def test_site_tokens_report_on_the_site_or_any_unit_of_it(
    client: FlaskClient, session: Session, seeded: Unit
) -> None:
    headers = token_for(session, seeded, "system/MeasureReport.s", bound=False)
    whole = reports(search(client, headers, f"measure={OASI}&{RANGE}"))
    assert "subject" not in whole[0]
    assert reports(search(client, headers, f"measure={OASI}&{RANGE}&site={seeded.site.code}")) == whole
    one = reports(search(client, headers, f"measure={OASI}&{RANGE}&unit={seeded.site.code}/{seeded.code}"))
    assert one[0]["subject"]["display"] == seeded.name
    assert [r["group"] for r in one] == [r["group"] for r in whole]  # the site's only unit with checklists


def test_a_unit_or_site_the_token_does_not_see_is_not_found(
    client: FlaskClient, session: Session, unit: Unit
) -> None:
    sibling = Unit(site=unit.site, code="ward-b", name="Ward B")
    session.add(sibling)
    elsewhere = make_unit_offering(session, OASI, code="ward-c")
    headers = token_for(session, unit, "system/MeasureReport.s")
    site_wide = token_for(session, unit, "system/MeasureReport.s", bound=False)
    asked = {
        "sibling": (headers, f"unit={unit.site.code}/ward-b"),
        "other site's unit": (headers, f"unit={elsewhere.site.code}/ward-c"),
        "other site": (headers, f"site={elsewhere.site.code}"),
        "site token, other site's unit": (site_wide, f"unit={elsewhere.site.code}/ward-c"),
        "site token, other site": (site_wide, f"site={elsewhere.site.code}"),
    }
    for case, (token, query) in asked.items():
        seen = search(client, token, f"measure={OASI}&{query}", 404)
        name, _, value = query.partition("=")
        missing = search(client, token, f"measure={OASI}&{name}=NOPE{value[4:]}", 404)
        assert [i["code"] for i in seen["issue"]] == ["not-found"], case
        assert seen["issue"][0]["diagnostics"].replace(value, "?") == missing["issue"][0][
            "diagnostics"
        ].replace(f"NOPE{value[4:]}", "?"), case
    own_site = search(client, headers, f"measure={OASI}&site={unit.site.code}", 403)
    assert own_site["issue"][0]["code"] == "forbidden"


@pytest.mark.parametrize(
    ("scopes", "status"),
    [
        (None, 401),
        ("system/QuestionnaireResponse.rs", 403),
        ("system/MeasureReport.r", 403),
        ("system/MeasureReport.s", 200),
    ],
)
def test_measure_report_search_needs_its_scope(
    client: FlaskClient, session: Session, unit: Unit, scopes: str | None, status: int
) -> None:
    headers = token_for(session, unit, scopes) if scopes else {}
    search(client, headers, f"measure={OASI}", status)


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("", "measure: give one Measure"),
        (f"measure={OASI},{OASI}", "measure: give one Measure"),
        ("measure=no-such-bundle", "measure='no-such-bundle': no such Measure here"),
        (f"measure={CANONICAL}|1.0.0", "this server reports version 2.0.0"),
        (f"measure={OASI}&period=2026-03-02", "period='2026-03-02': give at most one ge"),
        (f"measure={OASI}&period=ge2026-03-02&period=ge2026-04-01", "give at most one ge"),
        (f"measure={OASI}&period=gefoo", "a date is 2026, 2026-03 or 2026-03-02"),
        (f"measure={OASI}&period=ge2026-13", "a date is"),
        (f"measure={OASI}&period=ge2026-06-01&period=le2026-03-01", "period: the end of the range is before"),
        (f"measure={OASI}&period=ge2020-01-01&period=le2026-01-01", "period: at most 106 periods"),
        (f"measure={OASI}&period=le0001-01-01", "period: outside the calendar"),
        (f"measure={OASI}&period=ge9999-12-31&period=le9999-12-31", "period: outside the calendar"),
        (f"measure={OASI}&interval=day", "interval='day': week or month"),
        (f"measure={OASI}&subject=Location/x", "subject: unknown search parameter"),
        (f"measure={OASI}&site=A&unit=A/b", "give unit or site, not both"),
        (f"measure={OASI}&_count=x", "_count=x"),
    ],
)
def test_bad_input_is_a_400_operation_outcome(
    client: FlaskClient, session: Session, unit: Unit, query: str, says: str
) -> None:
    headers = token_for(session, unit, "system/MeasureReport.s")
    body = search(client, headers, query, 400)
    assert any(says in issue["diagnostics"] for issue in body["issue"]), body


def test_hostile_values_are_echoed_short(client: FlaskClient, session: Session, unit: Unit) -> None:
    headers = token_for(session, unit, "system/MeasureReport.s")
    long = "x" * 5000
    for query in (f"measure={long}", f"measure={OASI}&period=ge{long}", f"measure={OASI}&interval={long}"):
        body = search(client, headers, query, 400)
        assert "x" * (ECHO_CHARS + 1) not in body["issue"][0]["diagnostics"]
    body = search(client, headers, f"measure={OASI}&unit=S/{long}", 404)
    assert "x" * (ECHO_CHARS + 1) not in body["issue"][0]["diagnostics"]


def test_measure_read_and_search_are_public(client: FlaskClient, catalogue: CareBundleCatalogue) -> None:
    read = client.get(f"/fhir/Measure/{OASI}")
    assert read.status_code == 200
    measure = read.get_json(force=True)
    Measure.model_validate(measure)
    infos = measures_of(catalogue, OASI)
    assert [group["id"] for group in measure["group"]] == [f"{i.measure.kind}:{i.measure.id}" for i in infos]
    assert measure["version"] == catalogue.latest[OASI].version
    everything = client.get("/fhir/Measure").get_json(force=True)
    assert [entry["resource"]["id"] for entry in everything["entry"]] == list(catalogue.latest)
    for entry in everything["entry"]:
        Measure.model_validate(entry["resource"])
        assert entry["fullUrl"].endswith(f"/fhir/Measure/{entry['resource']['id']}")
    for url, total in ((CANONICAL, 1), (f"{CANONICAL}|2.0.0", 1), (f"{CANONICAL}|1.0.0", 0), ("x", 0)):
        assert client.get(f"/fhir/Measure?url={url}").get_json(force=True)["total"] == total
    missing = client.get("/fhir/Measure/no-such-bundle")
    assert missing.status_code == 404
    OperationOutcome.model_validate(missing.get_json(force=True))
    assert client.get("/fhir/Measure?colour=red").status_code == 400


@pytest.mark.parametrize(
    ("scopes", "status"),
    [("system/Measure.rs", 200), ("system/Measure.read", 200), ("system/MeasureReport.s", 403), ("bad", 401)],
)
def test_a_token_sent_with_a_measure_must_allow_it(
    client: FlaskClient, session: Session, unit: Unit, scopes: str, status: int
) -> None:
    headers = {"Authorization": "Bearer clt_nope"} if scopes == "bad" else token_for(session, unit, scopes)
    assert client.get(f"/fhir/Measure/{OASI}", headers=headers).status_code == status
    assert client.get("/fhir/Measure", headers=headers).status_code == status


def test_the_capability_statement_declares_the_measure_report_search(client: FlaskClient) -> None:
    statement = client.get("/fhir/metadata").get_json(force=True)
    (rest,) = statement["rest"]
    by_type = {resource["type"]: resource for resource in rest["resource"]}
    params = {param["name"] for param in by_type["MeasureReport"]["searchParam"]}
    assert params == {"measure", "period", "interval", "unit", "site"}
    assert all(param.get("documentation") for param in by_type["MeasureReport"]["searchParam"])
    assert {param["name"] for param in by_type["Measure"]["searchParam"]} == {"url"}
    security = rest["security"]["description"]
    for words in ("Measure read and search are public", "system/Measure.rs", "system/MeasureReport.s"):
        assert words in security
