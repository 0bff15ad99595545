"""The ward tablet with no network (issue 9): drafts kept in IndexedDB as they are typed, the service worker's
pages, the replay queue, conflicts, lost responses and a shared tablet's sign-out, in Chromium against the
live server. The network is switched off with the browser context's offline switch, as the browser's own
offline switch does; a lost response is a request that reaches the server and whose answer is aborted."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from playwright.sync_api import BrowserContext, Page, Route, expect
from sqlalchemy import func, select

from service.auth import users
from service.extensions import db
from service.models import ChangeOperation, Checklist, ChecklistChange, ChecklistStatus, Delivery
from tests.browser.conftest import PASSWORD, SITE_CODE, UNIT_CODE, NewContext
from tests.browser.pages import (
    ChecklistPage,
    care_bundle,
    checklist_id_of,
    element_of,
    local_anchor,
    post_status,
    start_checklist,
    stored,
    submit,
    tap_choice,
)

OASI = "oasi-care-bundle-2.0.0.yaml"
#: Answers of a spontaneous vaginal birth meeting every practice, in the order a midwife gives them.
OASI_PLAN = [
    ("e-birth-mode", "spontaneous-vaginal"),
    ("e-antenatal-discussion", "yes"),
    ("e-mpp", "yes"),
    ("e-episiotomy-indication", "not-indicated"),
    ("e-episiotomy-performed", "no"),
    ("e-perineal-examination", "yes"),
    ("e-perineal-trauma", "second-degree"),
]
STATUS = "#careloop-tablet-status"


def choose(page: Page, name: str, code: str) -> None:
    tap_choice(page, page.locator(f'input[name="{name}"][value="{code}"]'))


def answer(page: Page, plan: list[tuple[str, str]]) -> None:
    for name, code in plan:
        wrapper = page.locator(f"#{name}-wrapper")
        expect(wrapper).to_be_visible()
        choose(page, name, code)


def ready_for_offline(page: Page) -> None:
    """The worklist has run: the service worker controls the ward pages and has kept the care bundles."""
    page.goto("/ward/")
    expect(page.locator("html")).to_have_attribute("data-offline-ready", "1")
    if not page.evaluate("() => navigator.serviceWorker.controller !== null"):
        # Loaded while the worker was still installing: the next load is the first it controls, as when a
        # midwife opens the next page.
        page.reload()
        expect(page.locator("html")).to_have_attribute("data-offline-ready", "1")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")


def drafted(page: Page, name: str, code: str) -> None:
    """``name`` is ``code`` in the tablet's draft (the write to IndexedDB is done)."""
    page.wait_for_function(
        """([name, code]) => new Promise((resolve) => {
             const open = indexedDB.open("careloop-tablet");
             open.onsuccess = () => {
               const all = open.result.transaction("drafts").objectStore("drafts").getAll();
               all.onsuccess = () => resolve(all.result.some((d) =>
                 d.fields.some(([n, v]) => n === name && v === code)));
             };
             open.onerror = () => resolve(false);
           })""",
        arg=[name, code],
    )


def start(page: Page) -> tuple[str, uuid.UUID]:
    bundle = care_bundle(OASI)
    ready_for_offline(page)
    url = start_checklist(page, bundle, local_anchor(ZoneInfo(bundle.timezone), 0, hour=0, minute=5))
    ChecklistPage(page, bundle, javascript=True).ready()
    return url, checklist_id_of(url)


def counts(live_app: Flask, checklist_id: uuid.UUID) -> tuple[Checklist, int, int]:
    """The stored checklist, its completions and its delivery rows."""
    with live_app.app_context():
        checklist = db.session.get(Checklist, checklist_id)
        assert checklist is not None
        completions = db.session.scalar(
            select(func.count())
            .select_from(ChecklistChange)
            .where(
                ChecklistChange.checklist_id == checklist_id,
                ChecklistChange.operation == ChangeOperation.COMPLETE,
            )
        )
        deliveries = db.session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.checklist_id == checklist_id)
        )
        db.session.expunge(checklist)
        db.session.remove()
    return checklist, int(completions or 0), int(deliveries or 0)


