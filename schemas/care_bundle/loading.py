"""Reading a care bundle file: YAML with the author's meaning kept, then shape, then meaning.

Booleans are only ``true``/``false`` (``yes`` is a code here, not a bool) and dates stay text until the
schema parses them, so the file means what it says.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from marshmallow import ValidationError

from schemas.care_bundle.meaning import check_meaning
from schemas.care_bundle.model import CareBundle
from schemas.care_bundle.problems import SHAPE_HINTS, InvalidCareBundle, Problem, flatten
from schemas.care_bundle.shape import CareBundleSchema

#: Larger files are refused before parsing: a care bundle is a few hundred lines.
MAX_FILE_BYTES = 1_000_000


class CareBundleLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans and no implicit timestamps."""


CareBundleLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
CareBundleLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def parse_care_bundle(data: Any, file: str = "<care bundle>") -> CareBundle:
    """Check shape then meaning; raise :class:`InvalidCareBundle` listing every problem."""
    try:
        care_bundle: CareBundle = CareBundleSchema().load(data)
    except ValidationError as error:
        raise InvalidCareBundle(
            [
                Problem(file, path, message, SHAPE_HINTS.get(message, ""))
                for path, message in flatten(error.messages)
            ]
        ) from error
    problems = list(check_meaning(care_bundle, file))
    if problems:
        raise InvalidCareBundle(problems)
    return replace(care_bundle, path=file, definition_json=_canonical_json(data))


def _canonical_json(data: Any) -> str:
    """The YAML as JSON (dates are text already: the loader never makes timestamps)."""

    def default(value: Any) -> Any:
        if isinstance(value, Decimal):
            return float(value)
        raise TypeError(f"{type(value).__name__} is not JSON")

    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=default)


def load_care_bundle(path: str | Path) -> CareBundle:
    """Read and check one care bundle file."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InvalidCareBundle([Problem(str(path), "", f"larger than {MAX_FILE_BYTES} bytes")])
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InvalidCareBundle(
            [Problem(str(path), "", f"cannot read the file: {error.strerror}")]
        ) from error
    try:
        data = yaml.load(text, Loader=CareBundleLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InvalidCareBundle(
            [Problem(str(path), where, f"not valid YAML: {getattr(error, 'problem', error)}")]
        ) from error
    return parse_care_bundle(data, str(path))
