"""Care bundle -> Questionnaire: golden files per shipped care bundle, and the mapping rules one by one.

Regenerate the golden files after a deliberate change with ``CARELOOP_UPDATE_GOLDEN=1 make pytest`` and
review the diff like code. The golden files of published versions are frozen: ``PUBLISHED.sha256`` holds
their digests, the switch never rewrites them, and a test fails if one changes (docs/decisions/0007).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.questionnaire import Questionnaire

from fhir_adapters.questionnaire import EXT_ANCHOR, computable_name, to_questionnaire
from fhir_adapters.questionnaire_rules import EXT_COMPLIANCE
from fhir_adapters.vocabulary import CARELOOP_CANONICAL_BASE, EXT_DESIGN_NOTE
from schemas.care_bundle import CareBundle, load_care_bundle, parse_care_bundle
from tests.factories import definition

ROOT = Path(__file__).resolve().parents[2]
BUNDLE_FILES = sorted((ROOT / "bundles").glob("*.yaml"))
GOLDEN = ROOT / "tests" / "data" / "questionnaires"
PUBLISHED = GOLDEN / "PUBLISHED.sha256"


def _published() -> dict[str, str]:
    """Golden file name -> sha256 of every published (frozen) Questionnaire."""
    found = {}
    for line in PUBLISHED.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            digest, name = line.split()
            found[name] = digest
    return found


@pytest.mark.parametrize("path", BUNDLE_FILES, ids=lambda path: path.stem)
def test_questionnaire_matches_golden_file_and_is_valid_r4(path: Path) -> None:
    care_bundle = load_care_bundle(path)
    resource = to_questionnaire(care_bundle)
    golden = GOLDEN / f"{care_bundle.id}-{care_bundle.version}.json"
    rendered = json.dumps(resource, indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("CARELOOP_UPDATE_GOLDEN") == "1" and golden.name not in _published():
        golden.write_text(rendered, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden.name}: run with CARELOOP_UPDATE_GOLDEN=1"
    assert json.loads(golden.read_text(encoding="utf-8")) == resource
    parsed = Questionnaire.model_validate(resource)
    # Nothing is lost on the way through the R4B model: it round-trips to the same JSON.
    assert json.loads(parsed.model_dump_json(exclude_none=True)) == resource


def test_published_questionnaires_are_frozen() -> None:
    """A published version's Questionnaire never changes: fixes are new versions."""
    published = _published()
    for path in BUNDLE_FILES:
        care_bundle = load_care_bundle(path)
        if care_bundle.status != "draft":
            assert f"{care_bundle.id}-{care_bundle.version}.json" in published, f"{path.name} is published"
    for name, digest in published.items():
        assert hashlib.sha256((GOLDEN / name).read_bytes()).hexdigest() == digest, f"{name} changed"
    assert {
        "oasi-care-bundle-1.0.0.json",
        "hip-fracture-pathway-1.0.0.json",
        "freed-triage-1.0.0.json",
    } <= set(published)


@pytest.mark.parametrize("path", BUNDLE_FILES, ids=lambda path: path.stem)
def test_every_element_becomes_an_item_and_the_anchor_comes_first(path: Path) -> None:
    care_bundle = load_care_bundle(path)
    resource = to_questionnaire(care_bundle)
    link_ids = [item["linkId"] for item in _items(resource["item"]) if item["type"] != "display"]
    assert link_ids == [care_bundle.anchor.id] + [element.id for element in care_bundle.walk()]
    assert resource["item"][0]["type"] in ("date", "dateTime")
    assert resource["item"][0]["required"] is True
    assert {"url": EXT_ANCHOR, "valueString": care_bundle.anchor.id} in resource["extension"]


def _items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for item in items:
        found.append(item)
        found.extend(_items(item.get("item", [])))
    return found