def test_offline_mid_checklist_reload_finish_complete_then_online(page: Page, live_app: Flask) -> None:
    url, checklist_id = start(page)
    answer(page, OASI_PLAN[:3])
    context = page.context
    context.set_offline(True)
    answer(page, OASI_PLAN[3:5])
    drafted(page, "e-episiotomy-performed", "no")
    page.reload()  # from the service worker, with no network: the answers come back from IndexedDB
    for name, code in OASI_PLAN[:5]:
        expect(page.locator(f'input[name="{name}"][value="{code}"]')).to_be_checked()
    expect(page.locator(STATUS)).to_contain_text("Saved on this tablet")
    answer(page, OASI_PLAN[5:])
    page.locator('button[name="action"][value="complete"]').tap()
    expect(page.locator(STATUS)).to_contain_text(
        "Completed on this tablet. It will be sent when the network returns"
    )
    checklist, completions, _ = counts(live_app, checklist_id)
    assert checklist.status == ChecklistStatus.IN_PROGRESS
    assert completions == 0

    context.set_offline(False)
    expect(page.locator(STATUS)).to_have_text("Sent")
    checklist, completions, deliveries = counts(live_app, checklist_id)
    assert (checklist.status, completions, deliveries) == (ChecklistStatus.COMPLETED, 1, 1)
    _, answers = stored(live_app, care_bundle(OASI), url)
    assert {f"e-{key}": value for key, value in answers.items() if f"e-{key}" in dict(OASI_PLAN)} == {
        name: [code] for name, code in OASI_PLAN
    }
    page.reload()
    expect(page.get_by_text("Completed", exact=True).first).to_be_visible()


def test_closing_the_page_between_two_answers_keeps_both(new_context: NewContext, live_app: Flask) -> None:
    context = new_context()
    page = context.new_page()
    url, checklist_id = start(page)
    answer(page, OASI_PLAN[:1])
    answer(page, OASI_PLAN[1:2])
    drafted(page, "e-antenatal-discussion", "yes")
    page.close()  # no save pressed: the answers are only on the tablet

    again = context.new_page()
    again.goto(url)
    ChecklistPage(again, care_bundle(OASI), javascript=True).ready()
    for name, code in OASI_PLAN[:2]:
        expect(again.locator(f'input[name="{name}"][value="{code}"]')).to_be_checked()
    expect(again.locator(STATUS)).to_have_text("Saved on this tablet")
    _, answers = stored(live_app, care_bundle(OASI), url)
    assert "birth-mode" not in answers  # the server has not been sent them: the tablet kept them

    # Saved online, then again offline (sent in the background when the network returns), then once
    # more on the same page: each change is based on the one before, so none is a conflict.
    assert post_status(submit(again, "save")) == 303
    expect(again.locator(".nhsuk-notification-banner")).to_contain_text("Draft saved on the server")
    again.context.set_offline(True)
    answer(again, OASI_PLAN[2:3])
    again.locator('button[name="action"][value="save"]').tap()
    expect(again.locator(STATUS)).to_contain_text("It will be sent when the network returns")
    again.context.set_offline(False)
    expect(again.locator(STATUS)).to_have_text("Sent")
    answer(again, OASI_PLAN[3:4])
    assert post_status(submit(again, "save")) == 303  # taken, not a conflict with its own earlier change
    expect(again.locator(".nhsuk-notification-banner")).to_contain_text("Draft saved on the server")
    _, answers = stored(live_app, care_bundle(OASI), url)
    assert {f"e-{key}": value for key, value in answers.items() if f"e-{key}" in dict(OASI_PLAN)} == {
        name: [code] for name, code in OASI_PLAN[:4]
    }


def test_two_queued_completions_make_one_checklist_and_one_delivery(page: Page, live_app: Flask) -> None:
    url, checklist_id = start(page)
    answer(page, OASI_PLAN)
    context = page.context
    context.set_offline(True)
    second = context.new_page()
    second.goto(url)  # the same checklist in a second tab, from the service worker
    expect(second.locator('input[name="e-perineal-trauma"][value="second-degree"]')).to_be_checked()
    for tab in (page, second):
        tab.locator('button[name="action"][value="complete"]').tap()
        expect(tab.locator(STATUS)).to_contain_text("Completed on this tablet")
    context.set_offline(False)
    expect(page.locator(STATUS)).to_have_text("Sent")
    checklist, completions, deliveries = counts(live_app, checklist_id)
    assert (checklist.status, completions, deliveries) == (ChecklistStatus.COMPLETED, 1, 1)


