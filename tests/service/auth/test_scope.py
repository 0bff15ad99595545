"""Roles for views, units for records: another unit's checklists are not found (404)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask_login import login_user
from sqlalchemy.orm import Session
from werkzeug.exceptions import Forbidden, Unauthorized

from service.auth import ensure_unit_access, login_required, require_role, signed_in_user, unit_ids_of
from service.errors import NotFound
from service.models import Role, Site, Unit, User

MakeUser = Callable[..., User]


def units(session: Session) -> tuple[Unit, Unit, Unit]:
    site = Site(code="TEST1", name="Test trust")
    made = (
        Unit(code="labour", name="Labour"),
        Unit(code="ortho", name="Ortho"),
        Unit(code="freed", name="FREED"),
    )
    site.units.extend(made)
    session.add(site)
    session.flush()
    return made


@require_role(Role.QI_LEAD, Role.ADMIN)
def compliance_view() -> str:
    return "compliance"


@login_required
def any_user_view() -> str:
    return f"hello {signed_in_user().username}"


def test_members_see_their_units_and_admins_all(session: Session, make_user: MakeUser) -> None:
    labour, ortho, freed = units(session)
    clinician = make_user("mia", role=Role.CLINICIAN, units=[labour])
    qi_lead = make_user("quinn", role=Role.QI_LEAD, units=[labour, ortho])
    admin = make_user("ada", role=Role.ADMIN)

    assert unit_ids_of(clinician) == frozenset({labour.id})
    assert unit_ids_of(qi_lead) == frozenset({labour.id, ortho.id})
    assert {labour.id, ortho.id, freed.id} <= unit_ids_of(admin)
    assert isinstance(unit_ids_of(admin), frozenset)


def test_deactivated_user_sees_no_unit(session: Session, make_user: MakeUser) -> None:
    labour, _, _ = units(session)
    assert unit_ids_of(make_user("gone", units=[labour], active=False)) == frozenset()
    assert unit_ids_of(make_user("gone-admin", role=Role.ADMIN, active=False)) == frozenset()


def test_another_units_records_are_not_found(session: Session, make_user: MakeUser) -> None:
    labour, ortho, _ = units(session)
    clinician = make_user("mia", units=[labour])
    ensure_unit_access(clinician, labour.id)
    with pytest.raises(NotFound) as caught:
        ensure_unit_access(clinician, ortho.id)
    assert caught.value.status == 404
    with pytest.raises(NotFound):
        ensure_unit_access(clinician, 999_999)  # a unit that does not exist looks the same
    ensure_unit_access(make_user("ada", role=Role.ADMIN), ortho.id)


def test_require_role_lets_the_roles_in_and_refuses_others(
    app: Flask, session: Session, make_user: MakeUser
) -> None:
    with app.test_request_context("/reports"):
        login_user(make_user("quinn", role=Role.QI_LEAD))
        assert compliance_view() == "compliance"
    with app.test_request_context("/reports"):
        login_user(make_user("mia", role=Role.CLINICIAN))
        with pytest.raises(Forbidden):
            compliance_view()


def test_guards_send_pages_to_sign_in_with_the_way_back(app: Flask, session: Session) -> None:
    for view in (compliance_view, any_user_view):
        with app.test_request_context("/reports/units?period=2025-01"):
            response = view()
            assert not isinstance(response, str)
            assert response.status_code == 302
            assert response.location == "/sign-in?next=/reports/units?period%3D2025-01"


@pytest.mark.parametrize(
    ("path", "headers"),
    [("/fhir/Questionnaire", {}), ("/api/compliance", {}), ("/reports", {"Accept": "application/json"})],
)
def test_guards_answer_api_requests_with_401(
    app: Flask, session: Session, path: str, headers: dict[str, str]
) -> None:
    for view in (compliance_view, any_user_view):
        with app.test_request_context(path, headers=headers), pytest.raises(Unauthorized):
            view()


def test_signed_in_user_is_the_user(app: Flask, session: Session, make_user: MakeUser) -> None:
    mia = make_user("mia")
    with app.test_request_context("/"):
        login_user(mia)
        assert signed_in_user() is mia
        assert any_user_view() == "hello mia"
    with app.test_request_context("/"), pytest.raises(Unauthorized):
        signed_in_user()


def test_require_role_refuses_unknown_roles_at_import() -> None:
    with pytest.raises(ValueError, match="unknown role"):
        require_role("nurse")
    with pytest.raises(ValueError, match="at least one"):
        require_role()
