"""The compliance chart in the real browser: a QI lead signs in, opens the OASI all-or-none chart of their
unit, and the centre, limits and points drawn in the SVG are the ones ``build_report`` computes (what the
compliance API serves); special-cause points wear the MDC colours; the icons say what they mean; axe finds
no violation; the SVG and PNG downloads are real files."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from service.reports.markup import BLUE, GREY, ORANGE
from tests.browser.conftest import SITE_CODE, UNIT_CODE, LiveServer, NewContext
from tests.browser.reports_seed import FIRST, LAST, QI_LEAD, QI_PASSWORD, make_qi_lead, seed_checklists
from tests.browser.test_accessibility import AXE
from tests.service.reports.drawn import SVG, read_chart, tolerance

OASI = "oasi-care-bundle"
QUERY = {
    "care_bundle": OASI,
    "measure": f"composite:{OASI}",
    "unit": f"{SITE_CODE}/{UNIT_CODE}",
    "from": FIRST.isoformat(),
    "to": LAST.isoformat(),
    "interval": "week",
    "chart": "p",
    "target": "0.95",
}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def seeded(live_server: LiveServer, live_app: Flask) -> None:
    seed_checklists(live_app)
    make_qi_lead(live_server)


def expected_periods(page: Page, query: dict[str, str]) -> list[dict[str, Any]]:
    """The periods of the report as the compliance API serves them (``GET /api/compliance/report``), asked
    with the QI lead's own session (the page's cookies), so the chart is held to what the API says."""
    answer = page.request.get("/api/compliance/report", params=query)
    assert answer.status == 200, answer.text()
    return [
        {
            "period": period["label"],
            "value": period["proportion"],
            "centre": period["centre"],
            "upper": period["upper"],
            "lower": period["lower"],
            "special_cause": period["special_cause"],
            "signal": period["signal"],
        }
        for period in answer.json()["periods"]
    ]


def sign_in_as_qi_lead(page: Page, next_url: str) -> None:
    page.goto(f"/sign-in?next={next_url}")
    page.get_by_label("Username").fill(QI_LEAD)
    page.get_by_label("Password").fill(QI_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def all_axe_violations(page: Page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    violations: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations.map((v) => ({
             id: v.id, impact: v.impact, targets: v.nodes.map((node) => node.target.join(" ")),
           }))"""
    )
    return [f"{v['id']} [{v['impact']}]: {'; '.join(v['targets'])}" for v in violations]


@pytest.mark.usefixtures("seeded")
def test_a_qi_lead_reads_the_chart_the_report_computes(
    new_context: NewContext, live_app: Flask, live_server: LiveServer, tmp_path: Path
) -> None:
    page = new_context(signed_in=False).new_page()
    page.set_viewport_size({"width": 1024, "height": 768})
    refused: list[str] = []
    page.on(
        "console",
        lambda message: refused.append(message.text) if "Content Security" in message.text else None,
    )
    sign_in_as_qi_lead(page, "/reports/")
    expect(page.get_by_role("heading", name="Compliance reports")).to_be_visible()
    page.get_by_role("link", name="OASI care bundle").first.click()
    expect(page.locator("[data-chart-figure] > svg")).to_be_visible()
    # The chart of the range the seed covers, through the page's own form.
    page.get_by_role("textbox", name="From", exact=True).fill(QUERY["from"])
    page.get_by_role("textbox", name="To", exact=True).fill(QUERY["to"])
    page.get_by_role("textbox", name="Target (optional)").fill("95")
    page.get_by_role("button", name="Show the chart").click()
    chart = page.locator("[data-chart-figure] > svg")
    expect(chart).to_have_attribute("data-measure", QUERY["measure"])
    expect(chart).to_have_attribute("data-scope", f"unit:{QUERY['unit']}")

    svg: str = chart.evaluate("(svg) => new XMLSerializer().serializeToString(svg)")
    drawn = read_chart(svg)
    expected = expected_periods(page, QUERY)
    close = tolerance(svg)
    assert [d.period for d in drawn] == [p["period"] for p in expected]
    for seen, want in zip(drawn, expected, strict=True):
        for name in ("value", "centre", "upper", "lower"):
            got = getattr(seen, name)
            assert (got is None) == (want[name] is None), (seen, want)
            if got is not None:
                assert got == pytest.approx(want[name], abs=close), (name, seen, want)
    assert any(want["value"] is None for want in expected)  # the week without checklists is a gap

    # Special-cause improvement is blue, concern orange, common cause grey, as the browser renders them.
    fills = page.locator("[data-chart-figure] > svg > g > g[data-period] > circle").evaluate_all(
        "(circles) => circles.map((c) => getComputedStyle(c).fill)"
    )
    with_value = [want for want in expected if want["value"] is not None]
    assert any(want["signal"] == "improvement" for want in with_value)
    for fill, want in zip(fills, with_value, strict=True):
        colour = {"improvement": BLUE, "concern": ORANGE}[want["signal"]] if want["special_cause"] else GREY
        assert fill == _rgb(colour), (fill, want)

    icons = page.locator("[data-icons] [data-icon-label]")
    expect(icons.nth(0)).to_have_text("Special cause improvement (high)")
    expect(icons.nth(1)).to_have_text("Inconsistently passing and failing the target")
    expect(page.locator("[data-small-multiples] li")).to_have_count(5)
    expect(page.locator("[data-report-table] tbody tr")).to_have_count(len(expected))
    csv = page.locator('[data-download="csv"]').get_attribute("href") or ""
    assert csv.startswith("/api/compliance/report.csv?care_bundle=oasi-care-bundle&measure=composite%3A")
    assert "target=0.95" in csv

    # axe is injected as an inline script: only a context that bypasses the page's CSP takes it.
    audited = new_context(signed_in=False, bypass_csp=True).new_page()
    audited.set_viewport_size({"width": 1024, "height": 768})
    sign_in_as_qi_lead(audited, page.url.removeprefix(live_server.url))
    expect(audited.locator("[data-chart-figure] > svg")).to_be_visible()
    assert all_axe_violations(audited) == []

    with page.expect_download() as svg_download:
        page.locator('[data-download="svg"]').click()
    saved = ET.parse(svg_download.value.path()).getroot()
    assert saved.tag == f"{SVG}svg"
    assert saved.attrib["data-measure"] == QUERY["measure"]

    png_button = page.locator('[data-download="png"]')
    expect(png_button).to_be_visible()
    with page.expect_download() as png_download:
        png_button.click()
    png = Path(png_download.value.path()).read_bytes()
    assert png[:8] == PNG_SIGNATURE
    assert png_download.value.suggested_filename.endswith(".png")
    assert refused == []  # the chart, its icons and the PNG download need nothing the CSP refuses
    (tmp_path / "chart.png").write_bytes(png)
    page.screenshot(path=str(tmp_path / "page.png"), full_page=True)


@pytest.mark.usefixtures("seeded")
def test_the_chart_page_works_on_a_tablet(new_context: NewContext) -> None:
    page = new_context(signed_in=False).new_page()  # 768 by 1024, touch
    query = "&".join(f"{key}={value}" for key, value in QUERY.items())
    sign_in_as_qi_lead(page, f"/reports/?{query}")
    chart = page.locator("[data-chart-figure] > svg")
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    assert box is not None
    assert box["width"] <= 768
    assert page.evaluate("document.documentElement.scrollWidth") <= 768  # nothing wider than the screen


def _rgb(colour: str) -> str:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({red}, {green}, {blue})"
