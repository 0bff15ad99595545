"""The care bundles this service runs: every ``bundles/*.yaml`` file, loaded and compiled once at start-up."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from flask import Flask, current_app

from fhir_adapters.questionnaire import canonical_url, questionnaire_id, served_questionnaire
from fhir_adapters.sdc import CompiledQuestionnaire
from schemas.care_bundle import CareBundle, InvalidCareBundle, Problem, load_care_bundle
from service.checklists.compiled import CompiledCareBundle, compile_care_bundle

_CATALOGUE = "care_bundle_catalogue"
_REGISTRY = "care_bundles"


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@dataclass(frozen=True)
class CareBundleRegistry:
    """Immutable set of care bundles keyed by (id, version)."""

    care_bundles: tuple[CareBundle, ...]

    @classmethod
    def from_directory(cls, directory: str | Path) -> CareBundleRegistry:
        """Load every ``*.yaml`` file; raise :class:`InvalidCareBundle` naming each bad file and path."""
        directory = Path(directory)
        if not directory.is_dir():
            raise InvalidCareBundle([Problem(str(directory), "", "the care bundle folder does not exist")])
        loaded: list[CareBundle] = []
        problems: list[Problem] = []
        for path in sorted(directory.glob("*.yaml")):
            try:
                loaded.append(load_care_bundle(path))
            except InvalidCareBundle as error:
                problems.extend(error.problems)
        seen: dict[tuple[str, str], CareBundle] = {}
        for care_bundle in loaded:
            key = (care_bundle.id, care_bundle.version)
            if key in seen:
                problems.append(
                    Problem(
                        str(care_bundle.path),
                        "version",
                        f"{care_bundle.id} {care_bundle.version} is also defined in {seen[key].path}",
                        "a published version is immutable: give the new one a new version",
                    )
                )
            seen[key] = care_bundle
        if problems:
            raise InvalidCareBundle(problems)
        return cls(tuple(sorted(loaded, key=lambda item: (item.id, _version_key(item.version)))))

    def __iter__(self) -> Iterator[CareBundle]:
        return iter(self.care_bundles)

    def __len__(self) -> int:
        return len(self.care_bundles)

    def get(self, care_bundle_id: str, version: str | None = None) -> CareBundle | None:
        """The named version, or the latest non-draft one (latest draft if that is all there is)."""
        matches = [item for item in self.care_bundles if item.id == care_bundle_id]
        if version is not None:
            return next((item for item in matches if item.version == version), None)
        published = [item for item in matches if item.status != "draft"] or matches
        return published[-1] if published else None


@dataclass(frozen=True)
class CatalogueEntry:
    """One care bundle version as served: its Questionnaire, compiled once and shared with ``evaluate()``."""

    care_bundle: CareBundle
    compiled_care_bundle: CompiledCareBundle
    resource_id: str
    url: str
    #: The Questionnaire as ``/fhir`` serves it, with ``meta`` (service.fhir_api.serving), and its ETag.
    served: Mapping[str, Any]
    etag: str

    @classmethod
    def of(cls, care_bundle: CareBundle) -> CatalogueEntry:
        # compile_care_bundle caches by identity: evaluate() on this very care bundle reuses this form.
        compiled = compile_care_bundle(care_bundle)
        served, etag = served_questionnaire(compiled.questionnaire, getattr(care_bundle, "path", None))
        return cls(
            care_bundle, compiled, questionnaire_id(care_bundle), canonical_url(care_bundle), served, etag
        )

    @property
    def version(self) -> str:
        return self.care_bundle.version

    @property
    def canonical(self) -> str:
        """``url|version``, as a QuestionnaireResponse names its Questionnaire."""
        return f"{self.url}|{self.version}"

    @property
    def questionnaire(self) -> Mapping[str, Any]:
        """The Questionnaire JSON; read-only by contract, since the compiled form was built from it."""
        return self.compiled_care_bundle.questionnaire

    @property
    def compiled_questionnaire(self) -> CompiledQuestionnaire:
        return self.compiled_care_bundle.compiled


@dataclass(frozen=True, eq=False)
class CareBundleCatalogue:
    """Every care bundle version, compiled, with the lookups the API needs; built once, never changed.

    Build it with :meth:`from_registry` or :meth:`from_directory`: the mappings are read-only views.
    ``latest`` maps a care bundle id to its latest version by :meth:`CareBundleRegistry.get`'s rule;
    ``by_canonical`` maps ``url|version`` to that version and a bare ``url`` to the latest one.
    """

    registry: CareBundleRegistry
    entries: tuple[CatalogueEntry, ...]
    by_resource_id: Mapping[str, CatalogueEntry]
    by_version: Mapping[tuple[str, str], CatalogueEntry]
    latest: Mapping[str, CatalogueEntry]
    by_canonical: Mapping[str, CatalogueEntry]

    @classmethod
    def from_registry(cls, registry: CareBundleRegistry) -> CareBundleCatalogue:
        entries = tuple(CatalogueEntry.of(care_bundle) for care_bundle in registry)
        by_version = {(entry.care_bundle.id, entry.version): entry for entry in entries}
        latest: dict[str, CatalogueEntry] = {}
        for care_bundle_id in dict.fromkeys(care_bundle.id for care_bundle in registry):
            chosen = registry.get(care_bundle_id)
            assert chosen is not None  # the registry holds at least one version of this id
            latest[care_bundle_id] = by_version[(care_bundle_id, chosen.version)]
        by_canonical = {entry.canonical: entry for entry in entries}
        by_canonical.update({entry.url: entry for entry in latest.values()})
        return cls(
            registry=registry,
            entries=entries,
            by_resource_id=MappingProxyType({entry.resource_id: entry for entry in entries}),
            by_version=MappingProxyType(by_version),
            latest=MappingProxyType(latest),
            by_canonical=MappingProxyType(by_canonical),
        )

    @classmethod
    def from_directory(cls, directory: str | Path) -> CareBundleCatalogue:
        """Load and compile every ``*.yaml`` file; raise :class:`InvalidCareBundle` as the registry does."""
        return cls.from_registry(CareBundleRegistry.from_directory(directory))

    def __iter__(self) -> Iterator[CatalogueEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, care_bundle_id: str, version: str | None = None) -> CatalogueEntry | None:
        """The named version, or the latest one by :meth:`CareBundleRegistry.get`'s rule."""
        if version is None:
            return self.latest.get(care_bundle_id)
        return self.by_version.get((care_bundle_id, version))


def init_care_bundles(app: Flask) -> CareBundleCatalogue:
    """Build the catalogue from ``BUNDLES_DIR``, once; raises :class:`InvalidCareBundle` if any is bad."""
    catalogue = CareBundleCatalogue.from_directory(app.config["BUNDLES_DIR"])
    app.extensions[_CATALOGUE] = catalogue
    app.extensions[_REGISTRY] = catalogue.registry  # for callers that only need the care bundles
    return catalogue


def current_catalogue() -> CareBundleCatalogue:
    """The catalogue :func:`init_care_bundles` built for the current app."""
    catalogue: CareBundleCatalogue = current_app.extensions[_CATALOGUE]
    return catalogue
