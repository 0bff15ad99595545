"""Careloop's rules against the rule cases shipped as data (``tests/data/rule_cases``).

The same files are the contract for any other implementation of the rules (the tablet's offline copy): a
case that fails here is a change of meaning, not a test to update lightly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas.care_bundle import CareBundle, CareBundleLoader, coerce_answer, parse_care_bundle
from service.checklists import Evaluation, evaluate

CASES_DIR = Path(__file__).resolve().parents[2] / "data" / "rule_cases"


def _cases() -> Iterator[Any]:
    for path in sorted(CASES_DIR.glob("*.yaml")):
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=CareBundleLoader)  # noqa: S506
        for case in data["cases"]:
            care_bundle = {**data["care_bundle"], **case.get("care_bundle", {})}
            yield pytest.param(care_bundle, case, id=f"{path.stem}: {case['name']}")


def _typed(care_bundle: CareBundle, element_id: str, raw: Any) -> list[Any]:
    element = care_bundle.element(element_id)
    assert element is not None, f"no element {element_id!r}"
    values = raw if isinstance(raw, list) else [raw]
    if element.is_repeating_group:
        return [
            {key: _typed(care_bundle, key, value) for key, value in instance.items()} for instance in values
        ]
    return [
        coerce_answer(element.type, Decimal(str(value)) if isinstance(value, float) else value)
        for value in values
    ]


def _answers(care_bundle: CareBundle, raw: Mapping[str, Any]) -> dict[str, list[Any]]:
    return {key: _typed(care_bundle, key, value) for key, value in raw.items()}


def _check(evaluation: Evaluation, expect: Mapping[str, Any]) -> None:
    for element_id in expect.get("enabled_include", ()):
        assert element_id in evaluation.enabled, f"{element_id} should be enabled"
    for element_id in expect.get("enabled_exclude", ()):
        assert element_id not in evaluation.enabled, f"{element_id} should not be enabled"
    for element_id, instance, enabled in expect.get("enabled_instances", ()):
        assert ((element_id, instance) in evaluation.enabled_instances) is enabled, (element_id, instance)
    for element_id, wanted in expect.get("outcomes", {}).items():
        found = evaluation.outcome(element_id)
        outcome, reason = (wanted, None) if isinstance(wanted, str) else wanted
        assert found.outcome == outcome, (element_id, found)
        if reason is not None:
            assert reason in (found.reason or ""), (element_id, found.reason)
    for rule_id, wanted in expect.get("rules", {}).items():
        rule = evaluation.rule(rule_id)
        if "outcome" in wanted:
            assert rule.outcome == wanted["outcome"], (rule_id, rule)
        if "status" in wanted:
            assert rule.status == wanted["status"], (rule_id, rule)
        if "due_at" in wanted:
            assert rule.due_at == dt.datetime.fromisoformat(wanted["due_at"]), (rule_id, rule.due_at)
    for composite_id, compliant in expect.get("composites", {}).items():
        assert evaluation.composite(composite_id).compliant is compliant, composite_id
    for element_id, value in expect.get("calculated", {}).items():
        found = evaluation.calculated[element_id]
        if value is None or isinstance(value, bool):
            assert found is value, (element_id, found)
        else:
            assert not isinstance(found, bool)
            assert Decimal(str(found)) == Decimal(str(value)), (element_id, found)
    if "failed_checks" in expect:
        assert sorted(result.check.id for result in evaluation.failed_checks) == sorted(
            expect["failed_checks"]
        )
    if "blocking_checks" in expect:
        assert sorted(result.check.id for result in evaluation.blocking_checks) == sorted(
            expect["blocking_checks"]
        )


@pytest.mark.parametrize(("definition", "case"), list(_cases()))
def test_rule_case(definition: dict[str, Any], case: dict[str, Any]) -> None:
    care_bundle = parse_care_bundle(definition, "rule case")
    now = dt.datetime.fromisoformat(case["now"])
    evaluation = evaluate(care_bundle, _answers(care_bundle, case["answers"]), now)
    _check(evaluation, case["expect"])


def test_every_case_file_is_run_and_every_case_checks_something() -> None:
    cases = list(_cases())
    assert {path.stem for path in CASES_DIR.glob("*.yaml")} == {
        "conditions",
        "timing",
        "calculations",
        "compliance",
    }
    assert len(cases) >= 50
    assert all(param.values[1]["expect"] for param in cases)
