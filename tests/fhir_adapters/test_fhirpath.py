"""The FHIRPath a Questionnaire carries computes what Careloop computes natively.

For every care bundle file, and for a care bundle using every calculation, answers are generated; the
QuestionnaireResponse they make is given to ``fhirpathpy`` (an independent FHIRPath engine), which evaluates
every ``calculatedExpression``, every condition and every check; the results must equal the native ones
(``service.checklists.evaluate`` and the SDC condition code). An empty FHIRPath result stands for None.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fhirpathpy import evaluate as fhirpath_evaluate
from fhirpathpy.models import models
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fhir_adapters import fhirpath
from fhir_adapters.questionnaire import to_questionnaire
from fhir_adapters.questionnaire_response import to_questionnaire_response
from fhir_adapters.vocabulary import EXT_CALCULATED_EXPRESSION
from schemas.care_bundle import CareBundle, Condition, load_care_bundle
from service.checklists import evaluate
from service.checklists.compiled import compile_care_bundle
from tests.factories import (
    AUTHORED,
    build,
    choice,
    element,
    valid_answers,
    when,
    yes_no,
)

ROOT = Path(__file__).resolve().parents[2]
CARE_BUNDLES = {path.stem: load_care_bundle(path) for path in sorted((ROOT / "bundles").glob("*.yaml"))}
R4 = models["r4"]
EXAMPLES = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

#: Every calculation function, a repeating group, chained calculations and a check.
EVERY_CALCULATION = build(
    element("born", "date", required=True),
    element("onset", "date"),
    element("age", "integer", calculated={"years_between": ["born", "arrival"]}),
    element("months-ill", "integer", calculated={"months_between": ["onset", "arrival"]}),
    element("first-score", "integer", min_value=0, max_value=27),
    element("second-score", "integer", min_value=0, max_value=27),
    element("weight", "decimal", min_value=0, max_value=300),
    element("change", "integer", calculated={"difference": ["first-score", "second-score"]}),
    element("total", "decimal", calculated={"sum": ["first-score", "weight"]}),
    choice("task-a", "competent", "training", "not-started"),
    choice("task-b", "competent", "training", "not-started"),
    choice("findings", "none", "minor", "major", repeats=True),
    element(
        "goals",
        "group",
        repeats=True,
        max_repeats=3,
        items=[element("goal", "string"), element("goal-score", "integer", min_value=0, max_value=10)],
    ),
    element("tasks-competent", "integer", calculated={"count": ["task-a", "task-b"], "answer": "competent"}),
    element("finding-count", "integer", calculated={"count": ["findings"]}),
    element("goal-count", "integer", calculated={"count": ["goals"]}),
    element("goal-scores", "integer", calculated={"count": ["goal-score"]}),
    yes_no("first-episode"),
    element(
        "eligible",
        "boolean",
        calculated={"all": [when("age", ">=", 16), when("age", "<=", 25), when("first-episode", "=", "yes")]},
    ),
    element(
        "flagged",
        "boolean",
        calculated={"any": [when("tasks-competent", ">", 1), when("onset", "<", "2020-01-01")]},
    ),
    element(
        "arrived-after", "boolean", calculated={"all": [when("arrival", ">", "2025-03-30T00:30:00+00:00")]}
    ),
    checks=[
        {
            "id": "eligible-has-first-episode",
            "text": "Eligible needs a first episode",
            "when": [when("eligible", "=", True)],
            "require": [when("first-episode", "!=", "no")],
        }
    ],
)


def _response(care_bundle: CareBundle, answers: dict[str, list[Any]]) -> dict[str, Any]:
    return to_questionnaire_response(
        care_bundle,
        answers,
        checklist_id="c0a8012e-0000-4000-8000-000000000001",
        status="completed",
        authored=AUTHORED,
    )


def _fhirpath(response: dict[str, Any], expression: str) -> list[Any]:
    result: list[Any] = fhirpath_evaluate(response, expression, {"resource": response}, R4)
    return result


def _same(native: Any, found: list[Any]) -> bool:
    if native is None:
        return found == []
    if len(found) != 1:
        return False
    value = found[0]
    if isinstance(native, bool) or isinstance(value, bool):
        return native is value
    return Decimal(str(native)) == Decimal(str(value))


def _conditions(care_bundle: CareBundle) -> list[Condition]:
    found: list[Condition] = []
    for item in care_bundle.walk():
        found.extend(item.enable_when)
        if item.compliance is not None:
            found.extend(item.compliance.exception_when)
            found.extend(item.compliance.applies_when.items if item.compliance.applies_when else ())
        if item.calculated is not None:
            found.extend(item.calculated.conditions)
    if care_bundle.population is not None:
        found.extend(care_bundle.population.when.items)
    return [condition for condition in found if condition.element not in care_bundle.repeating_group_of]


def _assert_fhirpath_agrees(care_bundle: CareBundle, answers: dict[str, list[Any]]) -> None:
    response = _response(care_bundle, answers)
    evaluation = evaluate(care_bundle, answers, AUTHORED)
    for item in care_bundle.walk():
        if item.calculated is None or item.id not in evaluation.enabled:
            continue  # a disabled item has no value in the response, whatever its expression gives
        expression = fhirpath.calculation(care_bundle, item.calculated)
        found = _fhirpath(response, expression)
        native = evaluation.calculated[item.id]
        assert _same(native, found), (item.id, native, found, expression)
    compiled = compile_care_bundle(care_bundle)
    for condition in _conditions(care_bundle):
        native = compiled.holds(condition, tuple(answers.get(condition.element, ())))
        found = _fhirpath(response, fhirpath.condition(care_bundle, condition))
        assert found == [native], (condition, native, found)
    failed = {result.check.id for result in evaluation.failed_checks}
    for check in care_bundle.checks:
        found = _fhirpath(response, fhirpath.check(care_bundle, check))
        assert found == [check.id not in failed], (check.id, found)


@pytest.mark.parametrize("name", [name for name, bundle in CARE_BUNDLES.items() if _conditions(bundle)])
@EXAMPLES
@given(data=st.data())
def test_fhirpath_agrees_with_careloop_on_the_shipped_care_bundles(name: str, data: st.DataObject) -> None:
    care_bundle = CARE_BUNDLES[name]
    _assert_fhirpath_agrees(care_bundle, data.draw(valid_answers(care_bundle)))


@EXAMPLES
@given(data=st.data())
def test_fhirpath_agrees_with_careloop_on_every_calculation(data: st.DataObject) -> None:
    answers = data.draw(valid_answers(EVERY_CALCULATION))
    _assert_fhirpath_agrees(EVERY_CALCULATION, answers)


def test_the_questionnaire_carries_the_expression_and_marks_the_item_read_only() -> None:
    questionnaire = to_questionnaire(EVERY_CALCULATION)
    (age,) = [item for item in questionnaire["item"] if item["linkId"] == "age"]
    assert age["readOnly"] is True
    (extension,) = [ext for ext in age["extension"] if ext["url"] == EXT_CALCULATED_EXPRESSION]
    assert extension["valueExpression"]["language"] == "text/fhirpath"
    assert "linkId='born'" in extension["valueExpression"]["expression"]


@pytest.mark.parametrize(
    ("born", "arrival", "age"),
    [
        ("2008-03-03", "2026-03-02T23:30:00+00:00", 17),  # the day before the 18th birthday
        ("2008-03-03", "2026-03-03T00:00:00+00:00", 18),  # the birthday itself
        ("2008-02-29", "2026-02-28T12:00:00+00:00", 17),  # a leap-day birthday in a common year
        ("2008-02-29", "2026-03-01T12:00:00+00:00", 18),
        ("2008-06-01", "2026-05-31T23:30:00+00:00", 18),  # 31 May 23:30 UTC is 1 June 00:30 in London
    ],
)
def test_age_counts_whole_years_on_local_dates(born: str, arrival: str, age: int) -> None:
    answers = {"arrival": [dt.datetime.fromisoformat(arrival)], "born": [dt.date.fromisoformat(born)]}
    assert evaluate(EVERY_CALCULATION, answers, AUTHORED).calculated["age"] == age
    _assert_fhirpath_agrees(EVERY_CALCULATION, answers)


def test_unanswered_inputs_give_no_value_in_both() -> None:
    answers = {"arrival": [dt.datetime(2025, 6, 1, 9, tzinfo=dt.UTC)], "born": [dt.date(2000, 1, 1)]}
    evaluation = evaluate(EVERY_CALCULATION, answers, AUTHORED)
    assert evaluation.calculated["months-ill"] is None
    assert evaluation.calculated["change"] is None
    assert evaluation.calculated["total"] is None
    assert evaluation.calculated["goal-count"] == 0
    _assert_fhirpath_agrees(EVERY_CALCULATION, answers)
