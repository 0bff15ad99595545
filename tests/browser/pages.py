"""Driving the ward pages as a person does: tap labels and buttons, type into fields, wait for what appears.

A care bundle's answers are written as a *plan*: ``(element id, value)`` pairs in page order, values as
``evaluate`` takes them (option codes, a list of codes for checkboxes, int, Decimal, date, aware datetime,
str), and for a repeating group a list of instances (each ``{item id: value}``), added with the page's own
"Add ..." button. :class:`ChecklistPage` answers a plan through the form; :func:`expected_answers` is the
same plan as the answers mapping ``evaluate`` and the store hold.

With JavaScript on, a question the plan answers must appear by itself once the answers before it are in
(the browser copy of the rules); with JavaScript off, the page is saved ("Save draft and update
questions") whenever the next question is still hidden, and it must then be shown by the server.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from playwright.sync_api import Locator, Page, Response, expect

from schemas.care_bundle import CareBundle, Element, load_care_bundle
from service.checklists.store import answers_of
from service.extensions import db
from service.models import Checklist

BUNDLES = Path(__file__).resolve().parents[2] / "bundles"
UNIT_NAME = "Browser Test Ward"  # as tests/browser/seed.py names it
Plan = Sequence[tuple[str, Any]]


def care_bundle(file_name: str) -> CareBundle:
    return load_care_bundle(BUNDLES / file_name)


def local_anchor(zone: ZoneInfo, days_ago: int, hour: int = 9, minute: int = 15) -> dt.datetime:
    """A whole-minute local time ``days_ago`` days before today (before every answer of the plans)."""
    day = dt.datetime.now(zone).date() - dt.timedelta(days=days_ago)
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=zone)


def element_of(bundle: CareBundle, element_id: str) -> Element:
    element = bundle.element(element_id)
    assert element is not None, f"{bundle.id} has no element {element_id}"
    return element


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def expected_answers(bundle: CareBundle, anchor: dt.datetime, plan: Plan) -> dict[str, list[Any]]:
    answers: dict[str, list[Any]] = {bundle.anchor.id: [anchor]}
    for element_id, value in plan:
        if element_of(bundle, element_id).is_repeating_group:
            answers[element_id] = [{key: as_list(inner) for key, inner in item.items()} for item in value]
        else:
            answers[element_id] = as_list(value)
    return answers


def checklist_id_of(url: str) -> uuid.UUID:
    found = re.search(r"/ward/checklists/([0-9a-f-]{36})", url)
    assert found is not None, url
    return uuid.UUID(found[1])


def stored(live_app: Flask, bundle: CareBundle, url: str) -> tuple[Checklist, dict[str, list[Any]]]:
    """The checklist at ``url`` as the live server stored it, and its answers (read in this process)."""
    with live_app.app_context():
        checklist = db.session.get(Checklist, checklist_id_of(url))
        assert checklist is not None
        answers = answers_of(bundle, checklist)
        db.session.expunge(checklist)
        db.session.remove()
    return checklist, answers


def tap_choice(scope: Page | Locator, option: Locator) -> None:
    """Tap the label of a radio or checkbox (``option``), and see it change."""
    was_checked = option.is_checked()
    page = scope if isinstance(scope, Page) else scope.page
    page.locator(f'label[for="{option.get_attribute("id")}"]').tap()
    if option.get_attribute("type") == "radio" or not was_checked:
        expect(option).to_be_checked()
    else:
        expect(option).not_to_be_checked()


#: The status of the post behind each response ``submit`` returned (see :func:`post_status`).
_POSTED: dict[int, int] = {}


def submit(page: Page, action: str) -> Response:
    """Tap the form's button ``name=action value=action``; the response the page ends on.

    With JavaScript, the checklist page sends a change through the tablet's queue (a ``fetch`` asking for
    JSON) and then loads the checklist; a refused change is posted again as a form, for the server's page.
    Without, the form posts and a 303 is followed. :func:`post_status` tells either as a page post would."""
    posts: list[Response] = []

    def record(response: Response) -> None:
        if response.request.method == "POST":
            posts.append(response)

    page.on("response", record)
    try:
        with page.expect_navigation() as navigation:
            page.locator(f'button[name="action"][value="{action}"]').tap()
        response = navigation.value
    finally:
        page.remove_listener("response", record)
    assert response is not None
    if posts and response.request.method == "GET" and response.request.redirected_from is None:
        last = posts[-1]
        # A change the queue sent (JSON 200) is what a page post answers with a redirect.
        json_reply = "application/json" in (last.headers.get("content-type") or "")
        _POSTED[id(response)] = 303 if json_reply and last.status == 200 else last.status
    return response


def post_status(response: Response) -> int:
    """The status of the post behind ``response`` (the redirect's, when the post redirected; 303 for a
    change the page's queue sent and the server took)."""
    if id(response) in _POSTED:
        return _POSTED[id(response)]
    posted = response.request.redirected_from
    if posted is None:
        return response.status
    first = posted.response()
    assert first is not None
    return first.status


def start_checklist(
    page: Page,
    bundle: CareBundle,
    anchor: dt.datetime,
    *,
    patient_kind: str = "nhs-number",
    patient_value: str = "943 476 5919",
) -> str:
    """From the worklist: start a checklist through the start form and the confirm page; its URL."""
    page.goto("/ward/")
    page.get_by_role("link", name="Start a checklist").tap()
    expect(page.get_by_role("heading", name="Start a checklist")).to_be_visible()
    tap_choice(page, page.get_by_label(f"{bundle.title}, {UNIT_NAME}", exact=True))
    tap_choice(page, page.locator(f'input[name="patient_kind"][value="{patient_kind}"]'))
    page.get_by_label("Number", exact=True).fill(patient_value)
    local = anchor.astimezone(ZoneInfo(bundle.timezone))
    page.locator("#anchor-day").fill(str(local.day))
    page.locator("#anchor-month").fill(str(local.month))
    page.locator("#anchor-year").fill(str(local.year))
    page.locator("#anchor-time").fill(local.strftime("%H:%M"))
    page.get_by_role("button", name="Continue").tap()
    expect(page.get_by_role("heading", name="Check the patient before you start")).to_be_visible()
    expect(page.locator(".nhsuk-summary-list")).to_contain_text(f"{bundle.title} (version {bundle.version})")
    expect(page.locator(".nhsuk-summary-list")).to_contain_text(
        f"{local.day} {local.strftime('%B %Y at %H:%M')}"
    )
    # "Start checklist", or "Start a new checklist" when this patient has one open already.
    page.locator('button[name="action"][value="start"]').tap()
    expect(page.get_by_role("heading", name=bundle.title, exact=True)).to_be_visible()
    return page.url


class ChecklistPage:
    """The checklist form of one care bundle in one tab."""

    def __init__(self, page: Page, bundle: CareBundle, *, javascript: bool) -> None:
        self.page = page
        self.bundle = bundle
        self.javascript = javascript
        self.zone = ZoneInfo(bundle.timezone)

    @property
    def form(self) -> Locator:
        return self.page.locator("form.careloop-checklist")

    def ready(self) -> None:
        """The page is loaded (and, with JavaScript, the browser rules have run once)."""
        expect(self.form).to_be_visible()
        if self.javascript:
            expect(self.form).to_have_attribute("data-rules-applied", re.compile(r"^\d+$"))

    def wrapper(self, name: str) -> Locator:
        return self.page.locator(f"#{name}-wrapper")

    def save_draft(self) -> Response:
        response = submit(self.page, "save")
        assert post_status(response) == 303, response.url
        self.ready()
        return response

    def reveal(self, name: str) -> Locator:
        """The question's wrapper, once shown: by the rules in the browser, or (no JavaScript) by saving."""
        wrapper = self.wrapper(name)
        if not self.javascript and wrapper.is_hidden():
            self.save_draft()
        expect(wrapper).to_be_visible()
        return wrapper

    def answer_plan(self, plan: Plan) -> None:
        self.ready()
        for element_id, value in plan:
            element = element_of(self.bundle, element_id)
            if element.is_repeating_group:
                for index, instance in enumerate(value):
                    self.add_instance(element, index)
                    for item_id, item_value in instance.items():
                        item = element_of(self.bundle, item_id)
                        self.answer(item, f"g-{element.id}-{index}-{item.id}", item_value)
            else:
                self.answer(element, f"e-{element.id}", value)

    def add_instance(self, group: Element, index: int) -> None:
        self.reveal(f"e-{group.id}")
        response = submit(self.page, f"add-{group.id}")
        assert post_status(response) == 200  # saved, and the form shown again with the instance added
        self.ready()
        expect(self.page.locator(f"#{group.id}-{index}")).to_be_visible()

    def answer(self, element: Element, name: str, value: Any) -> None:
        wrapper = self.reveal(name)
        page = self.page
        if element.type == "choice":
            for code in as_list(value):
                tap_choice(page, wrapper.locator(f'input[name="{name}"][value="{code}"]'))
        elif element.type == "boolean":
            tap_choice(page, wrapper.locator(f'input[name="{name}"][value="{"true" if value else "false"}"]'))
        elif element.type in ("integer", "decimal", "string", "text"):
            text = f"{value:f}" if isinstance(value, Decimal) else str(value)
            field = page.locator(f"#{name}")
            field.tap()
            field.fill(text)
        elif element.type == "date":
            self._date(name, value)
        elif element.type == "dateTime":
            local = value.astimezone(self.zone)
            self._date(name, local.date())
            page.locator(f"#{name}-time").fill(local.strftime("%H:%M"))
        else:  # pragma: no cover - every answerable type is above
            raise AssertionError(f"cannot answer {element.type}")

    def _date(self, name: str, day: dt.date) -> None:
        self.page.locator(f"#{name}-day").fill(str(day.day))
        self.page.locator(f"#{name}-month").fill(str(day.month))
        self.page.locator(f"#{name}-year").fill(str(day.year))

    def complete(self) -> Response:
        response = submit(self.page, "complete")
        assert post_status(response) == 303, f"completion refused: {self.page.locator('main').inner_text()}"
        return response
