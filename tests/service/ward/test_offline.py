"""The ward tablet with no network (issue 9), server side (``service.ward.offline``): the JSON replies of
the replay queue, the session the tablet asks about, whose pages are whose, the service worker and its
shell, and a sign-in across a shift with an injected clock."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

import service.ward.offline as offline
from service import create_app
from service.config import ConfigError
from service.models import Checklist, ChecklistStatus, Delivery, Role, Unit, User
from tests.conftest import TEST_PASSWORD
from tests.factories import INVALID_NHS_NUMBER, OASI_FORM, make_unit_offering

NOW = dt.datetime(2026, 3, 29, 10, 0, tzinfo=dt.UTC)
JSON = {"Accept": "application/json"}
SHIFT = 12 * 3600
CSRF_FIELD = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
USER_META = re.compile(r'<meta name="careloop-user" content="([^"]*)">')


def start_form(unit: Unit, care_bundle_id: str = "oasi-care-bundle", **changes: str) -> dict[str, str]:
    """The fields of the start page (as ``start_oasi`` of test_pages posts them)."""
    return {
        "choice": f"{unit.id}:{care_bundle_id}",
        "patient_kind": "nhs-number",
        "patient_value": "943 476 5919",
        "anchor-day": "29",
        "anchor-month": "3",
        "anchor-year": "2026",
        "anchor-time": "02:30",
        **changes,
    }


def start_json(
    client: FlaskClient,
    unit: Unit,
    *,
    headers: dict[str, str] | None = None,
    changes: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Start a checklist as the replay queue does (``action=start``, a UUID made on the tablet)."""
    form = start_form(unit, action="start", checklist_id=str(uuid.uuid4()), **(changes or {}))
    response = client.post("/ward/start", data=form, headers={**JSON, **(headers or {})})
    assert response.status_code == 200
    body: dict[str, Any] = response.get_json()
    assert body["outcome"] == "started"
    return body


def post_json(
    client: FlaskClient,
    checklist_id: str,
    *,
    action: str,
    version: int,
    base: str = "",
    headers: dict[str, str] | None = None,
    answers: Mapping[str, str] | None = None,
) -> TestResponse:
    """What the replay queue posts: the form, as the page would post it, asking for JSON."""
    return client.post(
        f"/ward/checklists/{checklist_id}",
        data={"action": action, "version": str(version), "base": base, **(answers or {})},
        headers={**JSON, **(headers or {})},
    )


def stored(session: Session, checklist_id: str) -> Checklist:
    session.expire_all()
    return session.scalars(select(Checklist).where(Checklist.id == uuid.UUID(checklist_id))).one()


def deliveries(session: Session, checklist_id: str) -> list[Delivery]:
    session.expire_all()
    found = session.scalars(select(Delivery).where(Delivery.checklist_id == uuid.UUID(checklist_id)))
    return list(found.all())