@pytest.fixture
def small() -> CareBundle:
    return parse_care_bundle(
        {
            **definition(
                id="small-care-bundle",
                version="2.1.0",
                title="Small",
                status="draft",
                sources=[{"id": "src", "citation": "Source 2020", "url": "https://doi.org/10.1000/x"}],
            ),
            "notes": ["[UNVERIFIED] whole thing"],
            "elements": [
                {
                    "id": "mode",
                    "text": "Mode",
                    "type": "choice",
                    "required": True,
                    "code": {"system": "http://snomed.info/sct", "code": "85548006", "display": "Episiotomy"},
                    "options": [
                        {"code": "a", "display": "A"},
                        {"code": "b", "display": "B", "system": "http://example.org/cs"},
                    ],
                    "help": "Pick one",
                },
                {
                    "id": "score",
                    "text": "Score",
                    "type": "integer",
                    "min_value": 0,
                    "max_value": 10,
                    "enable_when": [{"element": "mode", "operator": "=", "answer": "b"}],
                },
                {
                    "id": "done-at",
                    "text": "Done at",
                    "type": "dateTime",
                    "enable_when": [
                        {"element": "score", "operator": ">=", "answer": 3},
                        {"element": "arrival", "operator": "exists", "answer": True},
                    ],
                    "enable_behavior": "any",
                    "compliance": {
                        "timing": [
                            {"from": "anchor", "within_hours": 36},
                            {"from": "anchor", "by_end_of_day": 1},
                        ],
                        "exception_when": [{"element": "mode", "operator": "=", "answer": "a"}],
                    },
                    "notes": "[DESIGN] a note",
                    "sources": ["src"],
                },
            ],
        }
    )


def test_header_fields(small: CareBundle) -> None:
    resource = to_questionnaire(small)
    assert resource["id"] == "small-care-bundle-2.1.0"
    assert resource["url"] == f"{CARELOOP_CANONICAL_BASE}/Questionnaire/small-care-bundle"
    assert resource["name"] == "SmallCareBundle" == computable_name("small-care-bundle")
    assert resource["status"] == "draft"
    assert resource["subjectType"] == ["Patient"]
    assert {"url": EXT_DESIGN_NOTE, "valueMarkdown": "[UNVERIFIED] whole thing"} in resource["extension"]


def test_choice_item_options_code_and_help(small: CareBundle) -> None:
    mode = to_questionnaire(small)["item"][1]
    assert mode["required"] is True
    assert mode["code"] == [{"system": "http://snomed.info/sct", "code": "85548006", "display": "Episiotomy"}]
    assert mode["answerOption"] == [
        {
            "valueCoding": {
                "system": f"{CARELOOP_CANONICAL_BASE}/CodeSystem/small-care-bundle",
                "code": "a",
                "display": "A",
            }
        },
        {"valueCoding": {"system": "http://example.org/cs", "code": "b", "display": "B"}},
    ]
    (help_item,) = mode["item"]
    assert help_item["linkId"] == "mode-help"
    assert help_item["type"] == "display"
    assert help_item["text"] == "Pick one"


def test_enable_when_min_max_and_behaviour(small: CareBundle) -> None:
    items = to_questionnaire(small)["item"]
    score, done_at = items[2], items[3]
    assert score["enableWhen"] == [
        {
            "question": "mode",
            "operator": "=",
            "answerCoding": {"system": "http://example.org/cs", "code": "b", "display": "B"},
        }
    ]
    assert {"url": "http://hl7.org/fhir/StructureDefinition/minValue", "valueInteger": 0} in score[
        "extension"
    ]
    assert {"url": "http://hl7.org/fhir/StructureDefinition/maxValue", "valueInteger": 10} in score[
        "extension"
    ]
    assert done_at["enableWhen"] == [
        {"question": "score", "operator": ">=", "answerInteger": 3},
        {"question": "arrival", "operator": "exists", "answerBoolean": True},
    ]
    assert done_at["enableBehavior"] == "any"


def test_compliance_and_timing_travel_as_extensions(small: CareBundle) -> None:
    done_at = to_questionnaire(small)["item"][3]
    (compliance,) = [ext for ext in done_at["extension"] if ext["url"] == EXT_COMPLIANCE]
    assert compliance["extension"] == [
        {
            "url": "exceptionWhen",
            "extension": [
                {"url": "question", "valueString": "mode"},
                {"url": "operator", "valueCode": "="},
                {
                    "url": "answer",
                    "valueCoding": {
                        "system": f"{CARELOOP_CANONICAL_BASE}/CodeSystem/small-care-bundle",
                        "code": "a",
                        "display": "A",
                    },
                },
            ],
        },
        {
            "url": "timing",
            "extension": [
                {"url": "from", "valueString": "arrival"},
                {"url": "withinHours", "valueDecimal": 36},
            ],
        },
        {
            "url": "timing",
            "extension": [
                {"url": "from", "valueString": "arrival"},
                {"url": "byEndOfDay", "valueInteger": 1},
            ],
        },
    ]
    notes = [ext["valueMarkdown"] for ext in done_at["extension"] if ext["url"] == EXT_DESIGN_NOTE]
    assert notes == ["[DESIGN] a note", "Sources: src"]
    Questionnaire.model_validate(to_questionnaire(small))
