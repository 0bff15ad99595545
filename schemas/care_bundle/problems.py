"""What is wrong with a care bundle file: each problem names the file, a YAML path and a hint."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Problem:
    file: str
    path: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{where}: {self.message}" + (f" (hint: {self.hint})" if self.hint else "")


def format_hint(path: str) -> str:
    """Where in bundles/FORMAT.md the field at ``path`` is explained (for problems without a closer hint)."""
    names = set(re.findall(r"[a-z_]+", path))
    for keys, section in _FORMAT_SECTIONS:
        if names & keys:
            return f"see bundles/FORMAT.md#{section}"
    return "see bundles/FORMAT.md#top-level-fields"


_FORMAT_SECTIONS: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"line"}), "yaml-caveats"),
    (frozenset({"timing"}), "timing-rules"),
    (frozenset({"calculated"}), "calculated-values"),
    (frozenset({"composites"}), "composites"),
    (frozenset({"population"}), "population"),
    (frozenset({"checks"}), "checks"),
    (frozenset({"follow_up"}), "follow-up-measures"),
    (frozenset({"enable_when", "enable_behavior", "exception_when", "applies_when"}), "conditions"),
    (frozenset({"compliance"}), "compliance"),
    (frozenset({"options"}), "options"),
    (frozenset({"code"}), "code-a-coding"),
    (frozenset({"sources"}), "sources"),
    (frozenset({"anchor"}), "anchor"),
    (frozenset({"type"}), "types"),
    (frozenset({"elements", "items"}), "elements"),
    (frozenset({"version"}), "versions"),
)


class InvalidCareBundle(ValueError):
    """A care bundle file that cannot be used; ``problems`` lists every reason, each with a hint."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(
            problem if problem.hint else replace(problem, hint=format_hint(problem.path))
            for problem in problems
        )
        super().__init__("\n".join(str(problem) for problem in self.problems))


SHAPE_HINTS = {
    "Unknown field.": "misspelt key? FORMAT.md lists every field",
    "Missing data for required field.": "add it; FORMAT.md says what it holds",
}


def flatten(messages: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """marshmallow's nested error messages as (YAML path, message) pairs."""
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            if key == "_schema":
                yield from flatten(value, path)
            elif isinstance(key, int):
                yield from flatten(value, f"{path}[{key}]")
            else:
                yield from flatten(value, f"{path}.{key}" if path else str(key))
    elif isinstance(messages, list | tuple):
        for message in messages:
            yield from flatten(message, path)
    else:
        yield path, str(messages)