def test_a_change_made_offline_and_one_made_online_meet_on_the_conflict_screen(
    new_context: NewContext, live_app: Flask
) -> None:
    offline_tablet = new_context().new_page()
    url, checklist_id = start(offline_tablet)
    answer(offline_tablet, OASI_PLAN[:2])
    offline_tablet.locator('button[name="action"][value="save"]').tap()
    expect(offline_tablet.locator(".nhsuk-notification-banner")).to_contain_text("Draft saved on the server")

    offline_tablet.context.set_offline(True)
    choose(offline_tablet, "e-antenatal-discussion", "no")
    offline_tablet.locator('button[name="action"][value="save"]').tap()
    expect(offline_tablet.locator(STATUS)).to_contain_text("It will be sent when the network returns")

    online_tablet = new_context().new_page()
    online_tablet.goto(url)
    ChecklistPage(online_tablet, care_bundle(OASI), javascript=True).ready()
    choose(online_tablet, "e-antenatal-discussion", "declined")
    online_tablet.locator('button[name="action"][value="save"]').tap()
    expect(online_tablet.locator(".nhsuk-notification-banner")).to_contain_text("Draft saved on the server")

    offline_tablet.context.set_offline(False)
    review = offline_tablet.get_by_role("button", name="Review both versions")
    expect(review).to_be_visible()
    _, answers = stored(live_app, care_bundle(OASI), url)
    assert answers["antenatal-discussion"] == ["declined"]  # the other tablet's change stands
    review.tap()
    expect(
        offline_tablet.get_by_text("Someone else saved this checklist while you were filling it in")
    ).to_be_visible()
    expect(offline_tablet.locator("#e-antenatal-discussion-wrapper")).to_contain_text(
        "Someone else changed this answer too"
    )
    expect(offline_tablet.locator('input[name="e-antenatal-discussion"][value="no"]')).to_be_checked()
    _, answers = stored(live_app, care_bundle(OASI), url)
    assert answers["antenatal-discussion"] == ["declined"]  # nothing saved until the user chooses


def test_a_lost_response_is_sent_again_and_doubles_nothing(page: Page, live_app: Flask) -> None:
    url, checklist_id = start(page)
    answer(page, OASI_PLAN)
    context = page.context
    context.set_offline(True)
    page.locator('button[name="action"][value="complete"]').tap()
    expect(page.locator(STATUS)).to_contain_text("It will be sent when the network returns")

    reached: list[int] = []

    def lose_the_answer(route: Route) -> None:
        if route.request.method != "POST" or reached:
            route.continue_()
            return
        answered = route.fetch()  # the server completes the checklist...
        reached.append(answered.status)
        route.abort("connectionreset")  # ...and the tablet never hears of it

    page.route(f"**/ward/checklists/{checklist_id}", lose_the_answer)
    context.set_offline(False)
    expect(page.locator(STATUS)).to_contain_text("will be sent when the network returns")
    assert reached == [200]
    checklist, completions, _ = counts(live_app, checklist_id)
    assert (checklist.status, completions) == (ChecklistStatus.COMPLETED, 1)

    page.reload()  # the next page load sends the queue again: the server knows it as a replay
    expect(page.locator(STATUS)).to_have_text("Sent")
    checklist, completions, deliveries = counts(live_app, checklist_id)
    assert (checklist.status, completions, deliveries) == (ChecklistStatus.COMPLETED, 1, 1)


@pytest.fixture
def second_clinician(live_app: Flask) -> str:
    """Another clinician of the same ward, who will use the same tablet."""
    name = f"robin-{uuid.uuid4().hex[:6]}"
    with live_app.app_context():
        user = users.create_user(
            db.session, name, display_name="Robin Other", role="clinician", password=PASSWORD
        )
        users.add_unit(db.session, user, users.find_unit(db.session, SITE_CODE, UNIT_CODE))
        db.session.commit()
        db.session.remove()
    return name


def sign_in_as(page: Page, username: str) -> None:
    page.goto("/sign-in?next=/ward/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").tap()
    expect(page.get_by_role("heading", name="Open checklists")).to_be_visible()


def test_signing_out_with_unsent_work_keeps_it_for_its_user_only(
    new_context: NewContext, live_app: Flask, second_clinician: str
) -> None:
    context: BrowserContext = new_context(signed_in=False)
    page = context.new_page()
    from tests.browser.conftest import USERNAME

    sign_in_as(page, USERNAME)
    url, checklist_id = start(page)
    answer(page, OASI_PLAN[:2])
    drafted(page, "e-antenatal-discussion", "yes")

    page.get_by_role("button", name="Sign out").tap()
    dialog = page.locator("dialog.careloop-dialog")
    expect(dialog).to_contain_text("1 checklist is not sent yet")
    expect(dialog).to_contain_text("NHS number 943 476 5919")
    dialog.get_by_role("button", name="Sign out and keep them for me").tap()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    sign_in_as(page, second_clinician)
    expect(page.locator("[data-tablet-work]")).to_be_hidden()
    page.context.set_offline(True)
    page.goto(url)  # the first user's copy of the page went at sign-out: the offline page
    expect(page.get_by_role("heading", level=1)).to_contain_text("no network")
    page.context.set_offline(False)
    page.goto(url)
    ChecklistPage(page, care_bundle(OASI), javascript=True).ready()
    expect(page.locator('input[name="e-birth-mode"][value="spontaneous-vaginal"]')).not_to_be_checked()
    expect(page.locator(STATUS)).to_have_count(0)
    page.goto("/ward/")
    page.get_by_role("button", name="Sign out").tap()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    sign_in_as(page, USERNAME)
    expect(page.locator("[data-tablet-work]")).to_contain_text("NHS number 943 476 5919")
    page.goto(url)
    for name, code in OASI_PLAN[:2]:
        expect(page.locator(f'input[name="{name}"][value="{code}"]')).to_be_checked()


