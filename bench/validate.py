"""Cost of validating one 30-item QuestionnaireResponse: our strict JSON + SDC path against
``fhir.resources`` ``QuestionnaireResponse.model_validate`` (R4B), timed in the same run.

Run from the repository root: ``python -m bench.validate``. Exits non-zero when ours/baseline > 1.0.
"""

from __future__ import annotations

import sys
import timeit
from collections.abc import Callable
from typing import Any

from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from fhir_adapters.sdc_validation import compile_questionnaire, validate_questionnaire_response, verdict

URL = "https://careloop.example/fhir/Questionnaire/bench"
YES_NO = [
    {
        "valueCoding": {
            "system": "https://careloop.example/CodeSystem/answers",
            "code": code,
            "display": display,
        }
    }
    for code, display in (("yes", "Yes"), ("no", "No"), ("declined", "Woman declined"))
]
EXT = "http://hl7.org/fhir/StructureDefinition/"

# (type, extra Questionnaire item fields, answer) for a cycle of item kinds.
KINDS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("boolean", {"required": True}, {"valueBoolean": True}),
    ("choice", {"answerOption": YES_NO, "required": True}, {"valueCoding": YES_NO[0]["valueCoding"]}),
    (
        "integer",
        {
            "extension": [
                {"url": EXT + "minValue", "valueInteger": 0},
                {"url": EXT + "maxValue", "valueInteger": 10},
            ]
        },
        {"valueInteger": 4},
    ),
    (
        "decimal",
        {"extension": [{"url": EXT + "maxDecimalPlaces", "valueInteger": 2}]},
        {"valueDecimal": 37.25},
    ),
    ("dateTime", {}, {"valueDateTime": "2025-03-01T10:15:00+00:00"}),
    ("date", {}, {"valueDate": "2025-03-01"}),
    ("string", {"maxLength": 200}, {"valueString": "Perineum intact on inspection"}),
    ("text", {}, {"valueString": "Discussed with the woman.\nLeaflet given."}),
    ("time", {}, {"valueTime": "10:15:00"}),
    (
        "quantity",
        {
            "extension": [
                {
                    "url": EXT + "questionnaire-unitOption",
                    "valueCoding": {"system": "http://unitsofmeasure.org", "code": "mL"},
                }
            ]
        },
        {"valueQuantity": {"value": 350, "unit": "mL", "system": "http://unitsofmeasure.org", "code": "mL"}},
    ),
]


def build_questionnaire(size: int = 30) -> dict[str, Any]:
    items = []
    for index in range(size):
        item_type, extra, _ = KINDS[index % len(KINDS)]
        item: dict[str, Any] = {"linkId": f"e{index}", "text": f"Element {index}", "type": item_type, **extra}
        if index >= len(KINDS) and index % 5 == 0:
            # Conditional on an earlier boolean / choice that the response answers so as to enable it.
            source = index - index % len(KINDS)
            item["enableWhen"] = [{"question": f"e{source}", "operator": "=", "answerBoolean": True}]
        elif index >= len(KINDS) and index % 5 == 3:
            item["enableWhen"] = [
                {
                    "question": f"e{index - index % len(KINDS) + 1}",
                    "operator": "=",
                    "answerCoding": YES_NO[0]["valueCoding"],
                }
            ]
        items.append(item)
    return {
        "resourceType": "Questionnaire",
        "url": URL,
        "version": "1.0.0",
        "status": "active",
        "item": items,
    }


def build_response(questionnaire: dict[str, Any]) -> dict[str, Any]:
    answers = {f"e{index}": KINDS[index % len(KINDS)][2] for index in range(len(questionnaire["item"]))}
    return {
        "resourceType": "QuestionnaireResponse",
        "id": "bench-1",
        "identifier": {
            "system": "https://careloop.example/checklist",
            "value": "6f1c8f9e-7a41-4c55-9d1e-2b8f0c7d1a10",
        },
        "questionnaire": f"{URL}|1.0.0",
        "status": "completed",
        "subject": {"reference": "Patient/p1", "display": "Test Patient"},
        "encounter": {"reference": "Encounter/e1"},
        "authored": "2025-03-01T11:00:00+00:00",
        "author": {"reference": "Practitioner/m1"},
        "item": [
            {"linkId": item["linkId"], "text": item["text"], "answer": [answers[item["linkId"]]]}
            for item in questionnaire["item"]
        ],
    }


def per_call(function: Callable[[], object], repeats: int = 5) -> float:
    """Best per-call seconds over ``repeats`` runs of about one second each."""
    timer = timeit.Timer(function)
    number, elapsed = timer.autorange()
    number = max(1, int(number / elapsed))  # about one second per repeat
    return min(timer.repeat(repeat=repeats, number=number)) / number


def main() -> int:
    questionnaire = build_questionnaire()
    response = build_response(questionnaire)
    compiled = compile_questionnaire(questionnaire)
    issues = validate_questionnaire_response(compiled, response)
    if issues or verdict(issues) != "valid":
        raise SystemExit(f"the benchmark response should be valid: {issues}")
    QuestionnaireResponse.model_validate(response)

    ours = per_call(lambda: validate_questionnaire_response(compiled, response))
    baseline = per_call(lambda: QuestionnaireResponse.model_validate(response))
    ratio = ours / baseline
    print(f"items: {len(response['item'])}")
    print(f"ours (strict JSON + SDC, compiled questionnaire): {ours * 1e6:9.1f} us/call")
    print(f"baseline (fhir.resources R4B model_validate):     {baseline * 1e6:9.1f} us/call")
    print(f"ratio ours/baseline: {ratio:.3f} (goal <= 1.0: {'met' if ratio <= 1.0 else 'MISSED'})")
    return 0 if ratio <= 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
