"""The ward pages through Flask's test client: start, fill in, complete, amend, entered in error, history;
scope, bad input and conflicts. (The browser tests drive the same pages in Chromium.)"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.models import AuditEvent, Checklist, ChecklistStatus, Delivery, Role, Unit, User
from tests.factories import OASI_FORM, make_unit_offering

NOW = dt.datetime(2026, 3, 29, 10, 0, tzinfo=dt.UTC)
NHS = "9434765919"


def start_oasi(client: FlaskClient, unit: Unit, **changes: str) -> str:
    """Start an OASI checklist through both steps; return its page URL."""
    form = {
        "choice": f"{unit.id}:oasi-care-bundle",
        "patient_kind": "nhs-number",
        "patient_value": "943 476 5919",
        "anchor-day": "29",
        "anchor-month": "3",
        "anchor-year": "2026",
        "anchor-time": "02:30",
        **changes,
    }
    confirm = client.post("/ward/start", data=form)
    assert confirm.status_code == 200, confirm.get_data(as_text=True)
    page = confirm.get_data(as_text=True)
    assert "NHS number 943 476 5919" in page
    checklist_id = re.search(r'name="checklist_id" value="([0-9a-f-]+)"', page)
    assert checklist_id is not None
    started = client.post("/ward/start", data={**form, "action": "start", "checklist_id": checklist_id[1]})
    assert started.status_code == 303
    return started.headers["Location"]


def version_of(page: str) -> str:
    found = re.search(r'name="version" value="(\d+)"', page)
    assert found is not None
    return found[1]


def base_of(page: str) -> str:
    found = re.search(r'name="base" value="([^"]*)"', page)
    assert found is not None
    return found[1].replace("&#34;", '"').replace("&quot;", '"')


VAGINAL = OASI_FORM


def test_signed_out_users_are_sent_to_sign_in(client: FlaskClient) -> None:
    response = client.get("/ward/")
    assert response.status_code == 302
    assert "/sign-in" in response.headers["Location"]


def test_start_fill_in_complete_and_see_the_outcomes(
    client: FlaskClient, session: Session, unit: Unit, midwife: User
) -> None:
    url = start_oasi(client, unit)
    page = client.get(url).get_data(as_text=True)
    assert "OASI care bundle" in page
    assert "NHS number 943 476 5919" in page
    # Conditions: before the mode of birth is known, the birth practices are rendered hidden.
    assert re.search(r'data-element="mpp"[^>]*hidden', page)
    saved = client.post(
        url, data={"version": version_of(page), "action": "save", "e-birth-mode": "spontaneous-vaginal"}
    )
    assert saved.status_code == 303
    page = client.get(url).get_data(as_text=True)
    assert not re.search(r'data-element="mpp"[^>]*hidden', page)
    done = client.post(url, data={"version": version_of(page), "action": "complete", **VAGINAL})
    assert done.status_code == 303
    completed = client.get(url).get_data(as_text=True)
    assert "Completed" in completed
    assert 'data-outcome="met"' in completed
    checklist = session.scalars(select(Checklist)).one()
    assert checklist.status == ChecklistStatus.COMPLETED
    assert checklist.compliant is True
    assert (
        session.scalars(select(Delivery).where(Delivery.checklist_id == checklist.id)).one().checklist_version
        == checklist.version
    )
    details = [event.detail or {} for event in session.scalars(select(AuditEvent))]
    assert all(NHS not in str(detail) for detail in details)


def test_a_refused_completion_names_each_field_and_keeps_what_was_typed(
    client: FlaskClient, unit: Unit, midwife: User
) -> None:
    url = start_oasi(client, unit)
    page = client.get(url).get_data(as_text=True)
    answers = {**VAGINAL}
    del answers["e-mpp"]
    refused = client.post(url, data={"version": version_of(page), "action": "complete", **answers})
    assert refused.status_code == 422
    body = refused.get_data(as_text=True)
    assert "There is a problem" in body
    assert 'href="#e-mpp-wrapper"' in body
    assert re.search(r'value="spontaneous-vaginal"\s+checked', body)  # what was typed is still there


def test_a_value_that_cannot_be_read_is_a_field_error_and_nothing_is_saved(
    client: FlaskClient, session: Session, unit: Unit, midwife: User
) -> None:
    url = start_oasi(client, unit)
    page = client.get(url).get_data(as_text=True)
    version = version_of(page)
    bad = client.post(
        url,
        data={
            "version": version,
            "action": "save",
            **VAGINAL,
            "e-episiotomy-mediolateral-60": "no",
            "e-episiotomy-performed": "yes",
            "e-episiotomy-angle": "sixty",
        },
    )
    assert bad.status_code == 400
    assert "Enter a whole number" in bad.get_data(as_text=True)
    checklist = session.scalars(select(Checklist)).one()
    assert str(checklist.version) == version


def test_a_blocking_check_refuses_completion(client: FlaskClient, unit: Unit, midwife: User) -> None:
    url = start_oasi(client, unit)
    page = client.get(url).get_data(as_text=True)
    answers = {
        **VAGINAL,
        "e-episiotomy-indication": "fetal-compromise",
        "e-episiotomy-performed": "yes",
        "e-episiotomy-mediolateral-60": "no",
        "e-episiotomy-angle": "60",
    }
    refused = client.post(url, data={"version": version_of(page), "action": "complete", **answers})
    assert refused.status_code == 422
    assert "An angle of 60 degrees is a cut at 60 degrees" in refused.get_data(as_text=True)


def test_two_tabs_changing_different_answers_lose_neither(
    client: FlaskClient, session: Session, unit: Unit, midwife: User
) -> None:
    url = start_oasi(client, unit)
    page = client.get(url).get_data(as_text=True)
    version, base = version_of(page), base_of(page)
    first = client.post(
        url, data={"version": version, "base": base, "action": "save", "e-birth-mode": "spontaneous-vaginal"}
    )
    assert first.status_code == 303
    second = client.post(
        url, data={"version": version, "base": base, "action": "save", "e-antenatal-discussion": "yes"}
    )
    assert second.status_code == 409
    body = second.get_data(as_text=True)
    assert "Someone else saved this checklist" in body
    # Both answers are in the merged form: theirs (birth mode) and mine (antenatal discussion).
    assert re.search(r'value="spontaneous-vaginal"\s+checked', body)
    assert re.search(r'value="yes"\s+checked', body)
    stored = session.scalars(select(Checklist)).one()
    assert str(stored.version) == version_of(body) != version


def test_amend_entered_in_error_and_history(
    client: FlaskClient, session: Session, unit: Unit, midwife: User
) -> None:
    url = start_oasi(client, unit)
    page = client.get(url).get_data(as_text=True)
    assert (
        client.post(url, data={"version": version_of(page), "action": "complete", **VAGINAL}).status_code
        == 303
    )
    amend_page = client.get(url + "/amend").get_data(as_text=True)
    assert "Why are you amending" in amend_page
    no_reason = client.post(
        url, data={"version": version_of(amend_page), "action": "amend", **VAGINAL, "e-mpp": "declined"}
    )
    assert no_reason.status_code == 422
    amended = client.post(
        url,
        data={
            "version": version_of(amend_page),
            "action": "amend",
            "reason": "MPP was declined",
            **VAGINAL,
            "e-mpp": "declined",
        },
    )
    assert amended.status_code == 303
    checklist = session.scalars(select(Checklist)).one()
    assert checklist.status == ChecklistStatus.AMENDED
    eie = client.get(url + "/entered-in-error").get_data(as_text=True)
    marked = client.post(
        url + "/entered-in-error", data={"version": version_of(eie), "reason": "Wrong patient"}
    )
    assert marked.status_code == 303
    history = client.get(url + "/history").get_data(as_text=True)
    for word in ("Start", "Complete", "Amend: MPP was declined", "Entered in error: Wrong patient"):
        assert word in history
    snapshot = client.get(url + "/versions/2")
    assert snapshot.status_code == 200
    assert "Manual perineal protection" in snapshot.get_data(as_text=True)


def test_another_units_checklist_is_not_found(
    client: FlaskClient,
    session: Session,
    unit: Unit,
    midwife: User,
    make_user: Callable[..., User],
    sign_in: Callable[..., Any],
) -> None:
    url = start_oasi(client, unit)
    other = make_unit_offering(session, "oasi-care-bundle", code="ward-2")
    make_user("nurse", role=Role.CLINICIAN, units=[other])
    client.post("/sign-out")
    sign_in("nurse")
    assert client.get(url).status_code == 404
    assert client.post(url, data={"version": "2", "action": "save"}).status_code == 404
    assert client.get(f"/ward/checklists/{uuid.uuid4()}").status_code == 404
    assert client.get("/ward/checklists/not-a-uuid").status_code == 404


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"patient_value": "943 476 5918"}, "check digit does not match"),
        ({"patient_value": "12"}, "is 10 digits"),
        ({"choice": "999999:oasi-care-bundle"}, "Select a care bundle"),
        ({"anchor-day": "31", "anchor-month": "2"}, "real date"),
        ({"patient_kind": "chi-number"}, "does not take a CHI number"),
    ],
)
def test_bad_start_details_are_form_errors(
    client: FlaskClient, unit: Unit, midwife: User, changes: dict[str, str], message: str
) -> None:
    form = {
        "choice": f"{unit.id}:oasi-care-bundle",
        "patient_kind": "nhs-number",
        "patient_value": NHS,
        "anchor-day": "29",
        "anchor-month": "3",
        "anchor-year": "2026",
        "anchor-time": "02:30",
        **changes,
    }
    response = client.post("/ward/start", data=form)
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert message in body
    assert "943 476 5918" not in body.split("There is a problem")[1].split("</div>")[0]


def test_an_open_checklist_for_the_same_patient_is_shown_as_a_possible_duplicate(
    client: FlaskClient, unit: Unit, midwife: User
) -> None:
    start_oasi(client, unit)
    again = client.post(
        "/ward/start",
        data={
            "choice": f"{unit.id}:oasi-care-bundle",
            "patient_kind": "nhs-number",
            "patient_value": NHS,
            "anchor-day": "29",
            "anchor-month": "3",
            "anchor-year": "2026",
            "anchor-time": "03:00",
        },
    )
    assert "may already have this checklist open" in again.get_data(as_text=True)


def test_starting_twice_with_the_same_id_starts_one_checklist(
    client: FlaskClient, session: Session, unit: Unit, midwife: User
) -> None:
    form = {
        "choice": f"{unit.id}:oasi-care-bundle",
        "patient_kind": "nhs-number",
        "patient_value": NHS,
        "anchor-day": "29",
        "anchor-month": "3",
        "anchor-year": "2026",
        "anchor-time": "02:30",
        "action": "start",
        "checklist_id": str(uuid.uuid4()),
    }
    first = client.post("/ward/start", data=form)
    second = client.post("/ward/start", data=form)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert len(session.scalars(select(Checklist)).all()) == 1


def test_the_worklist_shows_open_checklists_with_due_badges(
    client: FlaskClient, unit: Unit, midwife: User, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    form = {
        "choice": f"{unit.id}:freed-triage",
        "patient_kind": "nhs-number",
        "patient_value": NHS,
        "anchor-day": "29",
        "anchor-month": "3",
        "anchor-year": "2026",
        "anchor-time": "09:00",
        "action": "start",
        "checklist_id": str(uuid.uuid4()),
    }
    url = client.post("/ward/start", data=form).headers["Location"]
    page = client.get(url).get_data(as_text=True)
    answers = {
        "e-date-of-birth-day": "3",
        "e-date-of-birth-month": "3",
        "e-date-of-birth-year": "2008",
        "e-onset-date-day": "1",
        "e-onset-date-month": "1",
        "e-onset-date-year": "2024",
        "e-previous-treatment": "no",
        "e-diagnosis": "osfed",
        "e-freed-eligible": "yes",
        "e-clinically-serious": "no",
    }
    assert (
        client.post(url, data={"version": version_of(page), "action": "save", **answers}).status_code == 303
    )
    worklist = client.get("/ward/").get_data(as_text=True)
    assert "FREED triage" in worklist
    assert "Due by Tue 31 Mar 09:00" in worklist  # 48 h from 09:00 BST on 29 March
    monkeypatch.setitem(app.config, "WARD_NOW", dt.datetime(2026, 4, 1, 10, 0, tzinfo=dt.UTC))
    assert "Overdue by" in client.get("/ward/").get_data(as_text=True)


def test_the_care_bundle_definition_for_the_browser(client: FlaskClient, midwife: User) -> None:
    body = client.get("/ward/care-bundles/oasi-care-bundle/2.0.0.json").get_json()
    assert body["careBundle"]["id"] == "oasi-care-bundle"
    assert "2026-04-06" in body["bankHolidays"]["england-and-wales"]  # Easter Monday
    assert client.get("/ward/care-bundles/oasi-care-bundle/9.9.9.json").status_code == 404


def test_posts_need_the_csrf_token(
    client: FlaskClient, unit: Unit, midwife: User, csrf_enabled: None
) -> None:
    assert client.post("/ward/start", data={"choice": f"{unit.id}:oasi-care-bundle"}).status_code == 400


def wrapper_hidden(page: str, name: str) -> bool:
    found = re.search(rf'<div class="careloop-element" id="{re.escape(name)}-wrapper"[^>]*>', page)
    assert found is not None, f"no {name} on the page"
    return found[0].endswith(" hidden>")


def test_adding_a_repeating_group_instance_shows_it_ready_to_fill_in(
    client: FlaskClient,
    session: Session,
    make_user: Callable[..., User],
    sign_in: Callable[..., Any],
) -> None:
    """Found by the browser tests: "Add ..." saved and redirected, and the new instance, holding no answer,
    was not stored, so it never appeared; and the questions of an instance with no answer were hidden."""
    renal = make_unit_offering(session, "sharehd", code="renal")
    make_user("nurse", role=Role.CLINICIAN, units=[renal])
    assert sign_in("nurse").status_code == 303
    url = client.post(
        "/ward/start",
        data={
            "choice": f"{renal.id}:sharehd",
            "patient_kind": "nhs-number",
            "patient_value": NHS,
            "anchor-day": "27",
            "anchor-month": "3",
            "anchor-year": "2026",
            "anchor-time": "09:00",
            "action": "start",
            "checklist_id": str(uuid.uuid4()),
        },
    ).headers["Location"]
    page = client.get(url).get_data(as_text=True)
    offered = {"e-shc-offered": "offered-taken-up"}
    added = client.post(
        url, data={"version": version_of(page), "action": "add-tasks", "g-tasks-count": "0", **offered}
    )
    assert added.status_code == 200  # saved, and the form shown again with one more instance
    body = added.get_data(as_text=True)
    assert 'id="tasks-0"' in body
    assert not wrapper_hidden(body, "g-tasks-0-task-name")
    assert not wrapper_hidden(body, "g-tasks-0-task-status")
    assert wrapper_hidden(body, "g-tasks-0-retraining")  # conditional: shown once the status is competent
    assert int(version_of(body)) == int(version_of(page)) + 1
    checklist = session.scalars(select(Checklist)).one()
    assert checklist.version == int(version_of(body))

    # An empty instance before an answered one: each instance's questions follow its own answers.
    again = client.post(
        url,
        data={
            "version": version_of(body),
            "action": "add-tasks",
            "g-tasks-count": "2",
            "g-tasks-1-task-name": "Needling",
            "g-tasks-1-task-status": "competent",
            **offered,
        },
    )
    assert again.status_code == 200
    body = again.get_data(as_text=True)
    assert 'id="tasks-2"' in body
    assert not wrapper_hidden(body, "g-tasks-0-task-name")
    assert wrapper_hidden(body, "g-tasks-0-retraining")
    assert not wrapper_hidden(body, "g-tasks-1-retraining")
    assert wrapper_hidden(body, "g-tasks-2-retraining")
    saved = client.get(url).get_data(as_text=True)  # stored: the answered instance only
    assert 'id="tasks-0"' in saved
    assert 'id="tasks-1"' not in saved
    assert 'value="Needling"' in saved


def test_every_read_of_a_checklist_is_audited_after_the_page_is_rendered(
    client: FlaskClient, session: Session, unit: Unit, midwife: User
) -> None:
    url = start_oasi(client, unit)
    checklist_id = url.rsplit("/", 1)[1]
    for path in (url, url + "/history"):
        assert client.get(path).status_code == 200
    reads = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "read", AuditEvent.entity_id == checklist_id)
    ).all()
    assert len(reads) == 2
    assert all(event.actor_user_id == midwife.id for event in reads)
    assert client.get("/ward/").status_code == 200
    assert session.scalars(select(AuditEvent).where(AuditEvent.action == "search")).one().detail == {
        "listed": 1
    }


def test_the_completed_page_gives_reasons_in_the_questions_own_words(
    client: FlaskClient, unit: Unit, midwife: User
) -> None:
    url = start_oasi(client, unit)
    page = client.get(url).get_data(as_text=True)
    assert (
        client.post(url, data={"version": version_of(page), "action": "complete", **VAGINAL}).status_code
        == 303
    )
    completed = client.get(url).get_data(as_text=True)
    assert (
        "Applies only when “Was an episiotomy clinically indicated?” is "
        "“Yes - severe perineal trauma imminent”" in completed
    )
    assert "episiotomy-indication =" not in completed


def test_a_missing_answer_is_named_in_the_error_summary(
    client: FlaskClient, unit: Unit, midwife: User
) -> None:
    url = start_oasi(client, unit)
    page = client.get(url).get_data(as_text=True)
    answers = {key: value for key, value in VAGINAL.items() if key != "e-perineal-examination"}
    refused = client.post(url, data={"version": version_of(page), "action": "complete", **answers})
    assert (
        "Answer: Systematic examination of the perineum, including vaginal and rectal examination"
        in refused.get_data(as_text=True)
    )


def test_a_value_out_of_range_is_refused_at_its_field_and_nothing_is_saved(
    client: FlaskClient, session: Session, unit: Unit, midwife: User
) -> None:
    url = start_oasi(client, unit)
    page = client.get(url).get_data(as_text=True)
    version = version_of(page)
    answers = {
        **VAGINAL,
        "e-episiotomy-indication": "fetal-compromise",
        "e-episiotomy-performed": "yes",
        "e-episiotomy-mediolateral-60": "no",
        "e-episiotomy-angle": "120",
    }
    refused = client.post(url, data={"version": version, "action": "save", **answers})
    assert refused.status_code == 422
    body = refused.get_data(as_text=True)
    assert 'href="#e-episiotomy-angle-wrapper"' in body
    assert "maximum 90" in body
    assert str(session.scalars(select(Checklist)).one().version) == version


@pytest.mark.parametrize("version", ["", "abc", "0", "99"])
def test_a_tampered_version_field_never_overwrites(
    client: FlaskClient, session: Session, unit: Unit, midwife: User, version: str
) -> None:
    url = start_oasi(client, unit)
    before = session.scalars(select(Checklist)).one().version
    response = client.post(url, data={"version": version, "action": "save", **VAGINAL})
    assert response.status_code == 409
    assert session.scalars(select(Checklist)).one().version == before
