"""The care bundle catalogue: built once with the app, looked up by id and canonical, never changed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from fhir_adapters.questionnaire_response import to_questionnaire_response
from fhir_adapters.vocabulary import CARELOOP_CANONICAL_BASE
from schemas.care_bundle import InvalidCareBundle
from service import create_app
from service.care_bundles import CareBundleCatalogue, CareBundleRegistry, current_catalogue
from service.checklists.compiled import compile_care_bundle

URL = f"{CARELOOP_CANONICAL_BASE}/Questionnaire/small"
DRAFT_URL = f"{CARELOOP_CANONICAL_BASE}/Questionnaire/sketch"


def small_care_bundle(care_bundle_id: str, version: str, status: str, *, first_required: bool) -> str:
    return (
        f"id: {care_bundle_id}\n"
        f"version: {version}\n"
        f"title: {care_bundle_id.title()}\n"
        f"status: {status}\n"
        "anchor: {id: start, text: Start}\n"
        "sources: [{id: s, citation: A source}]\n"
        "elements:\n"
        f"  - {{id: first, text: First, type: boolean, required: {str(first_required).lower()}}}\n"
    )


@pytest.fixture
def bundles_dir(tmp_path: Path) -> Path:
    """``small``: 1.9.0, 1.10.0 published, 2.0.0 a draft that also requires ``first``; ``sketch``: drafts."""
    folder = tmp_path / "bundles"
    folder.mkdir()
    for version, status in (("1.9.0", "active"), ("1.10.0", "active"), ("2.0.0", "draft")):
        text = small_care_bundle("small", version, status, first_required=version == "2.0.0")
        (folder / f"small-{version}.yaml").write_text(text, encoding="utf-8")
    for version in ("0.1.0", "0.2.0"):
        text = small_care_bundle("sketch", version, "draft", first_required=False)
        (folder / f"sketch-{version}.yaml").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def small_app(bundles_dir: Path, tmp_path: Path) -> Flask:
    return create_app(
        {
            "ENV": "testing",
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'small.db'}",
            "BUNDLES_DIR": str(bundles_dir),
        }
    )


@pytest.fixture
def catalogue(bundles_dir: Path) -> CareBundleCatalogue:
    return CareBundleCatalogue.from_directory(bundles_dir)


def test_create_app_builds_the_catalogue_once(small_app: Flask) -> None:
    with small_app.app_context():
        catalogue = current_catalogue()
    assert [entry.resource_id for entry in catalogue] == [
        "sketch-0.1.0",
        "sketch-0.2.0",
        "small-1.9.0",
        "small-1.10.0",
        "small-2.0.0",
    ]
    # the registry stays where existing callers read it, and is the catalogue's own
    assert small_app.extensions["care_bundles"] is catalogue.registry
    for entry in catalogue:
        # evaluate() compiles through the same identity cache, so it gets this very compiled form
        assert entry.compiled_care_bundle is compile_care_bundle(entry.care_bundle)
        assert entry.questionnaire is entry.compiled_care_bundle.questionnaire
        assert entry.compiled_questionnaire is entry.compiled_care_bundle.compiled


def test_a_bad_care_bundle_still_stops_the_app(bundles_dir: Path, tmp_path: Path) -> None:
    broken = small_care_bundle("small", "3.0.0", "active", first_required=False).replace("boolean", "bool")
    (bundles_dir / "broken.yaml").write_text(broken, encoding="utf-8")
    with pytest.raises(InvalidCareBundle, match="broken.yaml"):
        create_app({"ENV": "testing", "BUNDLES_DIR": str(bundles_dir)})


def test_a_missing_folder_stops_the_app(tmp_path: Path) -> None:
    with pytest.raises(InvalidCareBundle, match="does not exist"):
        create_app({"ENV": "testing", "BUNDLES_DIR": str(tmp_path / "nowhere")})


def test_lookup_by_resource_id(catalogue: CareBundleCatalogue) -> None:
    entry = catalogue.by_resource_id["small-1.10.0"]
    assert (entry.care_bundle.id, entry.version) == ("small", "1.10.0")
    assert entry.questionnaire["id"] == "small-1.10.0"
    assert "small-3.0.0" not in catalogue.by_resource_id


def test_lookup_by_id_and_version(catalogue: CareBundleCatalogue) -> None:
    entry = catalogue.by_version[("small", "2.0.0")]
    assert entry is catalogue.get("small", "2.0.0")
    assert entry.care_bundle.status == "draft"
    assert catalogue.get("small", "3.0.0") is None
    assert catalogue.get("nothing") is None


def test_lookup_by_canonical_with_version(catalogue: CareBundleCatalogue) -> None:
    for version in ("1.9.0", "1.10.0", "2.0.0"):
        entry = catalogue.by_canonical[f"{URL}|{version}"]
        assert entry.canonical == f"{URL}|{version}"
        assert entry.questionnaire["url"] == URL
        assert entry.questionnaire["version"] == version
    assert f"{URL}|3.0.0" not in catalogue.by_canonical


def test_bare_canonical_means_the_latest_published_version(catalogue: CareBundleCatalogue) -> None:
    # 1.10.0 is later than 1.9.0 (versions compare as numbers) and the 2.0.0 draft is passed over
    assert catalogue.by_canonical[URL].version == "1.10.0"
    assert catalogue.get("small") is catalogue.by_canonical[URL]
    assert catalogue.latest["small"] is catalogue.by_canonical[URL]


def test_bare_canonical_of_drafts_only_means_the_latest_draft(catalogue: CareBundleCatalogue) -> None:
    assert catalogue.by_canonical[DRAFT_URL].version == "0.2.0"


def test_the_latest_version_follows_the_registry_rule(catalogue: CareBundleCatalogue) -> None:
    registry: CareBundleRegistry = catalogue.registry
    for care_bundle_id in ("small", "sketch"):
        entry = catalogue.get(care_bundle_id)
        assert entry is not None
        assert entry.care_bundle is registry.get(care_bundle_id)


def test_the_catalogue_cannot_be_changed(catalogue: CareBundleCatalogue) -> None:
    entry = catalogue.by_resource_id["small-1.9.0"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        catalogue.entries = ()  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.resource_id = "other"  # type: ignore[misc]
    assert isinstance(catalogue.entries, tuple)
    for lookup in (catalogue.by_resource_id, catalogue.by_version, catalogue.latest, catalogue.by_canonical):
        with pytest.raises(TypeError):
            lookup["x"] = entry  # type: ignore[index]
        with pytest.raises(TypeError):
            del lookup[next(iter(lookup))]  # type: ignore[union-attr]


def small_response(app: Flask, version: str, questionnaire: str) -> dict[str, Any]:
    with app.app_context():
        entry = current_catalogue().get("small", version)
    assert entry is not None
    response = to_questionnaire_response(
        entry.care_bundle,
        {"start": [dt.datetime(2026, 3, 29, 0, 30, tzinfo=dt.UTC)]},
        checklist_id="4f7f0c52-1c65-4b61-b7a3-51a4b1f3c2d9",
        status="completed",
        authored=dt.datetime(2026, 3, 29, 2, 0, tzinfo=dt.UTC),
    )
    response["questionnaire"] = questionnaire
    return response


def validate(app: Flask, body: dict[str, Any]) -> list[str]:
    response = app.test_client().post(
        "/fhir/QuestionnaireResponse/$validate", data=json.dumps(body), content_type="application/fhir+json"
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return [issue["code"] for issue in response.get_json(force=True)["issue"] if issue["severity"] == "error"]


def test_validate_reads_the_catalogue(small_app: Flask) -> None:
    # without an answer to "first", only the 2.0.0 draft (which requires it) finds fault
    assert validate(small_app, small_response(small_app, "1.10.0", URL)) == []
    assert validate(small_app, small_response(small_app, "1.10.0", f"{URL}|1.9.0")) == []
    assert validate(small_app, small_response(small_app, "2.0.0", f"{URL}|2.0.0")) == ["required"]
    assert validate(small_app, small_response(small_app, "1.10.0", f"{URL}|3.0.0")) == ["not-found"]


def test_requests_do_not_write_to_app_extensions(small_app: Flask) -> None:
    before = dict(small_app.extensions)
    client = small_app.test_client()
    for url in ("/", "/healthz", "/fhir/metadata", "/fhir/Questionnaire", "/fhir/Questionnaire/small-2.0.0"):
        assert client.get(url).status_code == 200, url
    assert validate(small_app, small_response(small_app, "1.10.0", URL)) == []
    assert small_app.extensions.keys() == before.keys()
    assert all(small_app.extensions[key] is value for key, value in before.items())
