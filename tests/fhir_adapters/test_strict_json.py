"""Strict FHIR JSON checks: what ``fhir.resources`` lets through must not get past us."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from hypothesis import given, settings
from hypothesis import strategies as st

from fhir_adapters.sdc_validation import validate_questionnaire_response
from fhir_adapters.strict_json import check_json, check_questionnaire_response_json

GOOD: dict[str, Any] = {
    "resourceType": "QuestionnaireResponse",
    "id": "c0ffee-1",
    "meta": {
        "lastUpdated": "2025-03-01T10:00:00.123Z",
        "profile": ["https://example.org/StructureDefinition/qr"],
    },
    "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">Checklist</div>'},
    "extension": [{"url": "https://careloop.example/anchor", "valueDateTime": "2025-03-01T09:00:00Z"}],
    "identifier": {
        "system": "https://careloop.example/checklist",
        "value": "8b3f7a1e-1b2c-4d5e-8f90-123456789abc",
    },
    "basedOn": [{"reference": "ServiceRequest/s1"}],
    "questionnaire": "https://careloop.example/Questionnaire/oasi|1.0.0",
    "status": "completed",
    "_status": {"extension": [{"url": "https://careloop.example/status-note", "valueString": "checked"}]},
    "subject": {
        "reference": "Patient/p1",
        "identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9000000009"},
    },
    "encounter": {"reference": "Encounter/e1", "type": "Encounter"},
    "authored": "2025-03-01T10:00:00+00:00",
    "author": {"reference": "Practitioner/m1", "display": "Midwife"},
    "source": {"reference": "Patient/p1"},
    "item": [
        {
            "linkId": "g",
            "text": "Group",
            "item": [
                {"linkId": "b", "answer": [{"valueBoolean": False}]},
                {"linkId": "i", "answer": [{"valueInteger": 0}, {"valueInteger": -3}]},
                {"linkId": "d", "answer": [{"valueDecimal": 1.5}, {"valueDecimal": 2}]},
            ],
        },
        {
            "linkId": "dates",
            "answer": [{"valueDate": "2025"}, {"valueDate": "2025-03"}, {"valueDate": "2025-03-01"}],
        },
        {
            "linkId": "dt",
            "answer": [{"valueDateTime": "2025-03-01T10:00:00Z"}, {"valueDateTime": "2025-03-01"}],
        },
        {"linkId": "t", "answer": [{"valueTime": "10:00:00.5"}]},
        {
            "linkId": "s",
            "definition": "https://example.org/def#s",
            "answer": [{"valueString": "text", "_valueString": {"id": "x"}}],
        },
        {"linkId": "u", "answer": [{"valueUri": "urn:uuid:8b3f7a1e-1b2c-4d5e-8f90-123456789abc"}]},
        {
            "linkId": "c",
            "answer": [
                {
                    "valueCoding": {
                        "system": "http://snomed.info/sct",
                        "code": "373066001",
                        "display": "Yes",
                        "userSelected": True,
                    },
                    "item": [{"linkId": "c1", "answer": [{"valueString": "nested"}]}],
                }
            ],
        },
        {
            "linkId": "q",
            "answer": [
                {
                    "valueQuantity": {
                        "value": 3.2,
                        "comparator": "<",
                        "unit": "kg",
                        "system": "http://unitsofmeasure.org",
                        "code": "kg",
                    }
                }
            ],
        },
        {"linkId": "r", "answer": [{"valueReference": {"reference": "Observation/o1", "display": "Obs"}}]},
        {
            "linkId": "a",
            "answer": [
                {
                    "valueAttachment": {
                        "contentType": "text/plain",
                        "data": "aGVsbG8=",
                        "size": 5,
                        "title": "hi",
                    }
                }
            ],
        },
        {"linkId": "no-answer-yet"},
    ],
}


def broken(path: list[Any], value: Any) -> dict[str, Any]:
    """GOOD with the element at ``path`` replaced (or removed, for ``...``); ``_status`` removes both."""
    data = copy.deepcopy(GOOD)
    if path == ["_status"]:
        del data["status"]
    target = data
    for step in path[:-1]:
        target = target[step]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


def found(data: Any) -> list[tuple[str | None, str]]:
    return [(issue.expression, issue.code) for issue in check_questionnaire_response_json(data)]


def test_a_correct_resource_passes_and_fhir_resources_agrees() -> None:
    assert check_questionnaire_response_json(GOOD) == []
    QuestionnaireResponse.model_validate(GOOD)


def test_yes_is_not_a_boolean_though_fhir_resources_says_true() -> None:
    data = broken(["item", 0, "item", 0, "answer", 0, "valueBoolean"], "yes")
    coerced = QuestionnaireResponse.model_validate(data).model_dump()
    assert coerced["item"][0]["item"][0]["answer"][0]["valueBoolean"] is True
    assert found(data) == [("QuestionnaireResponse.item[0].item[0].answer[0].valueBoolean", "structure")]


def test_bogus_status_is_rejected_though_fhir_resources_accepts_it() -> None:
    data = broken(["status"], "bogus")
    assert QuestionnaireResponse.model_validate(data).status == "bogus"
    assert found(data) == [("QuestionnaireResponse.status", "code-invalid")]


A0 = ["item", 1, "answer", 0]  # the first valueDate answer


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (["resourceType"], "Patient", ("QuestionnaireResponse.resourceType", "structure")),
        (["id"], 12, ("QuestionnaireResponse.id", "structure")),
        (["id"], "has space", ("QuestionnaireResponse.id", "value")),
        (["_status"], ..., ("QuestionnaireResponse.status", "required")),
        (["questionnaire"], ["https://x"], ("QuestionnaireResponse.questionnaire", "structure")),
        (["questionnaire"], "not a uri", ("QuestionnaireResponse.questionnaire", "value")),
        (["identifier"], [{"value": "x"}], ("QuestionnaireResponse.identifier", "structure")),
        (["identifier", "system"], 5, ("QuestionnaireResponse.identifier.system", "structure")),
        (["identifier", "use"], "primary", ("QuestionnaireResponse.identifier.use", "code-invalid")),
        (["subject", "reference"], True, ("QuestionnaireResponse.subject.reference", "structure")),
        (["subject", "display"], "", ("QuestionnaireResponse.subject.display", "value")),
        (["encounter", "type"], 1, ("QuestionnaireResponse.encounter.type", "structure")),
        (["author"], "Practitioner/m1", ("QuestionnaireResponse.author", "structure")),
        (["authored"], "2025-03-01 10:00", ("QuestionnaireResponse.authored", "value")),
        (["authored"], "2025-02-30", ("QuestionnaireResponse.authored", "value")),
        (["authored"], "2025-03-01T10:00:00", ("QuestionnaireResponse.authored", "value")),
        (["basedOn"], [], ("QuestionnaireResponse.basedOn", "value")),
        (["basedOn"], {"reference": "ServiceRequest/s1"}, ("QuestionnaireResponse.basedOn", "structure")),
        (["meta", "lastUpdated"], "2025-03-01", ("QuestionnaireResponse.meta.lastUpdated", "value")),
        (["text", "status"], "made-up", ("QuestionnaireResponse.text.status", "code-invalid")),
        (["item"], {"linkId": "x"}, ("QuestionnaireResponse.item", "structure")),
        (["item", 0, "linkId"], ..., ("QuestionnaireResponse.item[0].linkId", "required")),
        (["item", 0, "linkId"], 7, ("QuestionnaireResponse.item[0].linkId", "structure")),
        (["item", 0, "text"], "", ("QuestionnaireResponse.item[0].text", "value")),
        (["item", 4, "definition"], "a b", ("QuestionnaireResponse.item[4].definition", "value")),
        (
            ["item", 0, "item", 1, "answer", 0, "valueInteger"],
            1.5,
            ("QuestionnaireResponse.item[0].item[1].answer[0].valueInteger", "structure"),
        ),
        (
            ["item", 0, "item", 1, "answer", 0, "valueInteger"],
            True,
            ("QuestionnaireResponse.item[0].item[1].answer[0].valueInteger", "structure"),
        ),
        (
            ["item", 0, "item", 1, "answer", 0, "valueInteger"],
            2**31,
            ("QuestionnaireResponse.item[0].item[1].answer[0].valueInteger", "structure"),
        ),
        (
            ["item", 0, "item", 2, "answer", 0, "valueDecimal"],
            False,
            ("QuestionnaireResponse.item[0].item[2].answer[0].valueDecimal", "structure"),
        ),
        (
            ["item", 0, "item", 2, "answer", 0, "valueDecimal"],
            "1.5",
            ("QuestionnaireResponse.item[0].item[2].answer[0].valueDecimal", "structure"),
        ),
        ([*A0, "valueDate"], "2025-3-1", ("QuestionnaireResponse.item[1].answer[0].valueDate", "value")),
        (
            [*A0, "valueDate"],
            "2025-03-01T10:00:00Z",
            ("QuestionnaireResponse.item[1].answer[0].valueDate", "value"),
        ),
        (
            ["item", 2, "answer", 0, "valueDateTime"],
            "2025-03-01T10:00Z",
            ("QuestionnaireResponse.item[2].answer[0].valueDateTime", "value"),
        ),
        (
            ["item", 3, "answer", 0, "valueTime"],
            "24:00:00",
            ("QuestionnaireResponse.item[3].answer[0].valueTime", "value"),
        ),
        (
            ["item", 3, "answer", 0, "valueTime"],
            "10:00",
            ("QuestionnaireResponse.item[3].answer[0].valueTime", "value"),
        ),
        (
            ["item", 4, "answer", 0, "valueString"],
            "",
            ("QuestionnaireResponse.item[4].answer[0].valueString", "value"),
        ),
        (
            ["item", 4, "answer", 0, "valueString"],
            3,
            ("QuestionnaireResponse.item[4].answer[0].valueString", "structure"),
        ),
        (
            ["item", 5, "answer", 0, "valueUri"],
            "urn:uuid:XYZ",
            ("QuestionnaireResponse.item[5].answer[0].valueUri", "value"),
        ),
        (
            ["item", 6, "answer", 0, "valueCoding", "code"],
            373066001,
            ("QuestionnaireResponse.item[6].answer[0].valueCoding.code", "structure"),
        ),
        (
            ["item", 6, "answer", 0, "valueCoding", "system"],
            ["http://snomed.info/sct"],
            ("QuestionnaireResponse.item[6].answer[0].valueCoding.system", "structure"),
        ),
        (
            ["item", 6, "answer", 0, "valueCoding", "display"],
            None,
            ("QuestionnaireResponse.item[6].answer[0].valueCoding.display", "structure"),
        ),
        (
            ["item", 6, "answer", 0, "valueCoding"],
            {},
            ("QuestionnaireResponse.item[6].answer[0].valueCoding", "value"),
        ),
        (
            ["item", 7, "answer", 0, "valueQuantity", "comparator"],
            "~",
            ("QuestionnaireResponse.item[7].answer[0].valueQuantity.comparator", "code-invalid"),
        ),
        (
            ["item", 7, "answer", 0, "valueQuantity", "value"],
            "3.2",
            ("QuestionnaireResponse.item[7].answer[0].valueQuantity.value", "structure"),
        ),
        (
            ["item", 9, "answer", 0, "valueAttachment", "size"],
            -1,
            ("QuestionnaireResponse.item[9].answer[0].valueAttachment.size", "structure"),
        ),
        (
            ["item", 9, "answer", 0, "valueAttachment", "data"],
            "@@@",
            ("QuestionnaireResponse.item[9].answer[0].valueAttachment.data", "value"),
        ),
        (["item", 10, "answer"], [], ("QuestionnaireResponse.item[10].answer", "value")),
        (["extension", 0, "url"], ..., ("QuestionnaireResponse.extension[0].url", "required")),
    ],
)
def test_wrong_element(path: list[Any], value: Any, expected: tuple[str, str]) -> None:
    assert found(broken(path, value)) == [expected]


def test_unknown_properties_are_rejected_everywhere() -> None:
    data = copy.deepcopy(GOOD)
    data["colour"] = "blue"
    data["item"][0]["item"][0]["answer"][0]["valueCode"] = "x"
    data["subject"]["kind"] = "Patient"
    data["_authored"] = "not an element"
    data["_subject"] = {"id": "x"}
    assert sorted(found(data)) == [
        ("QuestionnaireResponse._subject", "structure"),
        ("QuestionnaireResponse.authored", "structure"),
        ("QuestionnaireResponse.colour", "structure"),
        ("QuestionnaireResponse.item[0].item[0].answer[0].valueCode", "structure"),
        ("QuestionnaireResponse.subject.kind", "structure"),
    ]


def test_exactly_one_value_per_answer() -> None:
    data = broken(["item", 4, "answer", 0, "valueInteger"], 1)
    assert found(data) == [("QuestionnaireResponse.item[4].answer[0].valueInteger", "structure")]


def test_item_cannot_nest_under_both_item_and_answer() -> None:
    data = broken(["item", 0, "answer"], [{"valueString": "x"}])
    assert found(data) == [("QuestionnaireResponse.item[0]", "structure")]


def test_primitive_extensions_without_a_value_and_in_arrays() -> None:
    data = broken(["meta", "profile"], [None, "https://example.org/p"])
    data["meta"]["_profile"] = [
        {"extension": [{"url": "https://example.org/why", "valueCode": "absent"}]},
        None,
    ]
    assert found(data) == []
    data["meta"]["_profile"] = [None, None]
    assert found(data) == [("QuestionnaireResponse.meta.profile[0]", "structure")]
    only_extension = broken(["item", 4, "answer", 0, "valueString"], ...)
    assert found(only_extension) == []


def test_extension_has_a_value_or_extensions_not_both() -> None:
    both = broken(["extension", 0, "extension"], [{"url": "x", "valueString": "y"}])
    assert found(both) == [("QuestionnaireResponse.extension[0]", "structure")]


@pytest.mark.parametrize(
    "data", [None, [], "QuestionnaireResponse", {"resourceType": "QuestionnaireResponse"}]
)
def test_not_even_an_object_or_empty(data: Any) -> None:
    assert found(data) != []


def test_generic_walker_checks_one_element() -> None:
    assert check_json({"system": "x", "code": "y"}, "Coding", "Observation.code.coding[0]") == []
    assert [i.expression for i in check_json({"code": ""}, "Coding", "Observation.code.coding[0]")] == [
        "Observation.code.coding[0].code"
    ]


def test_combined_validation_stops_at_structure_errors() -> None:
    questionnaire = {
        "resourceType": "Questionnaire",
        "status": "active",
        "item": [{"linkId": "b", "type": "boolean"}],
    }
    data: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "item": [{"linkId": "b", "answer": [{"valueBoolean": "yes"}]}],
    }
    issues = validate_questionnaire_response(questionnaire, data)
    assert [(i.expression, i.code) for i in issues] == [
        ("QuestionnaireResponse.item[0].answer[0].valueBoolean", "structure")
    ]
    data["item"][0]["answer"][0]["valueBoolean"] = True
    assert [(i.severity, i.code) for i in validate_questionnaire_response(questionnaire, data)] == [
        ("warning", "required")
    ]


json_keys = st.sampled_from(
    [
        "status",
        "_status",
        "item",
        "linkId",
        "answer",
        "valueString",
        "_valueString",
        "valueCoding",
        "code",
        "extension",
        "url",
        "meta",
        "profile",
        "_profile",
        "",
        "x",
    ]
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.sampled_from(["", "a", "completed", "2020"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(json_keys, children, max_size=4),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(data=st.dictionaries(json_keys, json_values, max_size=5))
def test_any_json_gives_issues_not_exceptions(data: dict[str, Any]) -> None:
    issues = check_questionnaire_response_json({"resourceType": "QuestionnaireResponse", **data})
    assert all(issue.expression and issue.expression.startswith("QuestionnaireResponse") for issue in issues)
