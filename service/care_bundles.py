"""The care bundles this service runs: every ``bundles/*.yaml`` file, loaded once at start-up."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from schemas.care_bundle import CareBundle, InvalidCareBundle, Problem, load_care_bundle


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
