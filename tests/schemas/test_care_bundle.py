"""The care bundle format: shape errors and one failing example for each semantic check."""

from __future__ import annotations

import copy
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas.care_bundle import (
    CareBundleLoader,
    InvalidCareBundle,
    Problem,
    load_care_bundle,
    parse_care_bundle,
)
from tests.factories import definition

VALID: dict[str, Any] = {
    **definition(
        id="test-bundle",
        title="Test care bundle",
        anchor={"id": "birth-time", "text": "Date and time of birth"},
        sources=[{"id": "src", "citation": "A source, 2021"}],
    ),
    "elements": [
        {
            "id": "birth-mode",
            "text": "Mode of birth",
            "type": "choice",
            "required": True,
            "options": [
                {"code": "vaginal", "display": "Vaginal birth"},
                {"code": "caesarean", "display": "Caesarean birth"},
            ],
        },
        {
            "id": "mpp",
            "text": "Manual perineal protection used",
            "type": "choice",
            "options": [
                {"code": "yes", "display": "Yes"},
                {"code": "no", "display": "No"},
                {"code": "declined", "display": "Woman declined"},
            ],
            "enable_when": [{"element": "birth-mode", "operator": "=", "answer": "vaginal"}],
            "compliance": {"met": ["yes"], "exception": ["declined"]},
            "sources": ["src"],
            "notes": "[DESIGN] options",
        },
        {"id": "repair-time", "text": "Repair completed", "type": "dateTime"},
        {
            "id": "check-time",
            "text": "Checked",
            "type": "dateTime",
            "compliance": {
                "timing": [
                    {"from": "anchor", "within_hours": 36},
                    {"from": "repair-time", "by_end_of_day": 1},
                ]
            },
        },
        {
            "id": "score",
            "text": "Score",
            "type": "integer",
            "min_value": 0,
            "max_value": 10,
        },
    ],
}


