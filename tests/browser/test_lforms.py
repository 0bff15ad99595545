"""A real form app fills our published Questionnaires and its responses come in through ``/fhir`` (issue 10,
item 4a).

For the latest version of every shipped care bundle: NLM's LHC-Forms 40 renders the Questionnaire read from
the live server's ``/fhir/Questionnaire``, a person answers it (the plan of ``test_care_bundles``, the same
answers a midwife enters on the ward page there), and the QuestionnaireResponse LHC-Forms makes is sent
with only what a host application adds (``subject.identifier``, ``identifier``, ``status``) to
``POST /fhir/QuestionnaireResponse`` with a token bound to the unit. It is accepted as one completed
checklist holding exactly the plan's answers, with the element, timing rule and all-or-none outcomes that
``evaluate`` gives those answers: the outcomes the ward page shows for them (``test_care_bundles`` checks
the page against ``evaluate``). Posting the same response again finds the same checklist.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import select

from schemas.care_bundle import CareBundle
from service.auth.tokens import create_token, revoke_token
from service.checklists import evaluate
from service.checklists.store import Judgement, answers_of
from service.extensions import db
from service.models import Checklist, ChecklistSource, ChecklistStatus, Unit
from tests.browser.conftest import UNIT_CODE, LiveServer, NewContext
from tests.browser.lforms import LFormsPage, lforms_missing
from tests.browser.pages import care_bundle, expected_answers
from tests.browser.test_care_bundles import ANCHOR, CARE_BUNDLES

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
#: The identifier the host application gives each form it sends (its own form id).
HOST_FORM_SYSTEM = "https://trust.example/Id/lforms-form"


@pytest.fixture(scope="module", autouse=True)
def _lforms_unpacked() -> None:
    missing = lforms_missing()
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(f"the LHC-Forms test cannot run in CI: {missing}", pytrace=False)
        pytest.skip(missing)


@pytest.fixture(scope="module")
def bearer(live_app: Flask) -> Iterator[dict[str, str]]:
    """A token of an integration engine bound to the live server's unit, revoked afterwards."""
    with live_app.app_context():
        unit = db.session.scalar(select(Unit).where(Unit.code == UNIT_CODE))
        assert unit is not None
        token, secret = create_token(
            db.session,
            name="LHC-Forms host",
            site=unit.site,
            unit=unit,
            scopes="system/QuestionnaireResponse.cru system/Questionnaire.rs",
        )
        db.session.commit()
        token_id = token.id
        db.session.remove()
    yield {"Authorization": f"Bearer {secret}", "Accept": "application/fhir+json"}
    with live_app.app_context():
        revoke_token(db.session, token_id, dt.datetime.now(dt.UTC))
        db.session.commit()
        db.session.remove()


def nhs_or_local(kind: str, number: str) -> dict[str, str]:
    if kind == "nhs-number":
        return {"system": NHS_NUMBER_SYSTEM, "value": number.replace(" ", "")}
    return {"system": "https://trust.example/Id/local-patient", "value": number}


def host_sets(made: dict[str, Any], patient: dict[str, str]) -> dict[str, Any]:
    """What the host application adds to LHC-Forms' response: the patient, its form id, the status."""
    sent = dict(made)
    sent["subject"] = {"identifier": patient}
    sent["identifier"] = {"system": HOST_FORM_SYSTEM, "value": str(uuid.uuid4())}
    sent["status"] = "completed"
    return sent


def stored_results(live_app: Flask, bundle: CareBundle, checklist_id: str) -> dict[str, Any]:
    """The checklist as the live server stored it: status, source, answers and every stored outcome."""
    with live_app.app_context():
        checklist = db.session.get(Checklist, uuid.UUID(checklist_id))
        assert checklist is not None
        found = {
            "status": checklist.status,
            "source": checklist.source,
            "answers": answers_of(bundle, checklist),
            "judgement": Judgement.of_checklist(checklist),
        }
        db.session.remove()
    return found


@pytest.mark.parametrize("care_bundle_id", list(CARE_BUNDLES))
def test_lhc_forms_fills_a_care_bundle_and_the_response_becomes_the_same_checklist(
    new_context: NewContext,
    live_server: LiveServer,
    live_app: Flask,
    bearer: dict[str, str],
    care_bundle_id: str,
) -> None:
    file_name, plan_of, (kind, number) = CARE_BUNDLES[care_bundle_id]
    bundle = care_bundle(file_name)
    plan = plan_of()
    read = requests.get(
        f"{live_server.url}/fhir/Questionnaire/{bundle.id}-{bundle.version}", headers=bearer, timeout=10
    )
    assert read.status_code == 200, read.text
    questionnaire = read.json()

    form = LFormsPage(new_context(signed_in=False).new_page(), bundle, questionnaire)
    form.answer_plan(plan, ANCHOR)
    made = form.questionnaire_response()
    assert made["questionnaire"] == f"{questionnaire['url']}|{bundle.version}"
    assert "lformsVersion: 40.1.3" in {tag.get("code") for tag in made["meta"]["tag"]}

    sent = host_sets(made, nhs_or_local(kind, number))
    headers = {**bearer, "Content-Type": "application/fhir+json", "Prefer": "return=representation"}
    endpoint = f"{live_server.url}/fhir/QuestionnaireResponse"
    created = requests.post(endpoint, json=sent, headers=headers, timeout=10)
    assert created.status_code == 201, created.text
    returned = created.json()
    assert returned["status"] == "completed"
    assert returned["identifier"] == sent["identifier"]
    assert returned["subject"]["identifier"] == sent["subject"]["identifier"]

    answers = expected_answers(bundle, ANCHOR, plan)
    found = stored_results(live_app, bundle, returned["id"])
    assert found["status"] == ChecklistStatus.COMPLETED
    assert found["source"] == ChecklistSource.FHIR
    calculated = {element.id for element in bundle.walk() if element.calculated is not None}
    assert {key: value for key, value in found["answers"].items() if key not in calculated} == answers

    # Every stored element, timing rule, composite and failed check outcome is what ``evaluate`` makes of the
    # answers typed on the ward page in test_care_bundles, and the headline all-or-none result with them.
    judged = evaluate(bundle, answers, dt.datetime.now(dt.UTC))
    assert found["judgement"] == Judgement.of_evaluation(judged, ChecklistStatus.COMPLETED)
    assert found["judgement"].elements
    assert found["judgement"].composites

    again = requests.post(endpoint, json=sent, headers=headers, timeout=10)
    assert again.status_code == 200, again.text  # the same form sent twice: found, not made again
    assert again.json()["id"] == returned["id"]
