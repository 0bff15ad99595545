"""Where a site's EHR secret lives: a reference stored in the database, resolved only when it is needed.

A reference is ``env:NAME`` (an environment variable of the worker) or ``file:/absolute/path`` (a file only
the service account can read, such as a mounted Kubernetes or Docker secret). The secret itself is never
stored, logged or shown; errors name the reference, never its value.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from service.errors import CareloopError

_ENV = re.compile(r"^env:([A-Za-z_][A-Za-z0-9_]{0,127})$")
_FILE = re.compile(r"^file:(/.{1,400})$")
#: A bearer token or key file larger than this is a mistake (a wrong path), not a secret.
MAX_SECRET_BYTES = 64 * 1024


class SecretUnavailable(CareloopError):
    """A reference that names nothing readable."""


def reference_problem(reference: str) -> str | None:
    """Why ``reference`` is not a secret reference, or None."""
    if _ENV.fullmatch(reference) or _FILE.fullmatch(reference):
        return None
    return "give env:NAME (an environment variable) or file:/absolute/path (a file holding the secret)"


def resolve(reference: str) -> str:
    """The secret a reference names, stripped of surrounding white space."""
    if match := _ENV.fullmatch(reference):
        value = os.environ.get(match[1])
        if not value:
            raise SecretUnavailable(f"the environment variable {match[1]} is not set")
        return value.strip()
    if match := _FILE.fullmatch(reference):
        path = Path(match[1])
        try:
            if path.stat().st_size > MAX_SECRET_BYTES:
                raise SecretUnavailable(f"{path} is larger than {MAX_SECRET_BYTES} bytes: not a secret")
            value = path.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise SecretUnavailable(f"cannot read {path}: {error.strerror}") from error
        if not value:
            raise SecretUnavailable(f"{path} is empty")
        return value
    raise SecretUnavailable(f"not a secret reference: {reference_problem(reference)}")
