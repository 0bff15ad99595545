"""The extensions Careloop defines, as StructureDefinitions: valid R4, one for every extension URL the
mappings use, and each describing what the Questionnaires really carry."""

from __future__ import annotations

import copy
import importlib
import pkgutil
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.structuredefinition import StructureDefinition

import fhir_adapters
from fhir_adapters.questionnaire import EXT_ANCHOR, to_questionnaire
from fhir_adapters.questionnaire_rules import EXT_CALENDAR, EXT_COMPLIANCE
from fhir_adapters.structuredefinition import (
    BY_ID,
    BY_URL,
    DEFINITIONS,
    extension_problems,
    structure_definition,
    structure_definitions,
)
from fhir_adapters.vocabulary import CARELOOP_EXTENSION_BASE
from schemas.care_bundle import CareBundle, load_care_bundle
from tests.factories import build, element, yes_no

ROOT = Path(__file__).resolve().parents[2]
BUNDLE_FILES = sorted((ROOT / "bundles").glob("*.yaml"))


def _extension_urls_in_the_mappings() -> set[str]:
    """Every module-level string of ``fhir_adapters`` that is an extension URL under our base."""
    found: set[str] = set()
    for module_info in pkgutil.walk_packages(fhir_adapters.__path__, "fhir_adapters."):
        module = importlib.import_module(module_info.name)
        found |= {
            value
            for value in vars(module).values()
            if isinstance(value, str) and value.startswith(f"{CARELOOP_EXTENSION_BASE}/")
        }
    return found


def test_every_extension_url_the_mappings_use_has_a_definition() -> None:
    used = _extension_urls_in_the_mappings()
    assert len(used) >= 8
    assert used == set(BY_URL)


@pytest.mark.parametrize("definition", DEFINITIONS, ids=lambda definition: definition.id)
def test_each_is_a_valid_r4_extension_definition(definition: Any) -> None:
    resource = structure_definition(definition)
    StructureDefinition.model_validate(resource)
    assert resource["url"] == f"{CARELOOP_EXTENSION_BASE}/{resource['id']}"
    assert resource["id"].startswith("care-bundle-")  # decision 0003
    assert (resource["kind"], resource["type"], resource["derivation"], resource["abstract"]) == (
        "complex-type",
        "Extension",
        "constraint",
        False,
    )
    assert resource["baseDefinition"] == "http://hl7.org/fhir/StructureDefinition/Extension"
    assert (resource["fhirVersion"], resource["status"], resource["publisher"]) == (
        "4.0.1",
        "active",
        "Careloop",
    )
    assert resource["version"]
    assert len(resource["description"]) > 60
    assert resource["context"]
    assert all(context["type"] == "element" for context in resource["context"])
    elements = resource["differential"]["element"]
    by_id = {item["id"]: item for item in elements}
    assert len(by_id) == len(elements)  # element ids are unique
    assert elements[0]["path"] == "Extension"
    assert by_id["Extension.url"]["fixedUri"] == resource["url"]
    value = by_id["Extension.value[x]"]
    if definition.parts:
        assert value["max"] == "0"
        slices = {
            item["sliceName"]
            for item in elements
            if item["path"] == "Extension.extension" and "sliceName" in item
        }
        assert slices == {part.url for part in definition.parts}
    else:
        assert [kind["code"] for kind in value["type"]] == list(definition.types)
        assert by_id["Extension.extension"]["max"] == "0"
    for item in elements:  # every slice fixes its own url, relative, and says what its value is
        if "sliceName" in item:
            assert by_id[f"{item['id']}.url"]["fixedUri"] == item["sliceName"]
            assert f"{item['id']}.value[x]" in by_id
            assert item["path"] == ".".join(step.split(":")[0] for step in item["id"].split("."))


def test_lookups_and_the_list_agree() -> None:
    assert [resource["id"] for resource in structure_definitions()] == list(BY_ID)
    assert BY_ID["care-bundle-anchor"].url == EXT_ANCHOR


