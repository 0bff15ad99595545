"""Property tests over the shipped care bundles (Hypothesis).

Answers generated to be valid (only enabled elements, every enabled required element answered, values of the
right type and range) give a QuestionnaireResponse that the SDC validator accepts; every mutation of such a
response (drop a required answer, answer a disabled element, wrong type, unknown option, unknown linkId) is
flagged as an error.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fhir_adapters.operation_outcome import Issue
from fhir_adapters.questionnaire import to_questionnaire
from fhir_adapters.questionnaire_response import to_questionnaire_response
from fhir_adapters.sdc_validation import compile_questionnaire, validate_questionnaire_response
from schemas.care_bundle import CareBundle, Element, load_care_bundle
from service.checklists import evaluate
from tests.factories import AUTHORED, answerable, valid_answers, value_of

ROOT = Path(__file__).resolve().parents[2]
CARE_BUNDLES = {path.stem: load_care_bundle(path) for path in sorted((ROOT / "bundles").glob("*.yaml"))}
COMPILED = {name: compile_questionnaire(to_questionnaire(bundle)) for name, bundle in CARE_BUNDLES.items()}
EXAMPLES = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


def _response(care_bundle: CareBundle, answers: dict[str, list[Any]]) -> dict[str, Any]:
    return to_questionnaire_response(
        care_bundle,
        answers,
        checklist_id="0b7d3c52-52a4-4f3e-8a55-6d1f1b0c9e21",
        status="completed",
        authored=AUTHORED,
        nhs_number="9434765919",
    )


def _errors(name: str, response: dict[str, Any]) -> list[Issue]:
    return [issue for issue in validate_questionnaire_response(COMPILED[name], response) if issue.is_error]


def _items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for item in items:
        found.append(item)
        found.extend(_items(item.get("item", [])))
        for answer in item.get("answer", []):
            found.extend(_items(answer.get("item", [])))
    return found


def _disabled_elements(care_bundle: CareBundle, answers: dict[str, list[Any]]) -> list[Element]:
    """Answerable elements (outside repeating groups) a valid response leaves out: not enabled."""
    enabled = evaluate(care_bundle, answers, AUTHORED).enabled
    return [
        element
        for element in care_bundle.walk()
        if answerable(element)
        and element.id not in enabled
        and element.id not in care_bundle.repeating_group_of
    ]


@pytest.mark.parametrize("name", CARE_BUNDLES)
@EXAMPLES
@given(data=st.data())
def test_valid_answers_give_a_valid_response(name: str, data: st.DataObject) -> None:
    care_bundle = CARE_BUNDLES[name]
    answers = data.draw(valid_answers(care_bundle))
    assert _errors(name, _response(care_bundle, answers)) == []


@pytest.mark.parametrize("name", CARE_BUNDLES)
@EXAMPLES
@given(data=st.data())
def test_dropping_a_required_answer_is_flagged(name: str, data: st.DataObject) -> None:
    care_bundle = CARE_BUNDLES[name]
    answers = data.draw(valid_answers(care_bundle))
    required = [
        element_id
        for element_id in answers
        if element_id == care_bundle.anchor.id or getattr(care_bundle.element(element_id), "required", False)
    ]
    dropped = data.draw(st.sampled_from(required))
    response = _response(care_bundle, {key: value for key, value in answers.items() if key != dropped})
    errors = _errors(name, response)
    assert any(issue.code == "required" and dropped in issue.diagnostics for issue in errors), errors


@pytest.mark.parametrize("name", CARE_BUNDLES)
@EXAMPLES
@given(data=st.data())
def test_answering_a_disabled_element_is_flagged(name: str, data: st.DataObject) -> None:
    care_bundle = CARE_BUNDLES[name]
    answers = data.draw(valid_answers(care_bundle))
    disabled = _disabled_elements(care_bundle, answers)
    assume(disabled)  # every element enabled by these answers: nothing to mutate here
    element = data.draw(st.sampled_from(disabled))
    mutated = {**answers, element.id: [data.draw(value_of(element))]}
    errors = _errors(name, _response(care_bundle, mutated))
    # Flagged on the element, or on the disabled group that holds it.
    named = {element.id, *_groups_holding(care_bundle.elements, element.id)}
    assert any(any(f"'{link_id}'" in issue.diagnostics for link_id in named) for issue in errors), errors


def _groups_holding(elements: tuple[Element, ...], element_id: str) -> list[str]:
    for element in elements:
        if element.id == element_id:
            return []
        inner = _groups_holding(element.items, element_id)
        if inner or any(child.id == element_id for child in element.items):
            return [element.id, *inner]
    return []


# A value of the wrong type for each item type (valueString is wrong for all but string/text).
_WRONG = {"valueString": "wrong", "valueBoolean": True}


@pytest.mark.parametrize("name", CARE_BUNDLES)
@EXAMPLES
@given(data=st.data())
def test_wrong_answer_type_is_flagged(name: str, data: st.DataObject) -> None:
    care_bundle = CARE_BUNDLES[name]
    response = _response(care_bundle, data.draw(valid_answers(care_bundle)))
    item = data.draw(st.sampled_from([item for item in _items(response["item"]) if "answer" in item]))
    (key,) = [key for key in item["answer"][0] if key.startswith("value")]
    wrong = "valueBoolean" if key == "valueString" else "valueString"
    item["answer"][0] = {wrong: _WRONG[wrong]}
    errors = _errors(name, response)
    assert any(item["linkId"] in issue.diagnostics for issue in errors), errors


@pytest.mark.parametrize("name", CARE_BUNDLES)
@EXAMPLES
@given(data=st.data())
def test_unknown_option_is_flagged(name: str, data: st.DataObject) -> None:
    care_bundle = CARE_BUNDLES[name]
    response = _response(care_bundle, data.draw(valid_answers(care_bundle)))
    codings = [item for item in _items(response["item"]) if "valueCoding" in item.get("answer", [{}])[0]]
    item = data.draw(st.sampled_from(codings))
    changed = copy.deepcopy(item["answer"][0]["valueCoding"])
    changed[data.draw(st.sampled_from(["code", "system"]))] = "urn:careloop:not-an-option"
    item["answer"][0] = {"valueCoding": changed}
    errors = _errors(name, response)
    assert any(item["linkId"] in issue.diagnostics for issue in errors), errors


@pytest.mark.parametrize("name", CARE_BUNDLES)
@EXAMPLES
@given(data=st.data())
def test_unknown_link_id_is_flagged(name: str, data: st.DataObject) -> None:
    care_bundle = CARE_BUNDLES[name]
    response = _response(care_bundle, data.draw(valid_answers(care_bundle)))
    position = data.draw(st.integers(min_value=0, max_value=len(response["item"])))
    response["item"].insert(position, {"linkId": "not-in-this-care-bundle", "answer": [{"valueString": "x"}]})
    errors = _errors(name, response)
    assert any("not-in-this-care-bundle" in issue.diagnostics for issue in errors), errors
