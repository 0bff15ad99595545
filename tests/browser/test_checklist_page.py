"""The checklist page in the browser: questions that appear and disappear (with JavaScript and without),
calculated values that follow the answers, two tabs saving the same checklist, and touch targets."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from playwright.sync_api import Page, expect

from schemas.care_bundle import CareBundle
from service.checklists import evaluate
from tests.browser.conftest import NewContext
from tests.browser.pages import (
    ChecklistPage,
    care_bundle,
    element_of,
    local_anchor,
    post_status,
    start_checklist,
    stored,
    submit,
    tap_choice,
)

OASI = "oasi-care-bundle-2.0.0.yaml"
FREED = "freed-triage-2.0.0.yaml"
#: The question that only a vaginal birth asks.
MPP = "#e-mpp-wrapper"


def birth_mode(page: Page, code: str) -> None:
    tap_choice(page, page.locator(f'input[name="e-birth-mode"][value="{code}"]'))


def test_a_question_appears_and_disappears_as_answers_change_without_a_page_load(page: Page) -> None:
    bundle = care_bundle(OASI)
    start_checklist(page, bundle, local_anchor(ZoneInfo(bundle.timezone), 1))
    checklist = ChecklistPage(page, bundle, javascript=True)
    checklist.ready()
    loads: list[str] = []
    page.on("framenavigated", lambda frame: loads.append(frame.url))
    page.evaluate("window.sameDocument = true")
    mpp = page.locator(MPP)
    expect(mpp).to_be_hidden()  # no mode of birth yet
    expect(page.get_by_text("Manual perineal protection, with communication")).to_be_hidden()

    birth_mode(page, "caesarean")
    expect(mpp).to_be_hidden()
    birth_mode(page, "spontaneous-vaginal")
    expect(mpp).to_be_visible()
    expect(page.get_by_text("Manual perineal protection, with communication")).to_be_visible()
    tap_choice(page, page.locator('input[name="e-mpp"][value="no"]'))
    expect(page.locator("#e-mpp-not-used-reason-wrapper")).to_be_visible()  # a condition on a condition
    birth_mode(page, "caesarean")
    expect(mpp).to_be_hidden()
    expect(page.locator("#e-mpp-not-used-reason-wrapper")).to_be_hidden()

    assert loads == []
    assert page.evaluate("window.sameDocument") is True


def test_without_javascript_a_question_appears_after_saving(page_without_js: Page, live_app: Flask) -> None:
    page = page_without_js
    bundle = care_bundle(OASI)
    url = start_checklist(page, bundle, local_anchor(ZoneInfo(bundle.timezone), 1))
    checklist = ChecklistPage(page, bundle, javascript=False)
    checklist.ready()
    mpp = page.locator(MPP)
    expect(mpp).to_be_hidden()

    birth_mode(page, "caesarean")
    checklist.save_draft()
    expect(page.locator(".nhsuk-notification-banner")).to_contain_text("Draft saved on the server")
    expect(mpp).to_be_hidden()
    birth_mode(page, "spontaneous-vaginal")
    expect(mpp).to_be_hidden()  # nothing runs in the page: the server decides on the next save
    page.get_by_role("button", name="Save draft and update questions").tap()
    expect(mpp).to_be_visible()
    expect(page.locator('input[name="e-birth-mode"][value="spontaneous-vaginal"]')).to_be_checked()
    birth_mode(page, "caesarean")
    checklist.save_draft()
    expect(mpp).to_be_hidden()
    _, answers = stored(live_app, bundle, url)
    assert answers["birth-mode"] == ["caesarean"]


def shown(value: Any, unit: str) -> str:
    """A calculated value as the page shows it (service/ward/checklist_view.py)."""
    if value is None:
        return "Not known yet"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    text = f"{value.normalize():f}" if isinstance(value, Decimal) else str(value)
    return f"{text} {unit}" if unit else text


def check_calculated(page: Page, bundle: CareBundle, answers: dict[str, list[Any]]) -> dict[str, str]:
    """Every calculated value on the page is the server's, for ``answers``; the page's values by id."""
    calculated = evaluate(bundle, answers, dt.datetime.now(dt.UTC)).calculated
    expected = {}
    for element in bundle.walk():
        if element.calculated is not None:
            unit = element.unit.display if element.unit else ""
            expected[element.id] = shown(calculated.get(element.id), unit)
            expect(page.locator(f'[data-calculated="{element.id}"]')).to_have_text(expected[element.id])
    return expected


def test_calculated_values_follow_the_answers_as_they_are_typed(page: Page) -> None:
    bundle = care_bundle(FREED)
    referral = dt.datetime(2026, 2, 2, 10, 0, tzinfo=ZoneInfo(bundle.timezone))
    start_checklist(page, bundle, referral)
    checklist = ChecklistPage(page, bundle, javascript=True)
    checklist.ready()
    loads: list[str] = []
    page.on("framenavigated", lambda frame: loads.append(frame.url))
    age = page.locator('[data-calculated="age-at-referral"]')
    expect(age).to_have_text("Not known yet")

    answers: dict[str, list[Any]] = {"referral-received": [referral]}
    steps = [
        ("date-of-birth", dt.date(2006, 6, 15)),  # 19 at the referral
        ("onset-date", dt.date(2025, 1, 1)),
        ("previous-treatment", "no"),
        ("date-of-birth", dt.date(2006, 2, 3)),  # still 19: the birthday is the day after the referral
        ("date-of-birth", dt.date(2006, 2, 2)),  # 20 on the day
        ("date-of-birth", dt.date(2000, 1, 1)),  # 26: outside the FREED ages
    ]
    for element_id, value in steps:
        checklist.answer(element_of(bundle, element_id), f"e-{element_id}", value)
        answers[element_id] = [value]
        check_calculated(page, bundle, answers)
    expect(age).to_have_text("26 years")
    expect(page.locator('[data-calculated="meets-freed-criteria"]')).to_have_text("No")
    checklist.answer(element_of(bundle, "date-of-birth"), "e-date-of-birth", dt.date(2006, 2, 2))
    expect(age).to_have_text("20 years")
    expect(page.locator('[data-calculated="meets-freed-criteria"]')).to_have_text("Yes")
    assert loads == [], "calculated values must update in place, without loading the page"


def test_without_javascript_calculated_values_come_with_the_saved_page(page_without_js: Page) -> None:
    page = page_without_js
    bundle = care_bundle(FREED)
    referral = dt.datetime(2026, 2, 2, 10, 0, tzinfo=ZoneInfo(bundle.timezone))
    start_checklist(page, bundle, referral)
    checklist = ChecklistPage(page, bundle, javascript=False)
    checklist.answer(element_of(bundle, "date-of-birth"), "e-date-of-birth", dt.date(2006, 6, 15))
    expect(page.locator('[data-calculated="age-at-referral"]')).to_have_text("Not known yet")
    checklist.save_draft()
    expect(page.locator('[data-calculated="age-at-referral"]')).to_have_text("19 years")


def test_two_tabs_change_different_answers_and_neither_is_lost(
    new_context: NewContext, live_app: Flask
) -> None:
    context = new_context()
    first = context.new_page()
    bundle = care_bundle(OASI)
    url = start_checklist(first, bundle, local_anchor(ZoneInfo(bundle.timezone), 1))
    second = context.new_page()
    second.goto(url)
    one = ChecklistPage(first, bundle, javascript=True)
    two = ChecklistPage(second, bundle, javascript=True)
    # Each tab is brought to the front before it is used, as a person switches tabs (Chromium slows down
    # the pages of a tab in the background).
    first.bring_to_front()
    one.answer_plan([("birth-mode", "spontaneous-vaginal")])
    second.bring_to_front()
    two.answer_plan([("antenatal-discussion", "yes")])

    first.bring_to_front()
    assert post_status(submit(first, "save")) == 303
    second.bring_to_front()
    conflict = submit(second, "save")
    assert conflict.status == 409
    expect(second.locator("main")).to_contain_text("Someone else saved this checklist")
    two.ready()
    # Both answers are in the form: theirs (the mode of birth) and mine (the antenatal discussion).
    expect(second.locator('input[name="e-birth-mode"][value="spontaneous-vaginal"]')).to_be_checked()
    expect(second.locator('input[name="e-antenatal-discussion"][value="yes"]')).to_be_checked()
    expect(second.locator(MPP)).to_be_visible()  # and the questions theirs brings
    _, answers = stored(live_app, bundle, url)
    assert "antenatal-discussion" not in answers  # nothing is saved until the user saves again

    assert post_status(two.save_draft()) == 303
    _, answers = stored(live_app, bundle, url)
    assert answers["birth-mode"] == ["spontaneous-vaginal"]
    assert answers["antenatal-discussion"] == ["yes"]
    first.bring_to_front()
    first.reload()
    expect(first.locator('input[name="e-antenatal-discussion"][value="yes"]')).to_be_checked()
    expect(first.locator('input[name="e-birth-mode"][value="spontaneous-vaginal"]')).to_be_checked()


def test_every_label_and_button_is_a_44_pixel_touch_target(page: Page) -> None:
    """On a tablet (768 x 1024, touch), every radio and checkbox label and every button of the checklist page
    is at least 44 px high: a page with radios, checkboxes, the header's sign-out and a repeating group."""
    for file_name, plan in (
        (OASI, [("birth-mode", "spontaneous-vaginal"), ("perineal-examination", "yes")]),
        ("sharehd.yaml", [("shc-offered", "offered-taken-up"), ("tasks", [{"task-status": "competent"}])]),
    ):
        bundle = care_bundle(file_name)
        start_checklist(
            page,
            bundle,
            local_anchor(ZoneInfo(bundle.timezone), 1),
            patient_kind="local",
            patient_value="TT-1",
        )
        ChecklistPage(page, bundle, javascript=True).answer_plan(plan)
        targets = page.locator(
            ".nhsuk-radios__label:visible, .nhsuk-checkboxes__label:visible, button:visible, "
            "a.nhsuk-button:visible"
        )
        assert targets.count() > 10
        heights = targets.evaluate_all(
            "targets => targets.map((target) => "
            "[target.textContent.trim(), target.getBoundingClientRect().height])"
        )
        small = [(text, height) for text, height in heights if height < 44]
        assert not small, f"{bundle.id}: touch targets under 44 px: {small}"
