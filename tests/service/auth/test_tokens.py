"""System clients' bearer tokens (issue 10, item 3): scopes, ``flask tokens``, and what ``/fhir`` answers to
a missing, bad, expired, revoked or under-scoped token; every use audited."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.auth.tokens import Grant, create_token, parse_scopes
from service.errors import InvalidInput
from service.models import ApiToken, AuditEvent, Unit
from tests.factories import make_unit_offering


@pytest.fixture
def unit(session: Session) -> Unit:
    return make_unit_offering(session, "oasi-care-bundle")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("scopes", "allowed"),
    [
        ("system/QuestionnaireResponse.rs", {"QuestionnaireResponse": {"r", "s"}}),
        ("system/QuestionnaireResponse.cu", {"QuestionnaireResponse": {"c", "u"}}),
        ("system/Questionnaire.cruds", {"Questionnaire": set("cruds")}),
        ("system/QuestionnaireResponse.read", {"QuestionnaireResponse": {"r", "s"}}),
        ("system/QuestionnaireResponse.write", {"QuestionnaireResponse": {"c", "u", "d"}}),
        (
            "system/Questionnaire.* system/QuestionnaireResponse.r",
            {"Questionnaire": set("cruds"), "QuestionnaireResponse": {"r"}},
        ),
    ],
)
def test_smart_v2_and_v1_scopes(scopes: str, allowed: dict[str, set[str]]) -> None:
    assert parse_scopes(scopes) == Grant({key: frozenset(value) for key, value in allowed.items()})


@pytest.mark.parametrize(
    "scopes",
    [
        "",
        "patient/QuestionnaireResponse.rs",
        "user/Questionnaire.read",
        "system/Patient.rs",
        "system/Questionnaire.sr",
        "system/Questionnaire.x",
        "system/Questionnaire.",
    ],
)
def test_other_scopes_are_refused(scopes: str) -> None:
    with pytest.raises(InvalidInput):
        parse_scopes(scopes)


def test_only_the_hash_is_kept_and_a_unit_must_be_of_the_site(session: Session, unit: Unit) -> None:
    row, secret = create_token(
        session, name="EPR engine", site=unit.site, unit=unit, scopes="system/QuestionnaireResponse.cu"
    )
    assert row.token_sha256 == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in (row.name, row.scopes, row.token_sha256)
    other = make_unit_offering(session, "oasi-care-bundle", code="ward-2")
    with pytest.raises(InvalidInput, match="is not a unit of site"):
        create_token(session, name="x", site=unit.site, unit=other, scopes="system/Questionnaire.rs")


def test_flask_tokens_create_list_revoke(runner: FlaskCliRunner, session: Session, unit: Unit) -> None:
    made = runner.invoke(
        args=["tokens", "create", "--name", "EPR engine", "--site", unit.site.code, "--unit", unit.code]
        + ["--scope", "system/QuestionnaireResponse.cu", "--scope", "system/Questionnaire.rs"]
    )
    assert made.exit_code == 0, made.output
    secret = made.output.splitlines()[-1]
    assert secret.startswith("clt_")
    listed = runner.invoke(args=["tokens", "list"])
    assert "active" in listed.output
    assert "system/QuestionnaireResponse.cu system/Questionnaire.rs" in listed.output
    assert secret not in listed.output
    token_id = session.scalar(select(ApiToken.id).where(ApiToken.name == "EPR engine"))
    assert runner.invoke(args=["tokens", "revoke", str(token_id)]).exit_code == 0
    assert "revoked" in runner.invoke(args=["tokens", "list"]).output
    bad = runner.invoke(
        args=["tokens", "create", "--name", "x", "--site", unit.site.code, "--scope", "patient/x.r"]
    )
    assert bad.exit_code != 0


def outcome_of(client: FlaskClient, headers: dict[str, str], status: int) -> str:
    response = client.get("/fhir/Questionnaire", headers=headers)
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json(force=True)
    if status >= 400:
        assert body["resourceType"] == "OperationOutcome"
        return str(body["issue"][0]["code"])
    return str(body["resourceType"])


def test_what_fhir_answers_to_each_kind_of_token(client: FlaskClient, session: Session, unit: Unit) -> None:
    good_row, good = create_token(
        session, name="reader", site=unit.site, unit=None, scopes="system/Questionnaire.rs"
    )
    narrow_row, narrow = create_token(
        session, name="writer", site=unit.site, unit=unit, scopes="system/QuestionnaireResponse.cu"
    )
    revoked_row, revoked = create_token(
        session, name="old", site=unit.site, unit=None, scopes="system/Questionnaire.rs"
    )
    revoked_row.revoked_at = dt.datetime.now(dt.UTC)
    expired_row, expired = create_token(
        session,
        name="expired",
        site=unit.site,
        unit=None,
        scopes="system/Questionnaire.rs",
        expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1),
    )
    session.commit()

    assert outcome_of(client, {}, 200) == "Bundle"  # the published Questionnaires are public
    assert outcome_of(client, bearer(good), 200) == "Bundle"
    assert outcome_of(client, bearer("clt_unknown"), 401) == "login"
    assert outcome_of(client, bearer(revoked), 401) == "login"
    assert outcome_of(client, bearer(expired), 401) == "login"
    assert outcome_of(client, {"Authorization": f"Basic {good}"}, 401) == "login"
    assert outcome_of(client, bearer(narrow), 403) == "forbidden"

    events = session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "Questionnaire").order_by(AuditEvent.id)
    ).all()
    # Expired and revoked tokens are named by id (which client still uses one); unknown and malformed are not.
    assert [event.actor_client for event in events] == [
        f"token:{good_row.id}",
        "token:invalid",
        f"token:{revoked_row.id}",
        f"token:{expired_row.id}",
        "token:invalid",
        f"token:{narrow_row.id}",
    ]
    assert [event.outcome for event in events] == ["success"] + ["failure"] * 4 + ["denied"]
    assert all(event.detail == {"route": "/fhir/Questionnaire"} for event in events)
    assert session.scalar(select(ApiToken.last_used_at).where(ApiToken.name == "reader")) is not None
