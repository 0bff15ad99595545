"""``/reports/checklists``: the checklists behind a point of a chart, linked from the chart's table."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from service.care_bundles import CareBundleCatalogue
from service.checklists.lifecycle import Actor
from service.models import Role, Unit
from tests.service.compliance.test_counts import MONDAY, OASI, birth_on, record


def test_a_point_of_the_chart_lists_its_checklists_without_patient_identifiers(
    client: FlaskClient,
    session: Session,
    catalogue: CareBundleCatalogue,
    nurse: Actor,
    unit: Unit,
    make_user: Callable[..., Any],
    sign_in: Callable[..., Any],
) -> None:
    met = record(session, catalogue, nurse, unit, birth_on(MONDAY), patient="MRN-LISTED-1")
    record(
        session,
        catalogue,
        nurse,
        unit,
        birth_on(MONDAY, 12),
        patient="MRN-LISTED-2",
        mpp="no",
        mpp_not_used_reason="other",
    )
    make_user("quinn", role=Role.QI_LEAD, units=[unit])
    session.commit()
    sign_in("quinn")
    query = {
        "care_bundle": OASI,
        "measure": f"composite:{OASI}",
        "unit": f"{unit.site.code}/{unit.code}",
        "from": MONDAY.isoformat(),
        "to": (MONDAY + dt.timedelta(days=13)).isoformat(),
    }
    chart = client.get("/reports/", query_string=query).get_data(as_text=True)
    links = re.findall(r'href="([^"]+)" data-behind', chart)
    assert len(links) == 1  # the week with checklists; the empty one is not a link
    page = client.get(links[0].replace("&amp;", "&"))
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert re.findall(r'data-outcome="([^"]+)"', text) == ["met", "not-met"]
    assert f'data-checklist="{met.id}"' in text
    assert "MRN-LISTED" not in text  # no patient identifier on the page

    assert (
        client.get("/reports/checklists", query_string={**query, "period": "2026-03-03"}).status_code == 400
    )
    assert client.get("/reports/checklists", query_string={**query, "period": "soon"}).status_code == 400
    other = {**query, "unit": "ELSEWHERE/ward", "period": MONDAY.isoformat()}
    assert client.get("/reports/checklists", query_string=other).status_code in (400, 404)
