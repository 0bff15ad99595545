"""HL7's questionnaire validation test cases (fhir-test-cases, as run by brianpos's .NET validator).

Every R4 case must get the same verdict (valid / invalid) as the reference, except cases whose verdict needs
a terminology server: those must come back as ``needs-terminology`` from our validator itself (with
``TerminologyCheck`` issues naming the binding), never skipped. The table of all cases is printed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from fhir_adapters.operation_outcome import Issue
from fhir_adapters.sdc_validation import (
    Verdict,
    compile_questionnaire,
    terminology_checks,
    validate_questionnaire_response,
    verdict,
)

SUITE = (
    Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "fhir-questionnaire-validation"
)
MANIFEST = SUITE / "brianpos" / "manifest.json"
REFERENCE = "dotnet-brianpos"
MISSING = f"conformance suite not found at {SUITE} (it lives in shared/ beside the repository)"
# What may legitimately leave a verdict to a terminology server.
TERMINOLOGY_MARKERS = ("answerValueSet", "questionnaire-unitValueSet", "Quantity")


@dataclass(frozen=True)
class Case:
    name: str
    version: str
    response: Path
    supporting: tuple[Path, ...]
    expected: Verdict | None  # None: outside the manifest, no reference result


@dataclass
class Outcome:
    case: Case
    ours: Verdict
    issues: list[Issue] = field(default_factory=list)

    @property
    def result(self) -> str:
        if self.ours == "needs-terminology":
            return "needs-terminology"
        if self.case.expected is None:
            return "no-reference"
        return "agree" if self.ours == self.case.expected else "disagree"

    @property
    def reason(self) -> str:
        if self.ours == "needs-terminology":
            reasons = sorted(
                {
                    f"{check.reason} {check.value_set or ''}".strip()
                    for check in terminology_checks(self.issues)
                }
            )
            return "; ".join(reasons)
        first = next((issue for issue in self.issues if issue.is_error), None)
        return "" if first is None else f"{first.expression}: {first.diagnostics}"[:90]


def _case_file(relative: str) -> Path:
    # Manifest paths start with the suite's module folder ("questionnaire/brianpos/...").
    return SUITE / "brianpos" / Path(relative).name


@cache
def load_cases() -> tuple[Case, ...]:
    if not MANIFEST.is_file():
        return ()
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    cases = []
    for entry in manifest["test-cases"]:
        if entry.get("use-test") is False:
            continue
        counts = entry[REFERENCE]
        invalid = counts.get("fatalCount", 0) + counts.get("errorCount", 0) > 0
        cases.append(
            Case(
                name=entry["name"],
                version=entry.get("version", "5.0"),
                response=_case_file(entry["file"]),
                supporting=tuple(_case_file(path) for path in entry.get("supporting", ())),
                expected="invalid" if invalid else "valid",
            )
        )
    return tuple(cases)


def extra_cases() -> tuple[Case, ...]:
    """Response/Questionnaire pairs in the suite folder that the manifest does not list."""
    pairs = []
    for response in sorted(SUITE.glob("QuestionnaireResponse-*.json")):
        questionnaires = tuple(SUITE.glob("Questionnaire-*.json"))
        pairs.append(Case(response.stem, "4.0", response, questionnaires, None))
    return tuple(pairs)


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def run(case: Case) -> Outcome:
    response = _read(case.response)
    wanted = str(response.get("questionnaire", "")).partition("|")[0]
    found = [q for q in map(_read, filter(Path.is_file, case.supporting)) if q.get("url") == wanted]
    compiled = compile_questionnaire(found[0]) if found else None
    issues = validate_questionnaire_response(compiled, response)
    return Outcome(case, verdict(issues), issues)


def terminology_is_plausible(case: Case) -> bool:
    """The case needs terminology by its name or by what its Questionnaire asks for (value-set bindings,
    unit value sets, quantity limits in units)."""
    texts = [path.read_text(encoding="utf-8") for path in case.supporting if path.is_file()]
    return "async" in case.name or any(marker in text for text in texts for marker in TERMINOLOGY_MARKERS)


def r4_cases() -> list[Any]:
    cases = [case for case in load_cases() if case.version.startswith("4.0")]
    return [pytest.param(case, id=case.name) for case in cases] or [
        pytest.param(None, marks=pytest.mark.skip(reason=MISSING), id="suite-missing")
    ]


@pytest.mark.parametrize("case", r4_cases())
def test_r4_case_agrees_or_needs_terminology(case: Case) -> None:
    outcome = run(case)
    if outcome.result == "needs-terminology":
        assert terminology_checks(outcome.issues), (
            "a needs-terminology verdict must name the unchecked binding"
        )
        assert terminology_is_plausible(case), f"{case.name}: nothing here should need terminology"
    else:
        assert outcome.result == "agree", (
            f"{case.name}: expected {case.expected}, got {outcome.ours}: {outcome.issues}"
        )


def test_summary_table(capsys: pytest.CaptureFixture[str]) -> None:
    cases = load_cases()
    if not cases:
        pytest.skip(MISSING)
    outcomes = [run(case) for case in cases] + [run(case) for case in extra_cases()]
    table = _table(outcomes)
    with capsys.disabled():
        print("\n" + table)
    r4 = [
        outcome
        for outcome in outcomes
        if outcome.case.expected is not None and outcome.case.version.startswith("4.0")
    ]
    assert len(r4) + sum(1 for case in cases if not case.version.startswith("4.0")) == len(cases)
    assert [outcome.case.name for outcome in r4 if outcome.result == "disagree"] == []
    pending = [outcome for outcome in r4 if outcome.result == "needs-terminology"]
    assert all(outcome.reason for outcome in pending)


def test_decimal_places_pair_outside_the_manifest() -> None:
    """The suite folder also holds a German decimal-entry example: 1.666 breaks maxDecimalPlaces 2, for a
    decimal and for a quantity, and nothing else is wrong."""
    cases = extra_cases()
    if not cases:
        pytest.skip(MISSING)
    outcome = run(cases[0])
    assert [(issue.expression, issue.code) for issue in outcome.issues] == [
        ("QuestionnaireResponse.item[2].answer[0]", "value"),
        ("QuestionnaireResponse.item[3].answer[0]", "value"),
    ]


def _table(outcomes: list[Outcome]) -> str:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.result] = counts.get(outcome.result, 0) + 1
    width = max(len(outcome.case.name) for outcome in outcomes)
    lines = [
        "FHIR questionnaire validation conformance (reference: "
        f"{REFERENCE}): " + ", ".join(f"{count} {result}" for result, count in sorted(counts.items())),
        f"{'case':<{width}}  {'version':<7}  {'expected':<8}  {'ours':<17}  {'result':<17}  reason",
    ]
    for outcome in outcomes:
        case = outcome.case
        version = (
            case.version if case.version.startswith("4.0") else f"{case.version} (non-R4, reported only)"
        )
        lines.append(
            f"{case.name:<{width}}  {version:<7}  {case.expected or '-':<8}  {outcome.ours:<17}  "
            f"{outcome.result:<17}  {outcome.reason}"
        )
    return "\n".join(lines)