@pytest.mark.parametrize("path", BUNDLE_FILES, ids=lambda path: path.stem)
def test_the_shipped_questionnaires_carry_what_the_definitions_say(path: Path) -> None:
    assert extension_problems(to_questionnaire(load_care_bundle(path))) == []


@pytest.fixture
def everything() -> CareBundle:
    """A care bundle that uses every extension Careloop defines."""
    condition = {"element": "done", "operator": "=", "answer": "yes"}
    return build(
        yes_no(
            "done",
            compliance={
                "met": ["yes"],
                "exception": ["no"],
                "exception_when": [condition],
            },
        ),
        element(
            "done-at",
            "dateTime",
            compliance={"timing": [{"id": "two-days", "from": "anchor", "within_working_days": 2}]},
        ),
        element(
            "score",
            "integer",
            compliance={"at_least": 3, "at_most": 9, "applies_when": {"any": [condition]}},
        ),
        element("note", "string", compliance={"recorded": True}),
        calendar="scotland",
        population={"text": "Everyone done", "when": [condition]},
        composites=[
            {"id": "all", "title": "All", "description": "Every one", "members": ["done", "two-days"]}
        ],
        follow_up=[
            {
                "id": "better",
                "title": "Better",
                "element": "score",
                "population": {"operator": "<", "answer": 5},
                "change": {"operator": ">=", "answer": 1},
                "after_days": 10,
                "within_days": 20,
            }
        ],
    )


def test_a_care_bundle_using_every_extension_conforms(everything: CareBundle) -> None:
    questionnaire = to_questionnaire(everything)
    used = {ext["url"] for ext in questionnaire["extension"]} | {
        ext["url"] for item in questionnaire["item"] for ext in item.get("extension", ())
    }
    assert set(BY_URL) <= used
    assert extension_problems(questionnaire) == []


def _compliance(questionnaire: dict[str, Any]) -> dict[str, Any]:
    return next(
        ext
        for item in questionnaire["item"]
        for ext in item.get("extension", ())
        if ext["url"] == EXT_COMPLIANCE
    )


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (
            lambda q: q["extension"].append({"url": f"{CARELOOP_EXTENSION_BASE}/care-bundle-new"}),
            "no StructureDefinition",
        ),
        (
            lambda q: q["item"][1].setdefault("extension", []).append(copy.deepcopy(q["extension"][0])),
            "not allowed on Questionnaire.item",
        ),
        (
            lambda q: q["extension"].append(copy.deepcopy(q["extension"][0])),
            "2 on one Questionnaire, at most 1",
        ),
        (lambda q: q["extension"][0].update(valueInteger=3), "valueString and nothing else"),
        (
            lambda q: _compliance(q)["extension"].append({"url": "metWhen", "valueBoolean": True}),
            "no part 'metWhen'",
        ),
        (
            lambda q: _compliance(q)["extension"].append({"url": "atLeast", "valueString": "3"}),
            "valueDecimal",
        ),
        (lambda q: _compliance(q).update(valueBoolean=True), "has no value"),
        (lambda q: next(e for e in q["extension"] if e["url"] == EXT_CALENDAR).pop("valueCode"), "valueCode"),
    ],
)
def test_what_does_not_conform_is_named(everything: CareBundle, change: Any, says: str) -> None:
    questionnaire = to_questionnaire(everything)
    change(questionnaire)
    problems = extension_problems(questionnaire)
    assert any(says in problem for problem in problems), problems


def test_a_missing_required_part_is_named(everything: CareBundle) -> None:
    questionnaire = to_questionnaire(everything)
    population = next(
        ext for ext in questionnaire["extension"] if ext["url"].endswith("care-bundle-population")
    )
    population["extension"] = [part for part in population["extension"] if part["url"] != "text"]
    assert extension_problems(questionnaire) == ["care-bundle-population.text: 0 given, 1..1 allowed"]
