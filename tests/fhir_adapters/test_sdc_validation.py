"""SDC rules of ``validate_response``, one small Questionnaire per rule, valid and invalid."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fhir_adapters.operation_outcome import Issue
from fhir_adapters.sdc_validation import (
    TerminologyCheck,
    compile_questionnaire,
    terminology_checks,
    to_operation_outcome,
    validate_response,
    verdict,
)

URL = "https://careloop.example/fhir/Questionnaire/test"
SD = "http://hl7.org/fhir/StructureDefinition/"
UCUM = "http://unitsofmeasure.org"
YES = {"system": "https://careloop.example/answers", "code": "yes", "display": "Yes"}
NO = {"system": "https://careloop.example/answers", "code": "no", "display": "No"}


def questionnaire(*items: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"resourceType": "Questionnaire", "url": URL, "status": "active", "item": list(items), **fields}


def response(*items: dict[str, Any], status: str = "completed", **fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": URL,
        "status": status,
        "item": list(items),
        **fields,
    }


def answered(link_id: str, *values: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"linkId": link_id, "answer": list(values), **fields}


def ext(name: str, **value: Any) -> dict[str, Any]:
    return {"url": SD + name, **value}


def problems(q: dict[str, Any], r: dict[str, Any]) -> list[tuple[str | None, str]]:
    """(expression, code) of the errors, in order."""
    return [(issue.expression, issue.code) for issue in validate_response(q, r) if issue.is_error]


def severities(issues: list[Issue]) -> list[tuple[str, str]]:
    return [(issue.severity, issue.code) for issue in issues]


# --- linkIds, nesting, order, text --------------------------------------------------------------------------

NESTED = questionnaire(
    {
        "linkId": "g",
        "type": "group",
        "item": [{"linkId": "g1", "type": "string"}, {"linkId": "g2", "type": "string"}],
    },
    {
        "linkId": "smoker",
        "type": "boolean",
        "item": [{"linkId": "packs", "type": "integer"}],
    },
)


def test_nested_response_in_the_right_places_is_valid() -> None:
    r = response(
        {"linkId": "g", "item": [answered("g1", {"valueString": "a"}), answered("g2", {"valueString": "b"})]},
        answered("smoker", {"valueBoolean": True, "item": [answered("packs", {"valueInteger": 2})]}),
    )
    assert validate_response(NESTED, r) == []


def test_unknown_link_id_is_an_error_at_its_path() -> None:
    r = response({"linkId": "g", "item": [answered("nope", {"valueString": "a"})]})
    assert problems(NESTED, r) == [("QuestionnaireResponse.item[0].item[0]", "structure")]


def test_item_outside_its_group_is_misplaced() -> None:
    issues = validate_response(NESTED, response(answered("g1", {"valueString": "a"})))
    assert severities(issues) == [("error", "structure")]
    assert "belongs in group 'g'" in issues[0].diagnostics
    assert issues[0].expression == "QuestionnaireResponse.item[0]"


def test_children_of_a_question_go_under_its_answer_not_under_item() -> None:
    r = response({"linkId": "smoker", "item": [answered("packs", {"valueInteger": 2})]})
    assert problems(NESTED, r) == [("QuestionnaireResponse.item[0].item[0]", "structure")]


def test_answer_nested_path_expression() -> None:
    r = response(
        answered("smoker", {"valueBoolean": True, "item": [answered("packs", {"valueString": "two"})]})
    )
    assert problems(NESTED, r) == [("QuestionnaireResponse.item[0].answer[0].item[0].answer[0]", "structure")]


def test_group_nested_path_expression() -> None:
    r = response(
        {"linkId": "g", "item": [answered("g1", {"valueString": "a"}), answered("g2", {"valueInteger": 1})]}
    )
    assert problems(NESTED, r) == [("QuestionnaireResponse.item[0].item[1].answer[0]", "structure")]


def test_groups_carry_no_answers() -> None:
    r = response({"linkId": "g", "answer": [{"valueString": "x"}]})
    assert problems(NESTED, r) == [("QuestionnaireResponse.item[0].answer", "structure")]


def test_items_out_of_questionnaire_order() -> None:
    r = response(
        answered("smoker", {"valueBoolean": False}),
        {"linkId": "g", "item": [answered("g1", {"valueString": "a"})]},
    )
    assert problems(NESTED, r) == [("QuestionnaireResponse.item[1]", "structure")]


def test_text_must_match_the_questionnaire() -> None:
    q = questionnaire({"linkId": "a", "type": "string", "text": "Name"})
    assert validate_response(q, response(answered("a", {"valueString": "x"}, text="Name"))) == []
    assert validate_response(q, response(answered("a", {"valueString": "x"}))) == []
    assert problems(q, response(answered("a", {"valueString": "x"}, text="Surname"))) == [
        ("QuestionnaireResponse.item[0]", "value")
    ]


# --- answer types -------------------------------------------------------------------------------------------

TYPE_EXAMPLES: list[tuple[str, dict[str, Any]]] = [
    ("boolean", {"valueBoolean": False}),
    ("decimal", {"valueDecimal": 1.5}),
    ("integer", {"valueInteger": 3}),
    ("date", {"valueDate": "2024-02-29"}),
    ("dateTime", {"valueDateTime": "2024-02-29T10:00:00Z"}),
    ("time", {"valueTime": "23:59:00"}),
    ("string", {"valueString": "one line"}),
    ("text", {"valueString": "two\nlines"}),
    ("url", {"valueUri": "https://example.org/a"}),
    ("choice", {"valueCoding": YES}),
    ("open-choice", {"valueCoding": YES}),
    ("open-choice", {"valueString": "something else"}),
    ("attachment", {"valueAttachment": {"contentType": "text/plain", "data": "aGk=", "size": 2}}),
    ("reference", {"valueReference": {"reference": "Patient/p1"}}),
    ("quantity", {"valueQuantity": {"value": 3, "unit": "kg", "system": UCUM, "code": "kg"}}),
]


@pytest.mark.parametrize(
    ("item_type", "answer"), TYPE_EXAMPLES, ids=[f"{t}-{next(iter(a))}" for t, a in TYPE_EXAMPLES]
)
def test_each_item_type_takes_its_value_type(item_type: str, answer: dict[str, Any]) -> None:
    q = questionnaire({"linkId": "a", "type": item_type})
    assert validate_response(q, response(answered("a", answer))) == []


@pytest.mark.parametrize(
    ("item_type", "answer"), TYPE_EXAMPLES, ids=[f"{t}-{next(iter(a))}" for t, a in TYPE_EXAMPLES]
)
def test_each_item_type_rejects_another_value_type(item_type: str, answer: dict[str, Any]) -> None:
    wrong = {"valueInteger": 1} if "valueInteger" not in answer else {"valueBoolean": True}
    q = questionnaire({"linkId": "a", "type": item_type})
    assert problems(q, response(answered("a", wrong))) == [
        ("QuestionnaireResponse.item[0].answer[0]", "structure")
    ]


@pytest.mark.parametrize("item_type", ["display", "group"])
def test_display_and_group_items_carry_no_answers(item_type: str) -> None:
    q = questionnaire({"linkId": "a", "type": item_type})
    assert problems(q, response(answered("a", {"valueString": "x"}))) == [
        ("QuestionnaireResponse.item[0].answer", "structure")
    ]


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        ({"valueBoolean": "yes"}, "structure"),
        ({"valueInteger": 1.5}, "structure"),
        ({"valueInteger": True}, "structure"),
        ({"valueDecimal": "1.5"}, "structure"),
        ({"valueDate": "2023-02-30"}, "value"),
        ({"valueDate": "01/02/2023"}, "value"),
    ],
)
def test_malformed_values_are_errors_not_crashes(answer: dict[str, Any], code: str) -> None:
    key = next(iter(answer))
    item_type = {"valueBoolean": "boolean", "valueInteger": "integer", "valueDecimal": "decimal"}.get(
        key, "date"
    )
    q = questionnaire({"linkId": "a", "type": item_type})
    assert problems(q, response(answered("a", answer))) == [("QuestionnaireResponse.item[0].answer[0]", code)]


def test_single_line_string_rejects_line_breaks() -> None:
    q = questionnaire({"linkId": "a", "type": "string"})
    assert problems(q, response(answered("a", {"valueString": "a\r\nb"}))) == [
        ("QuestionnaireResponse.item[0].answer[0]", "value")
    ]


def test_answer_needs_exactly_one_value() -> None:
    q = questionnaire({"linkId": "a", "type": "string", "repeats": True})
    r = response(
        answered(
            "a", {"valueString": "x", "valueInteger": 1}, {"extension": [{"url": "x", "valueString": "y"}]}
        )
    )
    assert problems(q, r) == [
        ("QuestionnaireResponse.item[0].answer[0]", "structure"),
        ("QuestionnaireResponse.item[0].answer[1]", "required"),
    ]


def test_abstract_question_type_is_reported_at_each_use() -> None:
    q = questionnaire({"linkId": "a", "type": "question"})
    issues = validate_response(q, response(answered("a", {"valueString": "x"})))
    assert severities(issues) == [("error", "invalid")]
    assert "abstract type 'question'" in issues[0].diagnostics


# --- answerOption and answerValueSet ------------------------------------------------------------------------


def test_coding_options_match_on_system_and_code_not_display() -> None:
    q = questionnaire(
        {"linkId": "a", "type": "choice", "answerOption": [{"valueCoding": YES}, {"valueCoding": NO}]}
    )
    assert validate_response(q, response(answered("a", {"valueCoding": {**YES, "display": "Ja"}}))) == []
    other_system = {"system": "https://elsewhere.example", "code": "yes"}
    assert problems(q, response(answered("a", {"valueCoding": other_system}))) == [
        ("QuestionnaireResponse.item[0].answer[0]", "value")
    ]


@pytest.mark.parametrize(
    ("item_type", "options", "good", "bad"),
    [
        ("string", [{"valueString": "a"}, {"valueString": "b"}], {"valueString": "b"}, {"valueString": "c"}),
        ("integer", [{"valueInteger": 1}, {"valueInteger": 2}], {"valueInteger": 2}, {"valueInteger": 3}),
        ("date", [{"valueDate": "2024-01-01"}], {"valueDate": "2024-01-01"}, {"valueDate": "2024-01-02"}),
        ("time", [{"valueTime": "10:00:00"}], {"valueTime": "10:00:00"}, {"valueTime": "11:00:00"}),
        (
            "choice",
            [{"valueString": "red"}, {"valueString": "blue"}],
            {"valueString": "red"},
            {"valueString": "pink"},
        ),
    ],
)
def test_option_kinds(
    item_type: str, options: list[dict[str, Any]], good: dict[str, Any], bad: dict[str, Any]
) -> None:
    q = questionnaire({"linkId": "a", "type": item_type, "answerOption": options})
    assert validate_response(q, response(answered("a", good))) == []
    assert problems(q, response(answered("a", bad))) == [("QuestionnaireResponse.item[0].answer[0]", "value")]


def test_open_choice_accepts_free_text_but_not_unknown_codings() -> None:
    q = questionnaire({"linkId": "a", "type": "open-choice", "answerOption": [{"valueCoding": YES}]})
    assert validate_response(q, response(answered("a", {"valueString": "maybe"}))) == []
    assert problems(q, response(answered("a", {"valueCoding": NO}))) == [
        ("QuestionnaireResponse.item[0].answer[0]", "value")
    ]


def test_exclusive_option_cannot_be_combined() -> None:
    exclusive = {"valueCoding": NO, "extension": [ext("questionnaire-optionExclusive", valueBoolean=True)]}
    other = {"system": YES["system"], "code": "maybe"}
    q = questionnaire(
        {
            "linkId": "a",
            "type": "choice",
            "repeats": True,
            "answerOption": [{"valueCoding": YES}, {"valueCoding": other}, exclusive],
        }
    )
    assert validate_response(q, response(answered("a", {"valueCoding": YES}, {"valueCoding": other}))) == []
    assert validate_response(q, response(answered("a", {"valueCoding": NO}))) == []
    assert problems(q, response(answered("a", {"valueCoding": YES}, {"valueCoding": NO}))) == [
        ("QuestionnaireResponse.item[0].answer[1]", "business-rule")
    ]


def test_answer_value_set_needs_terminology() -> None:
    value_set = "http://hl7.org/fhir/ValueSet/administrative-gender"
    q = questionnaire({"linkId": "a", "type": "choice", "answerValueSet": value_set})
    issues = validate_response(q, response(answered("a", {"valueCoding": {"system": "x", "code": "female"}})))
    assert verdict(issues) == "needs-terminology"
    [check] = terminology_checks(issues)
    assert isinstance(check, TerminologyCheck)
    assert (check.severity, check.reason, check.value_set, check.expression) == (
        "information",
        "value-set",
        value_set,
        "QuestionnaireResponse.item[0].answer[0]",
    )
    assert check.value == {"system": "x", "code": "female"}


def test_contained_enumerated_value_set_is_checked_locally() -> None:
    contained = {
        "resourceType": "ValueSet",
        "id": "yn",
        "status": "active",
        "compose": {"include": [{"system": YES["system"], "concept": [{"code": "yes"}, {"code": "no"}]}]},
    }
    q = questionnaire({"linkId": "a", "type": "choice", "answerValueSet": "#yn"}, contained=[contained])
    assert validate_response(q, response(answered("a", {"valueCoding": YES}))) == []
    wrong = {"system": YES["system"], "code": "perhaps"}
    assert problems(q, response(answered("a", {"valueCoding": wrong}))) == [
        ("QuestionnaireResponse.item[0].answer[0]", "code-invalid")
    ]


# --- limits -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item_type", "key", "low", "high", "inside", "below", "above"),
    [
        ("integer", "valueInteger", 0, 10, 10, -1, 11),
        ("decimal", "valueDecimal", 0.5, 2.5, 0.5, 0.49, 2.51),
        ("date", "valueDate", "2020-01-01", "2020-12-31", "2020-06-01", "2019-12-31", "2021-01-01"),
        (
            "dateTime",
            "valueDateTime",
            "2020-01-01T00:00:00Z",
            "2020-12-31",
            "2020-06-01T12:00:00+02:00",
            "2019",
            "2021-01",
        ),
    ],
)
def test_min_and_max_value(
    item_type: str, key: str, low: Any, high: Any, inside: Any, below: Any, above: Any
) -> None:
    bound_key = {"integer": "valueInteger", "decimal": "valueDecimal", "date": "valueDate"}.get(
        item_type, "valueDateTime"
    )
    q = questionnaire(
        {
            "linkId": "a",
            "type": item_type,
            "repeats": True,
            "extension": [ext("minValue", **{bound_key: low}), ext("maxValue", **{bound_key: high})],
        }
    )
    assert validate_response(q, response(answered("a", {key: inside}))) == []
    assert problems(q, response(answered("a", {key: inside}, {key: below}, {key: above}))) == [
        ("QuestionnaireResponse.item[0].answer[1]", "value"),
        ("QuestionnaireResponse.item[0].answer[2]", "value"),
    ]


def test_partial_dates_compare_at_their_shared_precision() -> None:
    q = questionnaire(
        {"linkId": "a", "type": "dateTime", "extension": [ext("maxValue", valueDateTime="2022-06")]}
    )
    assert validate_response(q, response(answered("a", {"valueDateTime": "2022-06-30"}))) == []
    assert problems(q, response(answered("a", {"valueDateTime": "2022-07"}))) == [
        ("QuestionnaireResponse.item[0].answer[0]", "value")
    ]


def test_min_and_max_length() -> None:
    q = questionnaire(
        {"linkId": "a", "type": "string", "maxLength": 5, "extension": [ext("minLength", valueInteger=2)]}
    )
    assert validate_response(q, response(answered("a", {"valueString": "abcde"}))) == []
    assert len(problems(q, response(answered("a", {"valueString": "a"})))) == 1
    assert len(problems(q, response(answered("a", {"valueString": "abcdef"})))) == 1


def test_regex_must_match_the_whole_answer() -> None:
    q = questionnaire({"linkId": "a", "type": "string", "extension": [ext("regex", valueString="[0-9]{3}")]})
    assert validate_response(q, response(answered("a", {"valueString": "123"}))) == []
    assert problems(q, response(answered("a", {"valueString": "1234"}))) == [
        ("QuestionnaireResponse.item[0].answer[0]", "value")
    ]


def test_unusable_regex_is_a_warning_about_the_questionnaire() -> None:
    q = questionnaire({"linkId": "a", "type": "string", "extension": [ext("regex", valueString="([")]})
    issues = validate_response(q, response(answered("a", {"valueString": "x"})))
    assert [(i.severity, i.expression) for i in issues] == [("warning", "Questionnaire.item[0]")]


def test_max_decimal_places_for_decimals_and_quantities() -> None:
    places = [ext("maxDecimalPlaces", valueInteger=2)]
    q = questionnaire(
        {"linkId": "d", "type": "decimal", "extension": places},
        {"linkId": "q", "type": "quantity", "extension": places},
    )
    good = response(
        answered("d", {"valueDecimal": 1.25}), answered("q", {"valueQuantity": {"value": 1.5, "unit": "m"}})
    )
    bad = response(
        answered("d", {"valueDecimal": 1.255}),
        answered("q", {"valueQuantity": {"value": 1.255, "unit": "m"}}),
    )
    assert validate_response(q, good) == []
    assert problems(q, bad) == [
        ("QuestionnaireResponse.item[0].answer[0]", "value"),
        ("QuestionnaireResponse.item[1].answer[0]", "value"),
    ]


# --- quantities, attachments, references --------------------------------------------------------------------


def quantity(value: float, code: str) -> dict[str, Any]:
    return {"valueQuantity": {"value": value, "unit": code, "system": UCUM, "code": code}}


def test_quantity_limits_convert_simple_ucum_units() -> None:
    limit = {"value": 2, "unit": "kg", "system": UCUM, "code": "kg"}
    q = questionnaire(
        {
            "linkId": "a",
            "type": "quantity",
            "extension": [
                {
                    "url": "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-maxQuantity",
                    "valueQuantity": limit,
                }
            ],
        }
    )
    assert validate_response(q, response(answered("a", quantity(1999, "g")))) == []
    assert problems(q, response(answered("a", quantity(2001, "g")))) == [
        ("QuestionnaireResponse.item[0].answer[0]", "value")
    ]
    assert problems(q, response(answered("a", quantity(1, "[mi_i]")))) == [
        ("QuestionnaireResponse.item[0].answer[0]", "value")
    ]
    unknown = validate_response(q, response(answered("a", quantity(1, "kg/m2"))))
    assert verdict(unknown) == "needs-terminology"
    assert terminology_checks(unknown)[0].reason == "unit-conversion"


def test_quantity_unit_options() -> None:
    q = questionnaire(
        {
            "linkId": "a",
            "type": "quantity",
            "extension": [ext("questionnaire-unitOption", valueCoding={"system": UCUM, "code": "mL"})],
        }
    )
    assert validate_response(q, response(answered("a", quantity(5, "mL")))) == []
    assert problems(q, response(answered("a", quantity(5, "L")))) == [
        ("QuestionnaireResponse.item[0].answer[0]", "value")
    ]


@pytest.mark.parametrize(
    ("attachment", "extensions", "ok"),
    [
        ({"contentType": "image/png", "data": "aGVsbG8=", "size": 5}, [], True),
        ({"contentType": "image/png", "data": "aGVsbG8=", "size": 6}, [], False),
        ({"contentType": "image/png", "data": "not base64!"}, [], False),
        ({"data": "aGVsbG8="}, [], False),
        (
            {"contentType": "image/png", "url": "https://x.example/a.png"},
            [ext("mimeType", valueCode="image/jpeg")],
            False,
        ),
        (
            {"contentType": "image/png", "data": "aGVsbG8=", "size": 5},
            [ext("maxSize", valueDecimal=4)],
            False,
        ),
    ],
)
def test_attachments(attachment: dict[str, Any], extensions: list[dict[str, Any]], ok: bool) -> None:
    q = questionnaire(
        {"linkId": "a", "type": "attachment", "extension": extensions}
        if extensions
        else {"linkId": "a", "type": "attachment"}
    )
    assert (problems(q, response(answered("a", {"valueAttachment": attachment}))) == []) is ok


@pytest.mark.parametrize(
    ("reference", "ok"),
    [
        ("Patient/p1", True),
        ("https://ehr.example/fhir/Patient/p1/_history/2", True),
        ("urn:uuid:8b3f7a1e-1b2c-4d5e-8f90-123456789abc", True),
        ("#contained", True),
        ("Chicken/p1", False),
        ("https://ehr.example/fhir/Chicken/p1", False),
        ("ht tp://x", False),
        ("p1", False),
    ],
)
def test_reference_format(reference: str, ok: bool) -> None:
    q = questionnaire({"linkId": "a", "type": "reference"})
    assert (problems(q, response(answered("a", {"valueReference": {"reference": reference}}))) == []) is ok


def test_reference_resource_types() -> None:
    q = questionnaire(
        {
            "linkId": "a",
            "type": "reference",
            "extension": [ext("questionnaire-referenceResource", valueCode="Patient")],
        }
    )
    assert validate_response(q, response(answered("a", {"valueReference": {"reference": "Patient/p"}}))) == []
    assert len(problems(q, response(answered("a", {"valueReference": {"reference": "Practitioner/p"}})))) == 1
    assert (
        len(problems(q, response(answered("a", {"valueReference": {"type": "Group", "display": "Ward"}}))))
        == 1
    )


@pytest.mark.parametrize(
    ("uri", "ok"),
    [
        ("Patient/1", True),
        ("urn:uuid:8b3f7a1e-1b2c-4d5e-8f90-123456789abc", True),
        ("c:\\temp", False),
        ("urn:uuid:nope", False),
        ("urn:oid:1.2.3", True),
    ],
)
def test_url_answers_must_be_uris(uri: str, ok: bool) -> None:
    q = questionnaire({"linkId": "a", "type": "url"})
    assert (problems(q, response(answered("a", {"valueUri": uri}))) == []) is ok


# --- enableWhen ---------------------------------------------------------------------------------------------


def gated(operator: str, **answer: Any) -> dict[str, Any]:
    """A Questionnaire where 'b' is enabled by a condition on integer 'a'."""
    return questionnaire(
        {"linkId": "a", "type": "integer", "repeats": True},
        {
            "linkId": "b",
            "type": "string",
            "required": True,
            "enableWhen": [{"question": "a", "operator": operator, **answer}],
        },
    )


@pytest.mark.parametrize(
    ("operator", "answers", "enabled"),
    [
        ("=", [5], True),
        ("=", [4], False),
        ("=", [4, 5], True),
        ("=", [], False),
        ("!=", [4], True),
        ("!=", [5], False),
        ("!=", [4, 5], False),
        ("!=", [], True),
        (">", [6], True),
        (">", [5], False),
        ("<", [4], True),
        ("<", [5], False),
        (">=", [5], True),
        (">=", [4], False),
        ("<=", [5], True),
        ("<=", [6], False),
        ("<=", [], False),
    ],
)
def test_enable_when_operators(operator: str, answers: list[int], enabled: bool) -> None:
    q = gated(operator, answerInteger=5)
    a = answered("a", *({"valueInteger": n} for n in answers)) if answers else {"linkId": "a"}
    without_b = response(a) if answers else response()
    with_b = response(*([a] if answers else []), answered("b", {"valueString": "x"}))
    if enabled:
        assert validate_response(q, with_b) == []
        assert problems(q, without_b) == [("QuestionnaireResponse", "required")]
    else:
        assert validate_response(q, without_b) == []
        assert problems(q, with_b) == [
            (f"QuestionnaireResponse.item[{1 if answers else 0}]", "business-rule")
        ]


@pytest.mark.parametrize(
    ("exists", "a_answered", "enabled"),
    [(True, True, True), (True, False, False), (False, False, True), (False, True, False)],
)
def test_enable_when_exists(exists: bool, a_answered: bool, enabled: bool) -> None:
    q = gated("exists", answerBoolean=exists)
    a = [answered("a", {"valueInteger": 1})] if a_answered else []
    with_b = response(*a, answered("b", {"valueString": "x"}))
    if enabled:
        assert validate_response(q, with_b) == []
        assert problems(q, response(*a)) == [("QuestionnaireResponse", "required")]
    else:
        assert problems(q, with_b) == [(f"QuestionnaireResponse.item[{len(a)}]", "business-rule")]
        assert validate_response(q, response(*a)) == []


def test_enable_when_coding_compares_system_and_code() -> None:
    q = questionnaire(
        {"linkId": "a", "type": "choice", "answerOption": [{"valueCoding": YES}, {"valueCoding": NO}]},
        {
            "linkId": "b",
            "type": "string",
            "enableWhen": [{"question": "a", "operator": "=", "answerCoding": YES}],
        },
    )
    assert (
        validate_response(
            q, response(answered("a", {"valueCoding": YES}), answered("b", {"valueString": "x"}))
        )
        == []
    )
    assert problems(q, response(answered("a", {"valueCoding": NO}), answered("b", {"valueString": "x"}))) == [
        ("QuestionnaireResponse.item[1]", "business-rule")
    ]


@pytest.mark.parametrize(
    ("behavior", "answers", "enabled"),
    [("all", (1, 1), True), ("all", (1, 0), False), ("any", (1, 0), True), ("any", (0, 0), False)],
)
def test_enable_behavior(behavior: str, answers: tuple[int, int], enabled: bool) -> None:
    q = questionnaire(
        {"linkId": "x", "type": "integer"},
        {"linkId": "y", "type": "integer"},
        {
            "linkId": "z",
            "type": "boolean",
            "required": True,
            "enableBehavior": behavior,
            "enableWhen": [
                {"question": "x", "operator": "=", "answerInteger": 1},
                {"question": "y", "operator": "=", "answerInteger": 1},
            ],
        },
    )
    r = response(answered("x", {"valueInteger": answers[0]}), answered("y", {"valueInteger": answers[1]}))
    assert (problems(q, r) == [("QuestionnaireResponse", "required")]) is enabled


def test_question_in_a_nested_group_can_enable_an_item_elsewhere() -> None:
    inner = {"linkId": "inner", "type": "group", "item": [{"linkId": "birth", "type": "boolean"}]}
    q = questionnaire(
        {"linkId": "g", "type": "group", "item": [inner]},
        {
            "linkId": "apgar",
            "type": "integer",
            "required": True,
            "enableWhen": [{"question": "birth", "operator": "=", "answerBoolean": True}],
        },
    )
    born = response(
        {"linkId": "g", "item": [{"linkId": "inner", "item": [answered("birth", {"valueBoolean": True})]}]}
    )
    not_born = response(
        {"linkId": "g", "item": [{"linkId": "inner", "item": [answered("birth", {"valueBoolean": False})]}]}
    )
    assert problems(q, born) == [("QuestionnaireResponse", "required")]
    assert validate_response(q, not_born) == []


def test_repeating_group_uses_the_answer_in_the_same_instance() -> None:
    """Preceding axis: the nearest earlier occurrence, which is the one in the same group instance."""
    q = questionnaire(
        {
            "linkId": "baby",
            "type": "group",
            "repeats": True,
            "item": [
                {"linkId": "resus", "type": "boolean"},
                {
                    "linkId": "resus-time",
                    "type": "time",
                    "required": True,
                    "enableWhen": [{"question": "resus", "operator": "=", "answerBoolean": True}],
                },
            ],
        }
    )
    r = response(
        {
            "linkId": "baby",
            "item": [
                answered("resus", {"valueBoolean": True}),
                answered("resus-time", {"valueTime": "10:00:00"}),
            ],
        },
        {"linkId": "baby", "item": [answered("resus", {"valueBoolean": False})]},
    )
    assert validate_response(q, r) == []
    r["item"][1]["item"].append(answered("resus-time", {"valueTime": "10:05:00"}))
    assert problems(q, r) == [("QuestionnaireResponse.item[1].item[1]", "business-rule")]
    del r["item"][0]["item"][1]
    assert problems(q, r) == [
        ("QuestionnaireResponse.item[1].item[1]", "business-rule"),
        ("QuestionnaireResponse.item[0]", "required"),
    ]


def test_repeating_group_instance_without_the_question_does_not_borrow_another_instances_answer() -> None:
    """Ancestor axis: the question is defined in the group, so only its own instance is looked at."""
    q = questionnaire(
        {
            "linkId": "task",
            "type": "group",
            "repeats": True,
            "item": [
                {"linkId": "name", "type": "string"},
                {"linkId": "competent", "type": "boolean"},
                {
                    "linkId": "retrained",
                    "type": "date",
                    "required": True,
                    "enableWhen": [{"question": "competent", "operator": "=", "answerBoolean": True}],
                },
            ],
        }
    )
    r = response(
        {
            "linkId": "task",
            "item": [
                answered("name", {"valueString": "Weight"}),
                answered("competent", {"valueBoolean": True}),
                answered("retrained", {"valueDate": "2025-01-01"}),
            ],
        },
        {"linkId": "task", "item": [answered("name", {"valueString": "Needling"})]},
    )
    # The second task says nothing about competence: its retraining date is not asked, so not missing.
    assert validate_response(q, r) == []
    r["item"][1]["item"].append(answered("retrained", {"valueDate": "2025-02-01"}))
    assert problems(q, r) == [("QuestionnaireResponse.item[1].item[1]", "business-rule")]


def test_items_under_a_disabled_group_are_disabled() -> None:
    q = questionnaire(
        {"linkId": "a", "type": "boolean"},
        {
            "linkId": "g",
            "type": "group",
            "enableWhen": [{"question": "a", "operator": "=", "answerBoolean": True}],
            "item": [{"linkId": "g1", "type": "string", "required": True}],
        },
    )
    assert validate_response(q, response(answered("a", {"valueBoolean": False}))) == []
    answered_anyway = response(
        answered("a", {"valueBoolean": False}),
        {"linkId": "g", "item": [answered("g1", {"valueString": "x"})]},
    )
    assert problems(q, answered_anyway) == [("QuestionnaireResponse.item[1]", "business-rule")]


def test_answers_of_a_disabled_question_enable_nothing() -> None:
    q = questionnaire(
        {"linkId": "a", "type": "boolean"},
        {
            "linkId": "b",
            "type": "boolean",
            "enableWhen": [{"question": "a", "operator": "=", "answerBoolean": True}],
        },
        {
            "linkId": "c",
            "type": "string",
            "required": True,
            "enableWhen": [{"question": "b", "operator": "=", "answerBoolean": True}],
        },
    )
    r = response(answered("a", {"valueBoolean": False}), answered("b", {"valueBoolean": True}))
    assert problems(q, r) == [("QuestionnaireResponse.item[1]", "business-rule")]


def test_enable_when_on_unknown_question_is_a_questionnaire_warning() -> None:
    q = questionnaire(
        {
            "linkId": "b",
            "type": "string",
            "enableWhen": [{"question": "zz", "operator": "exists", "answerBoolean": True}],
        }
    )
    issues = validate_response(q, response())
    assert [(i.severity, i.code, i.expression) for i in issues] == [
        ("warning", "invalid", "Questionnaire.item[0]")
    ]


# --- required, repeats, min/maxOccurs -----------------------------------------------------------------------


def test_required_question_missing_or_unanswered() -> None:
    q = questionnaire({"linkId": "a", "type": "string", "required": True})
    assert problems(q, response()) == [("QuestionnaireResponse", "required")]
    assert problems(q, response({"linkId": "a"})) == [("QuestionnaireResponse.item[0]", "required")]


def test_required_group_needs_an_answered_descendant() -> None:
    q = questionnaire(
        {"linkId": "g", "type": "group", "required": True, "item": [{"linkId": "x", "type": "string"}]}
    )
    assert problems(q, response()) == [("QuestionnaireResponse", "required")]
    assert problems(q, response({"linkId": "g"})) == [("QuestionnaireResponse.item[0]", "required")]
    assert (
        validate_response(q, response({"linkId": "g", "item": [answered("x", {"valueString": "y"})]})) == []
    )


def test_required_items_in_an_absent_optional_group_are_not_required() -> None:
    q = questionnaire(
        {"linkId": "g", "type": "group", "item": [{"linkId": "x", "type": "string", "required": True}]}
    )
    assert validate_response(q, response()) == []
    assert problems(q, response({"linkId": "g"})) == [("QuestionnaireResponse.item[0]", "required")]


def test_non_repeating_question_has_one_answer_and_one_item() -> None:
    q = questionnaire({"linkId": "a", "type": "string"})
    assert problems(q, response(answered("a", {"valueString": "x"}, {"valueString": "y"}))) == [
        ("QuestionnaireResponse.item[0]", "structure")
    ]
    twice = response(answered("a", {"valueString": "x"}), answered("a", {"valueString": "y"}))
    assert problems(q, twice) == [("QuestionnaireResponse.item[1]", "structure")]


def test_repeating_question_takes_many_answers_up_to_max_occurs() -> None:
    q = questionnaire(
        {
            "linkId": "a",
            "type": "string",
            "repeats": True,
            "extension": [ext("questionnaire-maxOccurs", valueInteger=2)],
        }
    )
    assert validate_response(q, response(answered("a", {"valueString": "x"}, {"valueString": "y"}))) == []
    three = response(answered("a", {"valueString": "x"}, {"valueString": "y"}, {"valueString": "z"}))
    assert problems(q, three) == [("QuestionnaireResponse.item[0]", "structure")]


def test_min_occurs_counts_answers() -> None:
    q = questionnaire(
        {
            "linkId": "a",
            "type": "string",
            "repeats": True,
            "extension": [ext("questionnaire-minOccurs", valueInteger=2)],
        }
    )
    assert problems(q, response(answered("a", {"valueString": "x"}))) == [
        ("QuestionnaireResponse.item[0]", "required")
    ]
    assert validate_response(q, response(answered("a", {"valueString": "x"}, {"valueString": "y"}))) == []


def test_groups_repeat_only_when_allowed_and_within_occurs() -> None:
    child = [{"linkId": "x", "type": "string"}]
    instance = {"linkId": "g", "item": [answered("x", {"valueString": "y"})]}
    single = questionnaire({"linkId": "g", "type": "group", "item": child})
    assert problems(single, response(instance, instance)) == [("QuestionnaireResponse.item[1]", "structure")]
    occurs = [ext("questionnaire-minOccurs", valueInteger=2), ext("questionnaire-maxOccurs", valueInteger=3)]
    repeating = questionnaire(
        {"linkId": "g", "type": "group", "repeats": True, "item": child, "extension": occurs}
    )
    assert validate_response(repeating, response(instance, instance)) == []
    assert problems(repeating, response(instance)) == [("QuestionnaireResponse.item[0]", "required")]
    assert problems(repeating, response(*[instance] * 4)) == [("QuestionnaireResponse.item[1]", "structure")]


# --- response status and the Questionnaire itself -----------------------------------------------------------


@pytest.mark.parametrize("status", ["in-progress", "stopped"])
def test_incomplete_responses_relax_completeness_only(status: str) -> None:
    q = questionnaire(
        {"linkId": "a", "type": "string", "required": True},
        {"linkId": "b", "type": "integer", "extension": [ext("questionnaire-minOccurs", valueInteger=1)]},
        {"linkId": "c", "type": "boolean"},
        {
            "linkId": "d",
            "type": "string",
            "enableWhen": [{"question": "c", "operator": "=", "answerBoolean": True}],
        },
    )
    assert validate_response(q, response(status=status)) == []
    two = response(answered("c", {"valueBoolean": True}, {"valueBoolean": False}), status=status)
    assert severities(validate_response(q, two)) == [("warning", "structure")]
    wrong = response(
        answered("b", {"valueString": "1"}),
        answered("zz", {"valueString": "?"}),
        answered("d", {"valueString": "x"}),
        status=status,
    )
    assert problems(q, wrong) == [
        ("QuestionnaireResponse.item[0].answer[0]", "structure"),
        ("QuestionnaireResponse.item[1]", "structure"),
        ("QuestionnaireResponse.item[2]", "business-rule"),
    ]


@pytest.mark.parametrize("status", ["draft", "retired"])
def test_draft_or_retired_questionnaire_is_a_warning(status: str) -> None:
    q = questionnaire({"linkId": "a", "type": "string"}, status=status)
    issues = validate_response(q, response(answered("a", {"valueString": "x"})))
    assert severities(issues) == [("warning", "business-rule")]
    assert verdict(issues) == "valid"


def test_response_authored_outside_the_effective_period_is_a_warning() -> None:
    q = questionnaire(
        {"linkId": "a", "type": "string"}, effectivePeriod={"start": "2024", "end": "2024-12-31"}
    )
    inside = response(answered("a", {"valueString": "x"}), authored="2024-06-01T10:00:00Z")
    after = response(answered("a", {"valueString": "x"}), authored="2025-01-01")
    assert validate_response(q, inside) == []
    assert [(i.severity, i.expression) for i in validate_response(q, after)] == [
        ("warning", "QuestionnaireResponse.authored")
    ]


@pytest.mark.parametrize(
    ("named", "version", "expected"),
    [
        (URL, None, []),
        (f"{URL}|2.0", "2.0", []),
        (URL, "2.0", []),
        (f"{URL}|1.0", "2.0", [("error", "invalid")]),
        ("https://elsewhere.example/Questionnaire/x", None, [("error", "invalid")]),
        (f"{URL}|2.0", None, [("warning", "business-rule")]),
        (None, None, [("warning", "required")]),
    ],
)
def test_questionnaire_reference(
    named: str | None, version: str | None, expected: list[tuple[str, str]]
) -> None:
    q = questionnaire({"linkId": "a", "type": "string"}, **({"version": version} if version else {}))
    r = response(answered("a", {"valueString": "x"}))
    if named is None:
        del r["questionnaire"]
    else:
        r["questionnaire"] = named
    assert severities(validate_response(q, r)) == expected


def test_unresolved_questionnaire_is_an_error() -> None:
    assert severities(validate_response(None, response())) == [("error", "not-found")]


def test_questionnaire_with_duplicate_link_ids_makes_every_response_invalid() -> None:
    q = questionnaire({"linkId": "a", "type": "string"}, {"linkId": "a", "type": "integer"})
    assert problems(q, response()) == [("Questionnaire.item[1]", "invalid")]


def test_compiled_and_plain_questionnaires_give_the_same_issues() -> None:
    r = response(
        {"linkId": "g", "item": [answered("g1", {"valueInteger": 1})]}, answered("zz", {"valueString": "x"})
    )
    assert validate_response(compile_questionnaire(NESTED), r) == validate_response(NESTED, r)


def test_not_a_questionnaire_response() -> None:
    assert severities(validate_response(NESTED, {"resourceType": "Patient"})) == [("fatal", "structure")]


def test_operation_outcome_has_one_issue_per_problem_with_its_path() -> None:
    outcome = to_operation_outcome(validate_response(NESTED, response(answered("zz", {"valueString": "x"}))))
    assert outcome["resourceType"] == "OperationOutcome"
    assert [(i["severity"], i["code"], i["expression"]) for i in outcome["issue"]] == [
        ("error", "structure", ["QuestionnaireResponse.item[0]"])
    ]


# --- robustness ---------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["linkId", "answer", "item", "valueString", "valueInteger", "valueCoding", "text", "a"]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(items=json_values, status=st.sampled_from(["completed", "in-progress", 3]))
def test_any_json_gives_issues_not_exceptions(items: Any, status: Any) -> None:
    r = {"resourceType": "QuestionnaireResponse", "questionnaire": URL, "status": status, "item": items}
    issues = validate_response(NESTED, r)
    assert all(isinstance(issue, Issue) for issue in issues)


@given(value=st.integers(min_value=-50, max_value=50))
def test_integer_limits_agree_with_arithmetic(value: int) -> None:
    q = questionnaire(
        {
            "linkId": "a",
            "type": "integer",
            "extension": [ext("minValue", valueInteger=-10), ext("maxValue", valueInteger=10)],
        }
    )
    assert (problems(q, response(answered("a", {"valueInteger": value}))) == []) is (-10 <= value <= 10)


@pytest.mark.parametrize(
    "garbage",
    [
        {"item": "nope"},
        {
            "item": [
                {
                    "linkId": "a",
                    "type": "choice",
                    "answerOption": [{"valueCoding": {"code": "x"}, "extension": 5}],
                }
            ]
        },
        {"contained": [{"resourceType": "ValueSet", "id": "v", "expansion": {"contains": [5]}}]},
        {"contained": [{"resourceType": "ValueSet", "id": "v", "compose": {"include": [{"concept": [5]}]}}]},
        {
            "effectivePeriod": {"start": "garbage"},
            "item": [{"linkId": "a", "enableWhen": [5, {"question": "a"}]}],
        },
        {
            "item": [
                {
                    "linkId": "a",
                    "type": "integer",
                    "extension": [{"url": SD + "minValue", "valueInteger": "x"}],
                }
            ]
        },
    ],
)
def test_malformed_questionnaires_compile_without_crashing(garbage: dict[str, Any]) -> None:
    compiled = compile_questionnaire(garbage)
    assert all(
        isinstance(issue, Issue)
        for issue in validate_response(compiled, response(answered("a", {"valueInteger": 1})))
    )
