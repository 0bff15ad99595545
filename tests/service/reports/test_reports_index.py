"""``/reports``: QI leads and admins only, listing the care bundles of the units they report on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from service.models import Role
from tests.factories import make_unit_offering


def test_a_qi_lead_sees_the_care_bundles_of_their_units_and_others_do_not_get_in(
    client: FlaskClient, session: Session, make_user: Callable[..., Any], sign_in: Callable[..., Any]
) -> None:
    unit = make_unit_offering(session, "oasi-care-bundle", "hip-fracture-pathway")
    make_unit_offering(session, "freed-triage", code="ward-2")  # a unit the QI lead does not report on
    make_user("quinn", role=Role.QI_LEAD, units=[unit])
    make_user("casey", role=Role.CLINICIAN, units=[unit])
    session.commit()

    assert client.get("/reports/").status_code == 302  # sign in first
    sign_in("casey")
    assert client.get("/reports/").status_code == 403
    client.post("/sign-out")
    sign_in("quinn")
    page = client.get("/reports/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'data-care-bundle="oasi-care-bundle"' in text
    assert 'data-care-bundle="hip-fracture-pathway"' in text
    assert 'data-care-bundle="freed-triage"' not in text
