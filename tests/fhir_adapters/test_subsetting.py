"""``_summary`` and ``_elements``: the elements kept are R4's, and a subset says it is one."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.codesystem import CodeSystem
from fhir.resources.R4B.measure import Measure
from fhir.resources.R4B.measurereport import MeasureReport
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from fhir.resources.R4B.structuredefinition import StructureDefinition

from fhir_adapters.subsetting import MANDATORY_ELEMENTS, SUBSETTED, SUMMARY_ELEMENTS, kept_elements, subset

MODELS: dict[str, Any] = {
    "Questionnaire": Questionnaire,
    "QuestionnaireResponse": QuestionnaireResponse,
    "CodeSystem": CodeSystem,
    "StructureDefinition": StructureDefinition,
    "Measure": Measure,
    "MeasureReport": MeasureReport,
}
RESPONSE = {
    "resourceType": "QuestionnaireResponse",
    "id": "a",
    "meta": {"versionId": "2", "tag": [{"system": "https://example.org/tags", "code": "x"}]},
    "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'},
    "questionnaire": "https://careloop.example/fhir/Questionnaire/q|1.0.0",
    "status": "completed",
    "authored": "2026-03-29T02:00:00Z",
    "item": [{"linkId": "a", "answer": [{"valueBoolean": True}]}],
}


def _r4b(model: Any, flag: str) -> set[str]:
    fields = model.model_fields.items()
    return {field.alias or name for name, field in fields if (field.json_schema_extra or {}).get(flag)}


@pytest.mark.parametrize("resource_type", sorted(MODELS))
def test_the_summary_and_mandatory_elements_are_the_specifications(resource_type: str) -> None:
    model = MODELS[resource_type]
    assert SUMMARY_ELEMENTS[resource_type] - {"resourceType"} == _r4b(model, "summary_element_property")
    # fhir.resources flags mandatory primitives; a mandatory complex element (MeasureReport.period) is a
    # required field of the model instead.
    required = {field.alias or name for name, field in model.model_fields.items() if field.is_required()}
    assert MANDATORY_ELEMENTS[resource_type] == _r4b(model, "element_required") | required


def test_summary_true_keeps_the_summary_elements_and_tags_the_subset() -> None:
    shaped = subset(RESPONSE, summary="true")
    assert set(shaped) == {"resourceType", "id", "meta", "questionnaire", "status", "authored"}
    assert shaped["meta"]["tag"] == [*RESPONSE["meta"]["tag"], SUBSETTED]  # tags kept, SUBSETTED added
    assert len(RESPONSE["meta"]["tag"]) == 1  # the original is never changed
    QuestionnaireResponse.model_validate(shaped)


def test_text_data_and_elements() -> None:
    assert set(subset(RESPONSE, summary="text")) == {"resourceType", "id", "meta", "text", "status"}
    assert set(subset(RESPONSE, summary="data")) == set(RESPONSE) - {"text"}
    # _elements keeps the mandatory elements too; an element the resource lacks is simply absent.
    chosen = subset(RESPONSE, elements=frozenset({"authored", "encounter"}))
    assert set(chosen) == {"resourceType", "id", "meta", "status", "authored"}
    assert chosen["meta"]["tag"][-1] == SUBSETTED


@pytest.mark.parametrize(("summary", "elements"), [("false", None), ("count", None), (None, None)])
def test_nothing_left_out_is_the_resource_itself(summary: str | None, elements: Any) -> None:
    assert subset(RESPONSE, summary=summary, elements=elements) is RESPONSE
    assert kept_elements(RESPONSE, summary=summary, elements=elements) is None
    whole = {
        key: value for key, value in RESPONSE.items() if key in SUMMARY_ELEMENTS["QuestionnaireResponse"]
    }
    assert subset(whole, summary="true") is whole  # only summary elements: nothing to tag


def test_summary_wins_over_elements() -> None:
    assert "item" not in subset(RESPONSE, summary="true", elements=frozenset({"item"}))
