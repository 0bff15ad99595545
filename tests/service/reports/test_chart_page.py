"""``/reports/?care_bundle=...``: the chart page and its SVG download, for QI leads and admins, scoped to the
units they report on; bad queries are form errors (400), never a 500; other units and sites are 404."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from service.models import Role, Unit
from tests.factories import make_unit_offering
from tests.service.reports.drawn import SVG

OASI = "oasi-care-bundle"
RANGE = {"from": "2026-03-02", "to": "2026-06-07"}


@pytest.fixture
def quinn(session: Session, unit: Unit, make_user: Callable[..., Any], sign_in: Callable[..., Any]) -> Unit:
    """Quinn, a QI lead of ``unit``, signed in."""
    make_user("quinn", role=Role.QI_LEAD, units=[unit])
    session.commit()
    sign_in("quinn")
    return unit


def key(unit: Unit) -> str:
    return f"{unit.site.code}/{unit.code}"


@pytest.mark.usefixtures("checklists")
def test_the_chart_page_shows_the_chart_icons_small_multiples_table_and_downloads(
    client: FlaskClient, quinn: Unit
) -> None:
    page = client.get(
        "/reports/", query_string={"care_bundle": OASI, "unit": key(quinn), **RANGE, "target": "95"}
    )
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'data-measure="composite:oasi-care-bundle"' in text
    assert f'data-scope="unit:{key(quinn)}"' in text
    assert "Common cause variation" in text or "Special cause" in text
    assert "Consistently failing the target" in text or "Inconsistently passing" in text
    assert text.count('data-period="2026-') >= 2 * 14  # the chart's points and the table's rows
    assert "data-small-multiples" in text
    assert 'href="/reports/?care_bundle=oasi-care-bundle&amp;measure=element%3Ampp' in text
    assert (
        "/api/compliance/report.csv?care_bundle=oasi-care-bundle&amp;measure=composite%3Aoasi-care-bundle"
        in text
    )
    assert "target=0.95" in text  # the API's proportion, not the form's percentage
    assert "style=" not in text.split("<svg", 1)[1]  # presentation attributes only (CSP: no inline styles)

    download = client.get(
        "/reports/chart.svg", query_string={"care_bundle": OASI, "unit": key(quinn), **RANGE}
    )
    assert download.status_code == 200
    assert download.mimetype == "image/svg+xml"
    assert download.headers["Content-Disposition"].startswith('attachment; filename="oasi-care-bundle-')
    root = ET.fromstring(download.get_data())
    assert root.tag == f"{SVG}svg"
    assert root.attrib["data-scope"] == f"unit:{key(quinn)}"


@pytest.mark.usefixtures("checklists")
def test_a_site_means_the_qi_leads_units_of_that_site(client: FlaskClient, quinn: Unit) -> None:
    page = client.get("/reports/", query_string={"care_bundle": OASI, "site": quinn.site.code, **RANGE})
    assert page.status_code == 200
    assert f'data-scope="site:{quinn.site.code}"' in page.get_data(as_text=True)


def test_a_qi_lead_never_sees_another_unit_or_site(
    client: FlaskClient, session: Session, quinn: Unit
) -> None:
    other = make_unit_offering(session, OASI, code="ward-9")
    session.commit()
    for query in ({"unit": key(other)}, {"site": other.site.code}):
        answer = client.get("/reports/", query_string={"care_bundle": OASI, **query})
        assert answer.status_code == 404
        assert "data-measure" not in answer.get_data(as_text=True)
        assert (
            client.get("/reports/chart.svg", query_string={"care_bundle": OASI, **query}).status_code == 404
        )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"care_bundle": "freed-triage"}, "Choose a care bundle offered on the units you report on"),
        ({"measure": "element:no-such"}, "Choose a measure of this care bundle"),
        ({"measure": "garbage"}, "Choose a measure of this care bundle"),
        ({"from": "2026-02-30"}, "Enter a real date"),
        ({"from": "2026-06-01", "to": "2026-03-01"}, "The end of the range must be on or after its start"),
        ({"from": "2000-01-01"}, "A chart covers at most"),
        ({"interval": "day"}, "Choose weekly or monthly"),
        ({"chart": "xmr"}, "Choose a p-chart or a Laney p′ chart"),
        ({"direction": "up"}, "Choose which way is better"),
        ({"target": "150"}, "Enter the target as a percentage"),
        ({"target": "lots"}, "Enter the target as a percentage"),
        ({"rebase": "2026-03-04"}, "A rebase point must be the first day of a period"),
        ({"rebase": "soon"}, "A rebase point is a date"),
        ({"version": "9.9.9"}, "Choose versions of the care bundle that exist"),
        ({"baseline": "0"}, "A fixed baseline is a whole number"),
        ({"site": "X"}, "Choose a unit or a whole site, not both"),
    ],
)
def test_a_bad_query_is_a_form_error_not_a_500(
    client: FlaskClient, quinn: Unit, query: dict[str, str], message: str
) -> None:
    asked = {"care_bundle": OASI, "unit": key(quinn), "from": "2026-03-02", "to": "2026-06-07", **query}
    answer = client.get("/reports/", query_string=asked)
    assert answer.status_code == 400
    text = answer.get_data(as_text=True)
    assert "There is a problem" in text
    assert message in text
    assert "<title>Error: " in text
    assert client.get("/reports/chart.svg", query_string=asked).status_code == 400


def test_clinicians_are_refused_and_strangers_sent_to_sign_in(
    client: FlaskClient,
    session: Session,
    unit: Unit,
    make_user: Callable[..., Any],
    sign_in: Callable[..., Any],
) -> None:
    make_user("casey", role=Role.CLINICIAN, units=[unit])
    session.commit()
    query = {"care_bundle": OASI, "unit": key(unit)}
    assert client.get("/reports/", query_string=query).status_code == 302
    sign_in("casey")
    assert client.get("/reports/", query_string=query).status_code == 403
    assert client.get("/reports/chart.svg", query_string=query).status_code == 403


@pytest.mark.usefixtures("checklists")
def test_rebase_candidates_and_laney_are_offered_never_applied(client: FlaskClient, quinn: Unit) -> None:
    page = client.get(
        "/reports/", query_string={"care_bundle": OASI, "unit": key(quinn), **RANGE, "rebase": "2026-04-13"}
    )
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Rebased at 2026-04-13" in text
    assert 'data-rebase="2026-04-13"' in text
    assert 'name="rebase" value="2026-04-13"' in text  # kept when the form is sent again