def session_info(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/ward/session", headers=JSON)
    assert response.status_code == 200
    body: dict[str, Any] = response.get_json()
    return body


# -- 1. replies to the replay queue: POST /ward/checklists/<id> ----------------------------------------


def test_a_json_save_says_what_was_stored(
    client: FlaskClient, session: Session, unit: Unit, midwife: User
) -> None:
    started = start_json(client, unit)
    checklist_id = started["checklist"]
    saved = post_json(
        client,
        checklist_id,
        action="save",
        version=1,
        base=started["base"],
        answers={"e-birth-mode": "spontaneous-vaginal"},
    )
    assert saved.status_code == 200
    assert saved.mimetype == "application/json"
    body = saved.get_json()
    assert set(body) == {"outcome", "checklist", "version", "status", "base", "url"}
    assert body["outcome"] == "saved"
    assert body["checklist"] == checklist_id
    assert body["version"] == 2
    assert body["status"] == str(ChecklistStatus.IN_PROGRESS)
    assert isinstance(body["base"], str)
    assert json.loads(body["base"])["e-birth-mode"] == ["spontaneous-vaginal"]
    assert body["url"] == f"/ward/checklists/{checklist_id}"
    assert stored(session, checklist_id).version == 2
    page = client.get(body["url"])
    assert page.status_code == 200
    assert re.search(r'value="spontaneous-vaginal"\s+checked', page.get_data(as_text=True))


def test_a_json_complete_and_its_replay_after_a_lost_response(
    client: FlaskClient, session: Session, unit: Unit, midwife: User
) -> None:
    started = start_json(client, unit)
    checklist_id = started["checklist"]
    done = post_json(
        client, checklist_id, action="complete", version=1, base=started["base"], answers=OASI_FORM
    )
    assert done.status_code == 200
    body = done.get_json()
    assert body["outcome"] == "completed"
    assert body["status"] == str(ChecklistStatus.COMPLETED)
    assert body["version"] == 2
    assert json.loads(body["base"])["e-mpp"] == ["yes"]

    # The response was lost: the queue sends the same complete, based on the same version, again.
    again = post_json(
        client, checklist_id, action="complete", version=1, base=started["base"], answers=OASI_FORM
    )
    assert again.status_code == 200
    replayed = again.get_json()
    assert replayed["outcome"] == "completed"
    assert replayed["version"] == 2
    checklist = stored(session, checklist_id)
    assert checklist.version == 2
    assert checklist.status == ChecklistStatus.COMPLETED
    assert len(deliveries(session, checklist_id)) == 1


def test_a_json_complete_missing_a_required_answer_is_invalid_and_saves_nothing(
    client: FlaskClient, session: Session, unit: Unit, midwife: User
) -> None:
    started = start_json(client, unit)
    checklist_id = started["checklist"]
    answers = {key: value for key, value in OASI_FORM.items() if key != "e-mpp"}
    refused = post_json(
        client, checklist_id, action="complete", version=1, base=started["base"], answers=answers
    )
    assert refused.status_code == 422
    body = refused.get_json()
    assert body["outcome"] == "invalid"
    assert "e-mpp" in body["errors"]
    assert body["errors"]["e-mpp"].startswith("Answer")
    checklist = stored(session, checklist_id)
    assert checklist.version == 1
    assert checklist.status == ChecklistStatus.IN_PROGRESS
    assert deliveries(session, checklist_id) == []


def test_a_json_save_on_an_older_version_with_other_answers_is_a_conflict(
    client: FlaskClient, session: Session, unit: Unit, midwife: User
) -> None:
    started = start_json(client, unit)
    checklist_id = started["checklist"]
    first = post_json(
        client,
        checklist_id,
        action="save",
        version=1,
        base=started["base"],
        answers={"e-birth-mode": "spontaneous-vaginal"},
    )
    assert first.status_code == 200
    # Queued on the tablet on version 1 too, with other answers.
    second = post_json(
        client,
        checklist_id,
        action="save",
        version=1,
        base=started["base"],
        answers={"e-antenatal-discussion": "yes"},
    )
    assert second.status_code == 409
    body = second.get_json()
    assert body["outcome"] == "conflict"
    assert body["version"] == 2
    assert stored(session, checklist_id).version == 2
    page = client.get(f"/ward/checklists/{checklist_id}").get_data(as_text=True)
    found = re.search(r'name="base" value="([^"]*)"', page)
    assert found is not None
    now_stored = json.loads(found[1].replace("&#34;", '"').replace("&quot;", '"'))
    assert now_stored["e-birth-mode"] == ["spontaneous-vaginal"]
    assert "e-antenatal-discussion" not in now_stored


def test_a_json_amend_says_amended_and_needs_a_reason(
    client: FlaskClient, session: Session, unit: Unit, midwife: User
) -> None:
    started = start_json(client, unit)
    checklist_id = started["checklist"]
    done = post_json(
        client, checklist_id, action="complete", version=1, base=started["base"], answers=OASI_FORM
    )
    assert done.status_code == 200
    changed = {**OASI_FORM, "e-mpp": "declined"}
    no_reason = post_json(
        client, checklist_id, action="amend", version=2, base=done.get_json()["base"], answers=changed
    )
    # InvalidInput (400) here, where the page answers 422: the queue reads the outcome, not the status.
    assert no_reason.status_code in (400, 422)
    assert no_reason.get_json() == {
        "outcome": "invalid",
        "errors": {"_reason": "Give a reason of 1 to 500 characters"},
    }
    assert stored(session, checklist_id).version == 2
    amended = post_json(
        client,
        checklist_id,
        action="amend",
        version=2,
        base=done.get_json()["base"],
        answers={**changed, "reason": "MPP was declined"},
    )
    assert amended.status_code == 200
    body = amended.get_json()
    assert body["outcome"] == "amended"
    assert body["status"] == str(ChecklistStatus.AMENDED)
    assert body["version"] == 3
    assert json.loads(body["base"])["e-mpp"] == ["declined"]
    assert len(deliveries(session, checklist_id)) == 2


def test_a_json_amend_of_a_checklist_in_progress_is_not_an_amendment(
    client: FlaskClient, session: Session, unit: Unit, midwife: User
) -> None:
    started = start_json(client, unit)
    checklist_id = started["checklist"]
    reply = post_json(
        client,
        checklist_id,
        action="amend",
        version=1,
        base=started["base"],
        answers={**OASI_FORM, "reason": "Typo"},
    )
    # Amending is for a completed checklist (the lifecycle refuses it from in progress): a queued amend
    # of a checklist in progress is a conflict for the user to review, and nothing is saved.
    assert reply.status_code == 409
    assert reply.get_json()["outcome"] == "conflict"
    assert stored(session, checklist_id).version == 1


@pytest.mark.parametrize("based_on", ["queued-version", "current-version"])
def test_a_queued_save_of_a_checklist_completed_since_is_a_conflict(
    client: FlaskClient, session: Session, unit: Unit, midwife: User, based_on: str
) -> None:
    started = start_json(client, unit)
    checklist_id = started["checklist"]
    done = post_json(
        client, checklist_id, action="complete", version=1, base=started["base"], answers=OASI_FORM
    )
    assert done.status_code == 200
    version = 1 if based_on == "queued-version" else done.get_json()["version"]
    queued = post_json(
        client,
        checklist_id,
        action="save",
        version=version,
        base=started["base"],
        answers={"e-mpp": "declined"},
    )
    assert queued.status_code == 409
    body = queued.get_json()
    assert body["outcome"] == "conflict"
    assert body["version"] == 2
    assert body["status"] == str(ChecklistStatus.COMPLETED)
    checklist = stored(session, checklist_id)
    assert checklist.version == 2
    assert checklist.status == ChecklistStatus.COMPLETED


def test_json_cannot_add_a_group_instance(
    client: FlaskClient, session: Session, make_user: Callable[..., User], sign_in: Callable[..., Any]
) -> None:
    renal = make_unit_offering(session, "sharehd", code="renal")
    make_user("nurse", role=Role.CLINICIAN, units=[renal])
    assert sign_in("nurse").status_code == 303
    started = start_json(
        client, renal, changes={"choice": f"{renal.id}:sharehd", "anchor-day": "27", "anchor-time": "09:00"}
    )
    checklist_id = started["checklist"]
    form = {"g-tasks-count": "0", "e-shc-offered": "offered-taken-up"}
    refused = post_json(client, checklist_id, action="add-tasks", version=1, answers=form)
    assert refused.status_code == 400
    assert stored(session, checklist_id).version == 1
    # The same post from the page adds the instance (so the 400 is the JSON rule, not the form).
    page = client.post(
        f"/ward/checklists/{checklist_id}", data={"action": "add-tasks", "version": "1", **form}
    )
    assert page.status_code == 200
    assert 'id="tasks-0"' in page.get_data(as_text=True)


@pytest.mark.parametrize("interactive", [True, False])
def test_an_interactive_complete_flashes_on_the_next_page(
    client: FlaskClient, unit: Unit, midwife: User, interactive: bool
) -> None:
    started = start_json(client, unit)
    headers = {"X-Careloop-Interactive": "1"} if interactive else {}
    done = post_json(
        client,
        started["checklist"],
        action="complete",
        version=1,
        base=started["base"],
        headers=headers,
        answers=OASI_FORM,
    )
    assert done.status_code == 200
    page = client.get(done.get_json()["url"]).get_data(as_text=True)
    assert ("Checklist completed. It will be sent to the patient" in page) is interactive
    # A flash is shown once.
    assert "Checklist completed. It will be sent" not in client.get(done.get_json()["url"]).get_data(
        as_text=True
    )


# -- 2. a checklist started with no network -----------------------------------------------------------


def test_a_json_start_with_a_client_made_id_starts_one_checklist(
    client: FlaskClient, session: Session, unit: Unit, midwife: User
) -> None:
    checklist_id = str(uuid.uuid4())
    form = start_form(unit, action="start", checklist_id=checklist_id)
    first = client.post("/ward/start", data=form, headers=JSON)
    assert first.status_code == 200
    body = first.get_json()
    assert body["outcome"] == "started"
    assert body["version"] == 1
    assert body["checklist"] == checklist_id
    assert body["status"] == str(ChecklistStatus.IN_PROGRESS)
    assert body["url"] == f"/ward/checklists/{checklist_id}"
    second = client.post("/ward/start", data=form, headers=JSON)
    assert second.status_code == 200
    assert second.get_json()["checklist"] == checklist_id
    assert second.get_json()["version"] == 1
    session.expire_all()
    assert [str(c.id) for c in session.scalars(select(Checklist)).all()] == [checklist_id]


def test_a_json_start_must_be_the_start_action(
    client: FlaskClient, session: Session, unit: Unit, midwife: User
) -> None:
    form = start_form(unit, checklist_id=str(uuid.uuid4()))
    assert client.post("/ward/start", data=form, headers=JSON).status_code == 400
    assert client.post("/ward/start", data={**form, "action": "confirm"}, headers=JSON).status_code == 400
    # The page's first step still confirms.
    assert client.post("/ward/start", data=form).status_code == 200
    session.expire_all()
    assert session.scalars(select(Checklist)).all() == []


def test_a_json_start_with_a_bad_nhs_number_is_invalid(
    client: FlaskClient, session: Session, unit: Unit, midwife: User
) -> None:
    form = start_form(unit, action="start", checklist_id=str(uuid.uuid4()), patient_value=INVALID_NHS_NUMBER)
    refused = client.post("/ward/start", data=form, headers=JSON)
    assert refused.status_code == 422
    body = refused.get_json()
    assert body["outcome"] == "invalid"
    assert "patient_value" in body["errors"]
    assert "check digit" in body["errors"]["patient_value"]
    session.expire_all()
    assert session.scalars(select(Checklist)).all() == []


# -- 3. GET /ward/session -----------------------------------------------------------------------------


def test_the_session_says_who_how_long_and_what_to_keep(
    client: FlaskClient, unit: Unit, midwife: User
) -> None:
    response = client.get("/ward/session", headers=JSON)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    key = body["user"]
    assert isinstance(key, str)
    assert key
    assert key not in (str(midwife.id), midwife.username)
    assert session_info(client)["user"] == key  # stable
    assert isinstance(body["csrf"], str)
    assert body["csrf"]
    assert body["keepSeconds"] == SHIFT

    definitions = body["definitions"]
    assert {re.sub(r"/[^/]+\.json$", "", url) for url in definitions} == {
        "/ward/care-bundles/oasi-care-bundle",
        "/ward/care-bundles/freed-triage",
    }
    for url in definitions:
        got = client.get(url)
        assert got.status_code == 200
        care_bundle = got.get_json()["careBundle"]
        assert url == f"/ward/care-bundles/{care_bundle['id']}/{care_bundle['version']}.json"

    forms = body["blankForms"]
    assert sorted(forms) == sorted(
        [f"/ward/start/offline/{unit.id}/oasi-care-bundle", f"/ward/start/offline/{unit.id}/freed-triage"]
    )
    for url in forms:
        blank = client.get(url)
        assert blank.status_code == 200
        assert blank.mimetype == "text/html"
        assert 'data-offline-start="1"' in blank.get_data(as_text=True)


def test_the_user_key_differs_between_users(
    client: FlaskClient,
    unit: Unit,
    midwife: User,
    make_user: Callable[..., User],
    sign_in: Callable[..., Any],
) -> None:
    first = session_info(client)["user"]
    make_user("nurse", role=Role.CLINICIAN, units=[unit])
    assert client.post("/sign-out").status_code == 303
    assert sign_in("nurse").status_code == 303
    second = session_info(client)["user"]
    assert second != first
    assert client.post("/sign-out").status_code == 303
    assert sign_in("midwife").status_code == 303
    assert session_info(client)["user"] == first  # the same user, signed in again


def test_keep_seconds_follow_the_setting(
    client: FlaskClient, app: Flask, unit: Unit, midwife: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "OFFLINE_KEEP_HOURS", 8)
    assert session_info(client)["keepSeconds"] == 8 * 3600
    assert client.get("/ward/").headers["X-Careloop-Keep"] == str(8 * 3600)


def test_the_session_of_nobody_is_401(client: FlaskClient) -> None:
    assert client.get("/ward/session", headers=JSON).status_code == 401


def test_a_blank_form_of_another_unit_or_care_bundle_is_not_found(
    client: FlaskClient, session: Session, unit: Unit, midwife: User
) -> None:
    other = make_unit_offering(session, "oasi-care-bundle", code="ward-2")
    assert client.get(f"/ward/start/offline/{unit.id}/oasi-care-bundle").status_code == 200
    assert client.get(f"/ward/start/offline/{other.id}/oasi-care-bundle").status_code == 404
    assert client.get(f"/ward/start/offline/{unit.id}/sharehd").status_code == 404  # not offered here
    assert client.get(f"/ward/start/offline/{unit.id}/no-such-bundle").status_code == 404
    session.expire_all()
    assert session.scalars(select(Checklist)).all() == []  # the blank form's placeholder is never stored


# -- 4. whose page it is ------------------------------------------------------------------------------


def test_ward_pages_say_whose_they_are_and_are_not_stored(
    client: FlaskClient, unit: Unit, midwife: User
) -> None:
    key = session_info(client)["user"]
    checklist_url = start_json(client, unit)["url"]
    for url in ("/ward/", "/ward/start", checklist_url, f"/ward/start/offline/{unit.id}/oasi-care-bundle"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.mimetype == "text/html"
        assert response.headers["Cache-Control"] == "private, no-store", url
        assert response.headers["X-Careloop-User"] == key, url
        assert response.headers["X-Careloop-Keep"] == str(SHIFT), url
        found = USER_META.search(response.get_data(as_text=True))
        assert found is not None, url
        assert found[1] == key


def test_the_sign_in_page_belongs_to_nobody(client: FlaskClient) -> None:
    response = client.get("/sign-in")
    assert response.status_code == 200
    assert "X-Careloop-User" not in response.headers
    assert "X-Careloop-Keep" not in response.headers
    assert 'name="careloop-user"' not in response.get_data(as_text=True)


# -- 5. the service worker ----------------------------------------------------------------------------


def worker_settings(client: FlaskClient) -> tuple[dict[str, Any], TestResponse]:
    response = client.get("/ward/sw.js")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    first, _, _rest = text.partition("\n")
    assert first.startswith("const CARELOOP = ")
    assert first.endswith(";")
    settings: dict[str, Any] = json.loads(first.removeprefix("const CARELOOP = ").removesuffix(";"))
    return settings, response


def test_the_service_worker_names_its_shell(client: FlaskClient) -> None:
    settings, response = worker_settings(client)
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.get_data(as_text=True).endswith(offline.SERVICE_WORKER.read_text(encoding="utf-8"))
    assert isinstance(settings["version"], str)
    assert settings["version"]
    shell = settings["shell"]
    assert "/assets/idb/index.js" in shell
    assert "/static/offline.html" in shell
    assert "/static/js/offline/sw.js" not in shell
    for url in shell:
        got = client.get(url)
        assert got.status_code == 200, url
        got.close()
    assert settings["offlinePage"] == "/static/offline.html"
    assert settings["signIn"] == "/sign-in"
    assert worker_settings(client)[0]["version"] == settings["version"]  # stable while nothing changes


def test_the_service_worker_version_changes_with_a_shell_file(
    client: FlaskClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "static"
    shutil.copytree(offline.STATIC, copy)
    monkeypatch.setattr(offline, "STATIC", copy)
    before = worker_settings(client)[0]["version"]
    assert worker_settings(client)[0]["version"] == before
    script = copy / "js" / "checklist.js"
    original = script.read_text(encoding="utf-8")
    script.write_text(original + "\n// a new release\n", encoding="utf-8")
    changed = worker_settings(client)[0]["version"]
    assert changed != before
    written = script.stat().st_mtime_ns
    script.write_text(original, encoding="utf-8")  # the content decides, not the file's time
    os.utime(script, ns=(written + 10**9, written + 10**9))  # a later write, even on a coarse clock
    assert worker_settings(client)[0]["version"] == before


def test_the_service_worker_version_changes_with_the_idb_package(
    client: FlaskClient, app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "idb"
    shutil.copytree(app.config["IDB_DIR"], copy)
    monkeypatch.setitem(app.config, "IDB_DIR", str(copy))
    before = worker_settings(client)[0]["version"]
    index = copy / "index.js"
    index.write_text(index.read_text(encoding="utf-8") + "\n// idb upgraded\n", encoding="utf-8")
    assert worker_settings(client)[0]["version"] != before


def test_only_the_idb_files_the_tablet_uses_are_served(client: FlaskClient) -> None:
    index = client.get("/assets/idb/index.js")
    assert index.status_code == 200
    assert index.mimetype == "text/javascript"
    index.close()
    assert client.get("/assets/idb/other.js").status_code == 404
    assert client.get("/assets/idb/index.cjs").status_code == 404  # in the package, not in the shell


# -- 6. a sign-in across a shift ----------------------------------------------------------------------


class ShiftClock:
    """``time.time()`` of the sign-in code, ``offset`` seconds later than the real clock."""

    def __init__(self) -> None:
        self.offset = 0.0
        self._real = time.time

    def time(self) -> float:
        return self._real() + self.offset


def sign_in_with_csrf(client: FlaskClient, username: str) -> TestResponse:
    page = client.get("/sign-in")
    found = CSRF_FIELD.search(page.get_data(as_text=True))
    assert found is not None
    return client.post(
        "/sign-in", data={"username": username, "password": TEST_PASSWORD, "csrf_token": found[1]}
    )


def test_a_sign_in_lasts_a_shift_and_a_new_one_needs_a_new_token(
    client: FlaskClient,
    session: Session,
    unit: Unit,
    make_user: Callable[..., User],
    csrf_enabled: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = ShiftClock()
    # The whole server's clock moves: the sign-in lifetime check and the time a sign-in records.
    monkeypatch.setattr("service.auth.login.time", clock)
    monkeypatch.setattr("service.auth.views.time", clock)
    make_user("midwife", role=Role.CLINICIAN, units=[unit])
    assert sign_in_with_csrf(client, "midwife").status_code == 303
    token = session_info(client)["csrf"]
    started = start_json(client, unit, headers={"X-CSRFToken": token})
    checklist_id = started["checklist"]

    clock.offset = 11 * 3600
    late = post_json(
        client,
        checklist_id,
        action="save",
        version=1,
        base=started["base"],
        headers={"X-CSRFToken": token},
        answers={"e-birth-mode": "spontaneous-vaginal"},
    )
    assert late.status_code == 200
    assert late.get_json()["version"] == 2

    clock.offset = SHIFT + 60
    expired = post_json(
        client,
        checklist_id,
        action="save",
        version=2,
        base=late.get_json()["base"],
        headers={"X-CSRFToken": token},
        answers={"e-birth-mode": "spontaneous-vaginal", "e-antenatal-discussion": "yes"},
    )
    assert expired.status_code == 401
    assert stored(session, checklist_id).version == 2

    assert sign_in_with_csrf(client, "midwife").status_code == 303
    stale_token = post_json(
        client,
        checklist_id,
        action="save",
        version=2,
        base=late.get_json()["base"],
        headers={"X-CSRFToken": token},
        answers={"e-birth-mode": "spontaneous-vaginal", "e-antenatal-discussion": "yes"},
    )
    assert stale_token.status_code == 400
    assert stale_token.get_json()["outcome"] == "csrf"
    assert stored(session, checklist_id).version == 2

    fresh = session_info(client)["csrf"]
    assert fresh != token
    saved = post_json(
        client,
        checklist_id,
        action="save",
        version=2,
        base=late.get_json()["base"],
        headers={"X-CSRFToken": fresh},
        answers={"e-birth-mode": "spontaneous-vaginal", "e-antenatal-discussion": "yes"},
    )
    assert saved.status_code == 200
    assert saved.get_json()["version"] == 3
    assert stored(session, checklist_id).version == 3


# -- 7. settings --------------------------------------------------------------------------------------


@pytest.mark.parametrize("hours", [0, -1, 169, True, "12"])
def test_keep_hours_outside_a_week_are_refused(tmp_path: Path, hours: object) -> None:
    with pytest.raises(ConfigError, match="OFFLINE_KEEP_HOURS"):
        create_app(
            {"ENV": "testing", "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "OFFLINE_KEEP_HOURS": hours}
        )


def test_keep_hours_may_be_a_fraction(tmp_path: Path) -> None:
    app = create_app(
        {"ENV": "testing", "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "OFFLINE_KEEP_HOURS": 0.5}
    )
    with app.test_request_context():
        assert offline.keep_seconds() == 1800