def test_a_checklist_started_with_no_network_is_started_once_when_it_returns(
    page: Page, live_app: Flask
) -> None:
    bundle = care_bundle(OASI)
    ready_for_offline(page)
    page.context.set_offline(True)
    page.get_by_role("link", name="Start a checklist").tap()
    tap_choice(page, page.get_by_label(f"{bundle.title}, Browser Test Ward", exact=True))
    choose(page, "patient_kind", "nhs-number")
    page.get_by_label("Number", exact=True).fill("943 476 5919")
    anchor = dt.datetime.now(ZoneInfo(bundle.timezone)) - dt.timedelta(minutes=30)
    page.locator("#anchor-day").fill(str(anchor.day))
    page.locator("#anchor-month").fill(str(anchor.month))
    page.locator("#anchor-year").fill(str(anchor.year))
    page.locator("#anchor-time").fill(anchor.strftime("%H:%M"))
    page.get_by_role("button", name="Continue").tap()
    expect(page.locator("[data-fill=patient]")).to_have_text("NHS number 943 476 5919")
    checklist_id = uuid.UUID(page.url.split("#", 1)[1])
    answer(page, OASI_PLAN)
    page.locator('button[name="action"][value="complete"]').tap()
    expect(page.locator(STATUS)).to_contain_text("It will be sent when the network returns")

    page.context.set_offline(False)
    expect(page.locator(STATUS)).to_have_text("Sent")
    checklist, completions, deliveries = counts(live_app, checklist_id)
    assert (checklist.status, completions, deliveries) == (ChecklistStatus.COMPLETED, 1, 1)
    assert checklist.patient_identifier == "9434765919"


HIP = "hip-fracture-pathway-2.0.0.yaml"
GERIATRICIAN = "#e-geriatrician-assessment-wrapper .careloop-badge"


def test_with_no_network_the_browser_rules_give_the_same_due_times_as_the_server(page: Page) -> None:
    bundle = care_bundle(HIP)
    ready_for_offline(page)
    anchor = local_anchor(ZoneInfo(bundle.timezone), 1, hour=9, minute=15)
    start_checklist(page, bundle, anchor)
    checklist = ChecklistPage(page, bundle, javascript=True)
    checklist.ready()
    server_badge = page.locator(GERIATRICIAN).inner_text()
    assert server_badge.startswith("Due by ")  # 72 hours from yesterday 09:15: another day, so with its date
    applied = int(page.locator("form.careloop-checklist").get_attribute("data-rules-applied") or 0)
    page.context.set_offline(True)  # the page works out its due times itself from now on
    expect(page.locator("form.careloop-checklist")).not_to_have_attribute("data-rules-applied", str(applied))
    expect(page.locator(GERIATRICIAN)).to_have_text(server_badge)

    # An answer given offline: the page judges it in time, with no server to ask.
    choose(page, "e-geriatrician-assessment", "done")
    checklist.answer(
        element_of(bundle, "geriatrician-assessment-time"),
        "e-geriatrician-assessment-time",
        anchor + dt.timedelta(hours=2),
    )
    expect(page.locator(GERIATRICIAN)).to_have_text("In time")


def test_a_kept_page_older_than_the_keep_time_is_not_shown(page: Page) -> None:
    url, _ = start(page)
    page.context.set_offline(True)
    page.reload()  # kept: served by the service worker
    ChecklistPage(page, care_bundle(OASI), javascript=True).ready()
    page.context.set_offline(False)
    # The page was kept 13 hours ago (the keep time is 12): as if the tablet had lain in a drawer since.
    page.evaluate(
        """async (url) => {
             for (const name of await caches.keys()) {
               if (!name.startsWith("careloop-pages-")) continue;
               const cache = await caches.open(name);
               const kept = await cache.match(url);
               if (!kept) continue;
               const headers = new Headers(kept.headers);
               headers.set("X-Careloop-Stored-At", String(Date.now() - 13 * 3600 * 1000));
               await cache.put(url, new Response(await kept.blob(), { status: 200, headers }));
             }
           }""",
        url,
    )
    page.context.set_offline(True)
    page.goto(url)
    expect(page.get_by_role("heading", level=1)).to_contain_text("no network")
    assert (
        page.evaluate(
            """async (url) => {
             for (const name of await caches.keys()) {
               if (!name.startsWith("careloop-pages-")) continue;
               if (await (await caches.open(name)).match(url)) return true;
             }
             return false;
           }""",
            url,
        )
        is False
    )  # and it is gone
