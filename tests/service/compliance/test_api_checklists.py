"""``/api/compliance/checklists``: the checklists behind a point; patient identifiers only with the permission
(granted by ``flask users grant-identifiers``), each such read audited without the identifier."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.auth.tokens import create_token
from service.care_bundles import CareBundleCatalogue
from service.checklists.lifecycle import Actor
from service.models import AuditEvent, Role, Unit, User
from tests.service.compliance.test_api_report import fill
from tests.service.compliance.test_counts import MONDAY, MRN, OASI

ROUTE = "/api/compliance/checklists"


def drill(client: FlaskClient, unit: Unit, **query: Any) -> Any:
    return client.get(
        ROUTE,
        query_string={
            "care_bundle": OASI,
            "unit": f"{unit.site.code}/{unit.code}",
            "period": MONDAY.isoformat(),
            **query,
        },
    )


def identifier_reads(session: Session) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.entity_type == "checklist", AuditEvent.action == "read")
        )
    )


def test_without_the_permission_no_identifiers_and_no_audit(
    client: FlaskClient,
    session: Session,
    catalogue: CareBundleCatalogue,
    nurse: Actor,
    unit: Unit,
    make_user: Callable[..., User],
    sign_in: Callable[..., Any],
) -> None:
    fill(session, catalogue, nurse, unit)
    make_user("lead", role=Role.QI_LEAD, units=[unit])
    sign_in("lead")

    response = drill(client, unit)

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["identifiers_included"] is False
    assert body["period"] == {"start": "2026-03-02", "end": "2026-03-08", "label": "2026-03-02"}
    rows = body["checklists"]
    assert [(row["outcome"], row["duplicate"]) for row in rows] == [
        ("met", False),
        ("not-met", False),
        ("outside", False),
        ("met", True),  # D's first entry, set aside
        ("met", False),
    ]
    assert {row["unit"] for row in rows} == {f"{unit.site.code}/{unit.code}"}
    assert all("patient_identifier" not in row for row in rows)
    assert identifier_reads(session) == []
    assert {"checklist_id", "care_bundle_version", "anchor_time", "completed_at", "status", "reason"} <= set(
        rows[0]
    )


def test_with_the_permission_identifiers_come_and_each_read_is_audited(
    client: FlaskClient,
    session: Session,
    catalogue: CareBundleCatalogue,
    nurse: Actor,
    unit: Unit,
    make_user: Callable[..., User],
    sign_in: Callable[..., Any],
) -> None:
    fill(session, catalogue, nurse, unit)
    lead = make_user("lead", role=Role.QI_LEAD, units=[unit])
    lead.can_read_patient_identifiers = True
    session.flush()
    sign_in("lead")

    body = drill(client, unit, measure="element:mpp").get_json()

    rows = body["checklists"]
    assert body["identifiers_included"] is True
    assert [row["patient_identifier"] for row in rows] == ["A", "B", "C", "D", "D"]
    assert {row["patient_identifier_system"] for row in rows} == {MRN}
    events = identifier_reads(session)
    assert sorted(event.entity_id for event in events) == sorted(row["checklist_id"] for row in rows)
    assert {event.actor_user_id for event in events} == {lead.id}
    for event in events:
        assert event.detail is not None
        assert event.detail["patient_identifier"] is True
        assert event.detail["measure"] == "element:mpp"
        text = json.dumps(event.detail)
        assert MRN not in text
        assert all(f'"{patient}"' not in text for patient in "ABCD")

    # A refused drill-down writes no identifier read.
    before = len(events)
    assert drill(client, unit, period="2026-03-03").status_code == 422
    assert len(identifier_reads(session)) == before


def test_a_period_must_start_a_week_or_month(
    client: FlaskClient, unit: Unit, make_user: Callable[..., User], sign_in: Callable[..., Any]
) -> None:
    make_user("lead", role=Role.QI_LEAD, units=[unit])
    sign_in("lead")
    wednesday = drill(client, unit, period="2026-03-04")
    assert wednesday.status_code == 422
    assert "period" in wednesday.get_json()["errors"]["query"]
    assert drill(client, unit, period="2026-03-01", interval="month").status_code == 200
    assert drill(client, unit, period=None).status_code == 422


def test_tokens_and_other_units_never_get_identifiers(
    client: FlaskClient,
    session: Session,
    catalogue: CareBundleCatalogue,
    nurse: Actor,
    unit: Unit,
    make_user: Callable[..., User],
    sign_in: Callable[..., Any],
) -> None:
    fill(session, catalogue, nurse, unit)
    _, token = create_token(session, name="bi", site=unit.site, unit=None, scopes="system/MeasureReport.rs")
    by_token = client.get(
        ROUTE,
        query_string={"care_bundle": OASI, "site": unit.site.code, "period": MONDAY.isoformat()},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert by_token.status_code == 200
    assert by_token.get_json()["identifiers_included"] is False
    assert all("patient_identifier" not in row for row in by_token.get_json()["checklists"])
    assert identifier_reads(session) == []

    stranger = make_user("stranger", role=Role.QI_LEAD)
    stranger.can_read_patient_identifiers = True
    session.flush()
    sign_in("stranger")
    refused = drill(client, unit)
    assert refused.status_code == 404
    assert "checklists" not in refused.get_json()
    assert identifier_reads(session) == []


def test_the_permission_is_granted_and_revoked_from_the_command_line(
    runner: FlaskCliRunner, session: Session, make_user: Callable[..., User]
) -> None:
    lead = make_user("lead", role=Role.QI_LEAD)
    assert lead.can_read_patient_identifiers is False

    granted = runner.invoke(args=["users", "grant-identifiers", "lead"])
    assert granted.exit_code == 0, granted.output
    assert "may now see patient identifiers" in granted.output
    session.refresh(lead)
    assert lead.can_read_patient_identifiers is True

    revoked = runner.invoke(args=["users", "revoke-identifiers", "lead"])
    assert revoked.exit_code == 0, revoked.output
    session.refresh(lead)
    assert lead.can_read_patient_identifiers is False
    changes = session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "user", AuditEvent.entity_id == str(lead.id))
    ).all()
    assert [event.detail for event in changes] == [
        {"can_read_patient_identifiers": True},
        {"can_read_patient_identifiers": False},
    ]
    assert runner.invoke(args=["users", "grant-identifiers", "nobody"]).exit_code == 1
