"""The code systems Careloop defines, as FHIR ``CodeSystem`` resources: one per care bundle
(``{base}/CodeSystem/<care bundle id>``), holding the answer options that have no system of their own.

Codes are never reused with another meaning across versions of a care bundle (published versions are
immutable), so one code system serves every version: its concepts are the union, each with the display
of the latest version that has it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fhir_adapters.vocabulary import CARELOOP_CANONICAL_BASE
from schemas.care_bundle import CareBundle


def code_system_url(care_bundle_id: str) -> str:
    return f"{CARELOOP_CANONICAL_BASE}/CodeSystem/{care_bundle_id}"


def code_system(versions: Sequence[CareBundle]) -> dict[str, Any] | None:
    """The CodeSystem of one care bundle's ``versions`` (oldest first); None when no option needs it."""
    if not versions:
        return None
    latest = versions[-1]
    concepts: dict[str, str] = {}
    for care_bundle in versions:
        for element in care_bundle.walk():
            for option in element.options or ():
                if option.system is None:
                    concepts[option.code] = option.display
    if not concepts:
        return None
    name = "".join(part.capitalize() for part in latest.id.replace("_", "-").split("-")) + "Codes"
    return {
        "resourceType": "CodeSystem",
        "id": latest.id,
        "url": code_system_url(latest.id),
        "name": name[:1].upper() + name[1:],
        "title": f"{latest.title}: answer codes",
        "status": "active",
        "publisher": "Careloop",
        "description": (
            f"Careloop's own codes for the answer options of the {latest.title} care bundle that carry no "
            "code of another code system (every version of the care bundle)."
        ),
        "caseSensitive": True,
        "content": "complete",
        "count": len(concepts),
        "concept": [{"code": code, "display": display} for code, display in concepts.items()],
    }
