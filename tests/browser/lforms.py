"""NLM's LHC-Forms 40, driven as a person fills a form in it: the form app an EHR or a forms service would put
in front of our published Questionnaires.

The package's built files are unpacked by ``make`` into ``tests/browser/lforms/`` (``npm pack``, checked
against a pinned integrity; see the Makefile), and served to the browser by Playwright from a host page of
our own at ``http://lforms.test/`` (the page an embedding application would write: the scripts in
``<body>``, in the order LHC-Forms documents). :class:`LFormsPage` renders a Questionnaire, answers a plan
of ``tests/browser/pages.py`` through the form's own controls (the answer lists, the date pickers, the
"Add another" buttons) and returns the QuestionnaireResponse LHC-Forms makes of it.
"""

from __future__ import annotations

import datetime as dt
import mimetypes
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import Locator, Page, Route, expect

from schemas.care_bundle import CareBundle
from tests.browser.pages import Plan, as_list, element_of

LFORMS_DIR = Path(__file__).resolve().parent / "lforms"
ORIGIN = "http://lforms.test"
#: The host page: LHC-Forms' web component and its FHIR support, loaded in ``<body>`` in this order.
HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>LHC-Forms host</title>
<link rel="stylesheet" href="/lforms/webcomponent/styles.css"></head>
<body><div id="form"></div>
<script src="/lforms/webcomponent/assets/lib/zone.min.js"></script>
<script src="/lforms/webcomponent/runtime.js"></script>
<script src="/lforms/webcomponent/polyfills.js"></script>
<script src="/lforms/webcomponent/main.js"></script>
<script src="/lforms/fhir/R4/lformsFHIR.min.js"></script>
</body></html>
"""


def lforms_missing() -> str | None:
    if not (LFORMS_DIR / "webcomponent" / "main.js").is_file():
        return f"LHC-Forms is not unpacked in {LFORMS_DIR} (make tests/browser/lforms/.installed-40.1.3)"
    return None


def _serve(route: Route) -> None:
    path = route.request.url.removeprefix(ORIGIN).split("?", 1)[0]
    if path == "/":
        route.fulfill(body=HOST_PAGE, content_type="text/html; charset=utf-8")
        return
    file = (LFORMS_DIR / path.removeprefix("/lforms/")).resolve()
    if path.startswith("/lforms/") and file.is_relative_to(LFORMS_DIR) and file.is_file():
        kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        route.fulfill(path=str(file), content_type=kind)
        return
    route.fulfill(status=404, body="not found")


def _answer_options(items: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, str]]]:
    for item in items:
        options = {
            option["valueCoding"]["code"]: option["valueCoding"]["display"]
            for option in item.get("answerOption", ())
            if "valueCoding" in option
        }
        yield item["linkId"], options
        yield from _answer_options(item.get("item", []))


class LFormsPage:
    """One tab with LHC-Forms showing one Questionnaire."""

    def __init__(self, page: Page, bundle: CareBundle, questionnaire: dict[str, Any]) -> None:
        self.page = page
        self.bundle = bundle
        self.zone = ZoneInfo(bundle.timezone)
        self.displays = dict(_answer_options(questionnaire["item"]))
        page.route(f"{ORIGIN}/**", _serve)
        page.goto(f"{ORIGIN}/")
        page.wait_for_function("() => window.LForms && LForms.Util && LForms.Util.getFormFHIRData")
        page.evaluate(
            "questionnaire => LForms.Util.addFormToPage(questionnaire, 'form', {fhirVersion: 'R4'})",
            questionnaire,
        )
        expect(page.locator("lhc-item").first).to_be_visible()

    def item(self, link_id: str, instance: int = 0) -> Locator:
        """The control of ``link_id`` (in the ``instance``-th instance of its repeating group)."""
        items = self.page.locator(f'lhc-item[id^="item-{link_id}/"]')
        expect(items.nth(instance)).to_be_visible()
        path = (items.nth(instance).get_attribute("id") or "").removeprefix("item-")
        control = self.page.locator(f'[id="{path}"]')
        if control.evaluate("node => node.tagName") not in ("INPUT", "TEXTAREA"):
            control = control.locator("input")  # a date picker: the input inside it
        return control

    def answer_plan(self, plan: Plan, anchor: dt.datetime) -> None:
        self.answer(self.bundle.anchor.id, anchor)
        for element_id, value in plan:
            element = element_of(self.bundle, element_id)
            if not element.is_repeating_group:
                self.answer(element_id, value)
                continue
            for index, instance in enumerate(value):
                if index:
                    self.add_instance(element_id, index)
                for item_id, item_value in instance.items():
                    self.answer(item_id, item_value, index)

    def add_instance(self, group_id: str, index: int) -> None:
        group = element_of(self.bundle, group_id)
        self.page.get_by_role("button", name=f"add button for {group.text}", exact=True).last.click()
        expect(self.page.locator(f'lhc-item[id^="item-{group_id}/"]')).to_have_count(index + 1)

    def answer(self, link_id: str, value: Any, instance: int = 0) -> None:
        kind = element_of(self.bundle, link_id).type
        control = self.item(link_id, instance)
        if kind == "choice":
            for code in as_list(value):
                self._choose(control, self.displays[link_id][code], several=isinstance(value, list))
            if isinstance(value, list):
                control.press("Escape")
        elif kind in ("integer", "decimal", "string", "text"):
            control.click()
            control.fill(f"{value:f}" if isinstance(value, Decimal) else str(value))
            control.press("Tab")
        elif kind == "date":
            self._type_date(control, value.strftime("%m/%d/%Y"))
        elif kind == "dateTime":
            self._type_date(control, value.astimezone(self.zone).strftime("%m/%d/%Y %H:%M:%S"))
        else:  # pragma: no cover - the plans answer no other type
            raise AssertionError(f"cannot answer {kind} in LHC-Forms")

    def _choose(self, control: Locator, display: str, *, several: bool) -> None:
        """Type the answer's words in the answer list and pick it from what the list offers (a list that
        takes several answers stays open, without the one picked)."""
        control.click()
        control.fill(display)
        offered = self.page.locator("#lhc-tools-searchResults li").filter(
            has_text=re.compile(rf"^\s*(\d+:)?\s*{re.escape(display)}\s*$")
        )
        offered.first.click()
        if several:
            expect(offered).to_have_count(0)
        else:
            expect(self.page.locator("#lhc-tools-searchResults")).to_be_hidden()
            expect(control).to_have_value(display)
            control.press("Tab")  # on to the next question, as a person does: the answer is taken on leaving

    def _type_date(self, control: Locator, text: str) -> None:
        control.click()
        control.fill(text)
        control.press("Enter")
        expect(control).to_have_value(text)

    def questionnaire_response(self) -> dict[str, Any]:
        """What LHC-Forms makes of the form (``getFormFHIRData``), as a host application receives it when
        the person presses its "Submit" (the last answer is left first, as a press of a button does)."""
        self.page.locator("body").click(position={"x": 1, "y": 1})
        made: dict[str, Any] = self.page.evaluate(
            "() => LForms.Util.getFormFHIRData("
            "'QuestionnaireResponse', 'R4', document.getElementById('form'))"
        )
        return made
