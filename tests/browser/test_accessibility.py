"""axe-core (the npm package, injected into each page) finds no serious or critical accessibility problem on
any page a clinician sees: sign-in, worklist, start, confirm, a checklist in progress with its error summary,
the conflict page, completed, amend, history, a stored version and entered in error; nor on the admin pages
(sites, a site's EHR settings with their errors, units, users, deliveries)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import ADMIN_USERNAME, PASSWORD, PROJECT_ROOT, SITE_CODE, UNIT_CODE, NewContext
from tests.browser.pages import ChecklistPage, care_bundle, submit, tap_choice

AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


def axe_problems(page: Page, name: str) -> list[str]:
    """Serious and critical violations on the page as it is now, one line each."""
    assert Path(AXE).is_file(), f"{AXE} is missing: run npm ci"
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    violations: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations.map((v) => ({
             id: v.id, impact: v.impact, help: v.help,
             targets: v.nodes.map((node) => node.target.join(" ") + " " + node.failureSummary),
           }))"""
    )
    return [
        f"{name} ({page.url}): {violation['id']} [{violation['impact']}] {violation['help']}: "
        + "; ".join(violation["targets"])
        for violation in violations
        if violation["impact"] in BLOCKING
    ]


def test_no_serious_or_critical_accessibility_problem_on_any_page(new_context: NewContext) -> None:
    # The pages' content security policy (script-src 'self') refuses an injected script: this context
    # alone bypasses it, to inject axe-core.
    problems: list[str] = []
    signed_out = new_context(signed_in=False, bypass_csp=True).new_page()
    signed_out.goto("/sign-in")
    problems += axe_problems(signed_out, "sign-in")

    context = new_context(bypass_csp=True)
    page = context.new_page()
    bundle = care_bundle("oasi-care-bundle-2.0.0.yaml")

    page.goto("/ward/start")
    problems += axe_problems(page, "start")
    tap_choice(page, page.get_by_label(f"{bundle.title}, Browser Test Ward", exact=True))
    page.get_by_label("Number", exact=True).fill("943 476 5919")
    page.get_by_role("button", name="Continue").tap()
    expect(page.get_by_role("heading", name="Check the patient before you start")).to_be_visible()
    problems += axe_problems(page, "confirm")
    page.locator('button[name="action"][value="start"]').tap()
    checklist = ChecklistPage(page, bundle, javascript=True)
    checklist.ready()
    url = page.url
    problems += axe_problems(page, "checklist")

    refused = submit(page, "complete")
    assert refused.status == 422
    expect(page.locator(".nhsuk-error-summary")).to_be_visible()
    checklist.ready()
    problems += axe_problems(page, "checklist with an error summary")

    # The conflict page: another tab saves a change to the same answer while this one has the form open.
    other_tab = context.new_page()
    other_tab.goto(url)
    ChecklistPage(other_tab, bundle, javascript=True).answer_plan([("antenatal-discussion", "yes")])
    assert submit(other_tab, "save").ok
    page.bring_to_front()
    page.goto(url)
    checklist.answer_plan([("birth-mode", "caesarean"), ("antenatal-discussion", "declined")])
    other_tab.bring_to_front()
    other_tab.goto(url)
    ChecklistPage(other_tab, bundle, javascript=True).answer_plan([("antenatal-discussion", "no")])
    assert submit(other_tab, "save").ok
    other_tab.close()
    page.bring_to_front()
    conflict = submit(page, "save")
    assert conflict.status == 409
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("Someone else changed this answer too")
    problems += axe_problems(page, "conflict")

    page.goto("/ward/")
    expect(page.get_by_role("heading", name="Open checklists")).to_be_visible()
    problems += axe_problems(page, "worklist")

    page.goto(url)
    checklist.answer_plan([("birth-mode", "caesarean"), ("antenatal-discussion", "yes")])
    checklist.complete()
    problems += axe_problems(page, "completed")

    page.get_by_role("button", name="Amend").tap()
    expect(page.get_by_role("heading", name=f"Amend: {bundle.title}")).to_be_visible()
    problems += axe_problems(page, "amend")

    page.goto(url + "/history")
    problems += axe_problems(page, "history")
    page.get_by_role("link", name="4", exact=True).tap()
    expect(page.get_by_role("heading", name="Version 4: Completed")).to_be_visible()
    problems += axe_problems(page, "version")

    page.goto(url + "/entered-in-error")
    problems += axe_problems(page, "entered in error")

    assert not problems, "axe-core found serious or critical problems:\n" + "\n".join(problems)

    # And axe-core does see a problem where there is one: an input without a label is critical.
    page.evaluate("document.querySelector('main').append(document.createElement('input'))")
    assert any(" label [critical]" in line for line in axe_problems(page, "broken on purpose"))


def test_no_serious_or_critical_accessibility_problem_on_the_admin_pages(new_context: NewContext) -> None:
    page = new_context(signed_in=False, bypass_csp=True).new_page()
    page.goto("/sign-in?next=/admin/sites")
    page.get_by_label("Username").fill(ADMIN_USERNAME)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").tap()
    expect(page.get_by_role("heading", name="Sites and units")).to_be_visible()
    problems = axe_problems(page, "sites")

    page.goto(f"/admin/sites/{SITE_CODE}")
    problems += axe_problems(page, "site")
    page.get_by_label("Send completed checklists to this EHR").check()
    page.get_by_role("button", name="Save EHR settings").tap()  # enabled without a base URL: refused
    expect(page.locator(".nhsuk-error-summary")).to_be_visible()
    problems += axe_problems(page, "site EHR settings with errors")

    page.goto(f"/admin/sites/{SITE_CODE}/units/{UNIT_CODE}")
    problems += axe_problems(page, "unit")
    page.goto("/admin/sites/new")
    page.get_by_role("button", name="Add site").tap()
    expect(page.locator(".nhsuk-error-summary")).to_be_visible()
    problems += axe_problems(page, "add a site with errors")
    for path, name in (("/admin/users", "users"), ("/admin/users/new", "add a user")):
        page.goto(path)
        problems += axe_problems(page, name)
    page.goto(f"/admin/users/{ADMIN_USERNAME}")
    problems += axe_problems(page, "user")
    page.goto("/admin/deliveries")
    expect(page.get_by_role("heading", name="Deliveries to EHRs")).to_be_visible()
    problems += axe_problems(page, "deliveries")

    assert not problems, "axe-core found serious or critical problems:\n" + "\n".join(problems)