def problems_for(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(InvalidCareBundle) as caught:
        parse_care_bundle(data, "test.yaml")
    for problem in caught.value.problems:
        assert problem.file == "test.yaml"
    return [(problem.path, problem.message) for problem in caught.value.problems]


def mutated(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(VALID)
    for dotted, value in changes.items():
        target: Any = data
        *parents, last = dotted.split("__")
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
    return data


def test_valid_care_bundle_loads_into_immutable_model() -> None:
    care_bundle = parse_care_bundle(copy.deepcopy(VALID), "test.yaml")
    assert care_bundle.path == "test.yaml"
    assert [element.id for element in care_bundle.walk()] == [
        "birth-mode",
        "mpp",
        "repair-time",
        "check-time",
        "score",
    ]
    mpp = care_bundle.element("mpp")
    assert mpp is not None
    assert mpp.compliance is not None
    assert mpp.compliance.met == ("yes",)
    assert mpp.notes == ("[DESIGN] options",)
    check = care_bundle.element("check-time")
    assert check is not None
    assert check.compliance is not None
    assert check.compliance.timing[0].within_hours == Decimal(36)
    assert check.compliance.timing[1].by_end_of_day == 1
    assert [element.id for element in care_bundle.compliance_elements] == ["mpp", "check-time"]
    with pytest.raises(AttributeError):
        care_bundle.title = "changed"  # type: ignore[misc]


def test_within_days_is_stored_as_hours() -> None:
    data = mutated(elements__3__compliance={"timing": [{"from": "anchor", "within_days": 14}]})
    check = parse_care_bundle(data).element("check-time")
    assert check is not None
    assert check.compliance is not None
    assert check.compliance.timing[0].within_hours == Decimal(336)


def test_yaml_yes_and_no_stay_codes_not_booleans() -> None:
    loaded = yaml.load("options: [yes, no, true, 2024-01-02]", Loader=CareBundleLoader)  # noqa: S506
    assert loaded == {"options": ["yes", "no", True, "2024-01-02"]}


def test_unknown_and_missing_fields_are_shape_errors() -> None:
    data = mutated(elements__0__colour="red")
    del data["title"]
    found = problems_for(data)
    assert ("title", "Missing data for required field.") in found
    assert ("elements[0].colour", "Unknown field.") in found


def test_duplicate_element_id() -> None:
    data = mutated(elements__2__id="mpp")
    assert ("elements[2].id", "element id 'mpp' is used twice") in problems_for(data)


def test_condition_on_a_later_element_is_rejected_with_its_path() -> None:
    data = mutated()
    data["elements"][1]["enable_when"] = [{"element": "score", "operator": ">", "answer": 3}]
    assert problems_for(data) == [
        ("elements[1].enable_when[0].element", "condition refers to 'score', which comes later")
    ]


def test_condition_on_an_unknown_element() -> None:
    data = mutated()
    data["elements"][1]["enable_when"][0]["element"] = "nowhere"
    assert problems_for(data) == [("elements[1].enable_when[0].element", "no element with id 'nowhere'")]


def test_condition_answer_must_be_one_of_the_options() -> None:
    data = mutated()
    data["elements"][1]["enable_when"][0]["answer"] = "forceps"
    assert problems_for(data) == [
        ("elements[1].enable_when[0].answer", "'forceps' is not one of the options of 'birth-mode'")
    ]


def test_ordering_operator_needs_an_ordered_element() -> None:
    data = mutated()
    data["elements"][1]["enable_when"][0]["operator"] = ">"
    ((path, message),) = problems_for(data)
    assert path == "elements[1].enable_when[0].operator"
    assert "needs a number, date or date-time" in message


def test_timing_rule_must_start_from_anchor_or_a_date_element() -> None:
    data = mutated(elements__3__compliance={"timing": [{"from": "birth-mode", "within_hours": 36}]})
    assert problems_for(data) == [
        (
            "elements[3].compliance.timing[0].from",
            "timing starts from 'birth-mode', which is choice, not a date or date-time",
        )
    ]
    data = mutated(elements__3__compliance={"timing": [{"from": "score", "within_hours": 36}]})
    ((path, message),) = problems_for(data)
    assert path == "elements[3].compliance.timing[0].from"
    assert "which is integer, not a date or date-time" in message
    data = mutated(elements__3__compliance={"timing": [{"from": "nowhere", "within_hours": 36}]})
    assert problems_for(data) == [
        (
            "elements[3].compliance.timing[0].from",
            "timing starts from 'nowhere', which is not the anchor or an element",
        )
    ]


def test_timing_rule_judges_only_date_elements() -> None:
    data = mutated(elements__4__compliance={"timing": [{"from": "anchor", "within_hours": 1}]})
    assert problems_for(data) == [
        ("elements[4].compliance.timing", "timing rules judge a date or date-time; this element is integer")
    ]


def test_timing_rule_needs_exactly_one_window() -> None:
    data = mutated(
        elements__3__compliance={"timing": [{"from": "anchor", "within_hours": 1, "by_end_of_day": 1}]}
    )
    assert problems_for(data) == [
        (
            "elements[3].compliance.timing[0]",
            "Give exactly one of within_hours, within_days, by_end_of_day or within_working_days.",
        )
    ]


def test_option_codes_must_be_unique() -> None:
    data = mutated()
    data["elements"][1]["options"][2]["code"] = "yes"
    found = problems_for(data)
    assert ("elements[1].options[2].code", "option code 'yes' is used twice") in found


def test_codes_carry_system_and_code() -> None:
    data = mutated()
    data["elements"][0]["code"] = {"code": "85548006"}
    assert ("elements[0].code[0].system", "Missing data for required field.") in problems_for(data)
    data["elements"][0]["code"] = {"system": "not a url", "code": "85548006"}
    assert ("elements[0].code[0].system", "Not a valid URL.") in problems_for(data)


def test_compliance_answers_must_be_valid_for_the_element() -> None:
    data = mutated(elements__1__compliance={"met": ["maybe"]})
    ((path, message),) = problems_for(data)
    assert path == "elements[1].compliance.met[0]"
    assert "not one of the options of this element" in message


def test_compliance_must_say_what_counts_as_met() -> None:
    data = mutated(elements__1__compliance={"exception": ["declined"]})
    ((path, message),) = problems_for(data)
    assert path == "elements[1].compliance"
    assert message.startswith("Say what counts as met")


def test_source_reference_must_exist() -> None:
    data = mutated(elements__1__sources=["nice-2099"])
    assert problems_for(data) == [("elements[1].sources[0]", "no source with id 'nice-2099'")]


def test_two_conditions_need_an_enable_behavior() -> None:
    data = mutated()
    data["elements"][4]["enable_when"] = [
        {"element": "birth-mode", "operator": "=", "answer": "vaginal"},
        {"element": "mpp", "operator": "exists", "answer": True},
    ]
    assert problems_for(data) == [
        ("elements[4].enable_behavior", "more than one condition: say enable_behavior: all or any")
    ]


def test_choice_without_options_and_group_without_items() -> None:
    data = mutated(elements__0__options=[])
    data["elements"][2] = {"id": "extras", "text": "Extras", "type": "group"}
    found = problems_for(data)
    assert ("elements[0].options", "a choice element needs options") in found
    assert ("elements[2].items", "a group needs items") in found


def test_every_problem_is_reported_at_once() -> None:
    data = mutated(elements__4__id="mpp", elements__4__min_value=20)
    assert len(problems_for(data)) == 2


def test_load_care_bundle_reports_yaml_errors_with_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("id: x\nelements: [\n", encoding="utf-8")
    with pytest.raises(InvalidCareBundle) as caught:
        load_care_bundle(path)
    (problem,) = caught.value.problems
    assert problem.file == str(path)
    assert problem.path.startswith("line ")
    assert "not valid YAML" in problem.message


def test_problem_string_names_file_path_and_hint(tmp_path: Path) -> None:
    path = tmp_path / "later.yaml"
    data = mutated()
    data["elements"][1]["enable_when"] = [{"element": "score", "operator": ">", "answer": 3}]
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(InvalidCareBundle) as caught:
        load_care_bundle(path)
    assert str(caught.value) == (
        f"{path}: elements[1].enable_when[0].element: condition refers to 'score', which comes later "
        "(hint: a condition may only depend on an element above it)"
    )


@pytest.mark.parametrize(
    ("path", "section"),
    [
        ("elements[3].compliance.timing[0].from", "timing-rules"),
        ("elements[1].enable_when[0].answer", "conditions"),
        ("elements[1].compliance.exception_when[0].element", "conditions"),
        ("elements[1].compliance.met[0]", "compliance"),
        ("elements[0].options[2].code", "options"),
        ("elements[0].code[0].system", "code-a-coding"),
        ("elements[4].items", "elements"),
        ("elements[0].type", "types"),
        ("anchor.type", "anchor"),
        ("line 3, column 1", "yaml-caveats"),
        ("title", "top-level-fields"),
    ],
)
def test_every_problem_gets_a_hint_pointing_into_format_md(path: str, section: str) -> None:
    (problem,) = InvalidCareBundle([Problem("f.yaml", path, "something is wrong")]).problems
    assert problem.hint == f"see bundles/FORMAT.md#{section}"
    headings = (Path(__file__).resolve().parents[2] / "bundles" / "FORMAT.md").read_text(encoding="utf-8")
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in headings.splitlines()
        if line.startswith("#")
    }
    assert section in anchors


def test_shape_and_meaning_problems_all_carry_hints() -> None:
    data = mutated(elements__0__colour="red", elements__2__id="mpp")
    with pytest.raises(InvalidCareBundle) as caught:
        parse_care_bundle(data, "test.yaml")
    assert all(problem.hint for problem in caught.value.problems)


def test_the_definition_is_kept_as_canonical_json_for_the_browser() -> None:
    care_bundle = parse_care_bundle(VALID)
    assert json.loads(care_bundle.definition_json) == json.loads(json.dumps(VALID))
    bundles = Path(__file__).resolve().parents[2] / "bundles"
    shipped = load_care_bundle(bundles / "oasi-care-bundle-2.0.0.yaml")
    definition = json.loads(shipped.definition_json)
    assert definition["elements"][1]["options"][0]["code"] == "yes"  # a code, never a YAML boolean
    assert definition["version"] == "2.0.0"
