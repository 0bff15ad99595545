"""Careloop's own signing keys for SMART Backend Services, and the JWKS the EHRs register.

The private keys live in one JSON file outside the database (``CARELOOP_SMART_KEYS_PATH``, by default
``instance/smart-keys.json``, mode 600; in production a mounted secret). Each key has a state:

- ``next``: published in the JWKS, not yet signing. A new key starts here when a key of its algorithm is
  already signing, so EHRs can fetch it before it is used.
- ``active``: published and signing client assertions for its algorithm (one per algorithm).
- ``previous``: published, no longer signing (an EHR may still hold tokens from assertions it signed).

Rotation: ``flask keys add --alg RS384`` (published as ``next``), wait until each EHR has refetched the JWKS,
``flask keys activate KID`` (the old key becomes ``previous``), later ``flask keys retire OLD_KID``
(removed from the file and the JWKS). Old and new are both published throughout the change.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc.jwk import ECKey, RSAKey

from service.errors import Conflict, InvalidInput, NotFound

ALGORITHMS = ("RS384", "ES384")
STATES = ("next", "active", "previous")
#: A key file larger than this is not a key file.
MAX_KEY_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class StoredKey:
    kid: str
    alg: str
    state: str
    created: str
    key: RSAKey | ECKey

    def public(self) -> dict[str, Any]:
        return dict(self.key.as_dict(private=False))


class KeyStore:
    """The key file: read on each use (small), written atomically with owner-only permissions."""

    def __init__(self, path: Path) -> None:
        self.path = path
        #: The keys as last read, with the file's (inode, mtime, size) then: the worker asks for its signing
        #: key for every write, and parsing private keys each time would be wasted work. A rotation replaces
        #: the file, so the next ask reads it again.
        self._read: tuple[tuple[int, int, int], list[StoredKey]] | None = None

    def entries(self) -> list[StoredKey]:
        try:
            status = self.path.stat()
        except FileNotFoundError:
            return []
        if status.st_size > MAX_KEY_FILE_BYTES:
            raise InvalidInput(f"{self.path} is larger than {MAX_KEY_FILE_BYTES} bytes: not a key file")
        stamp = (status.st_ino, status.st_mtime_ns, status.st_size)
        if self._read is None or self._read[0] != stamp:
            document = json.loads(self.path.read_text(encoding="utf-8"))
            self._read = (stamp, [_stored(entry) for entry in document.get("keys", [])])
        return list(self._read[1])

    def public_jwks(self) -> dict[str, Any]:
        """What EHRs fetch: every published key's public half, with ``kid``, ``alg`` and ``use``."""
        return {"keys": [stored.public() for stored in self.entries()]}

    def signing_key(self, alg: str) -> StoredKey:
        for stored in self.entries():
            if stored.alg == alg and stored.state == "active":
                return stored
        raise NotFound(f"no active {alg} signing key: run `flask keys add --alg {alg}`")

    def add(self, alg: str, now: dt.datetime) -> StoredKey:
        if alg not in ALGORITHMS:
            raise InvalidInput(f"SMART Backend Services keys are {' or '.join(ALGORITHMS)}, not {alg!r}")
        # A readable kid that never starts with "-" (a thumbprint may, and would read as an option on the
        # command line): algorithm, day, and random hex.
        kid = f"{alg.lower()}-{now:%Y%m%d}-{secrets.token_hex(6)}"
        parameters = {"alg": alg, "use": "sig", "kid": kid}
        key: RSAKey | ECKey = (
            RSAKey.generate_key(3072, parameters=parameters)  # type: ignore[arg-type]
            if alg == "RS384"
            else ECKey.generate_key("P-384", parameters=parameters)  # type: ignore[arg-type]
        )
        keys = self.entries()
        state = "next" if any(k.alg == alg and k.state == "active" for k in keys) else "active"
        stored = StoredKey(str(key.kid), alg, state, now.isoformat(timespec="seconds"), key)
        self._write([*keys, stored])
        return stored

    def activate(self, kid: str) -> StoredKey:
        keys = self.entries()
        chosen = _find(keys, kid)
        updated = []
        for stored in keys:
            if stored.kid == kid:
                stored = _with_state(stored, "active")
            elif stored.alg == chosen.alg and stored.state == "active":
                stored = _with_state(stored, "previous")
            updated.append(stored)
        self._write(updated)
        return _find(updated, kid)

    def retire(self, kid: str) -> StoredKey:
        keys = self.entries()
        chosen = _find(keys, kid)
        if chosen.state == "active":
            raise Conflict(f"key {kid} is signing: activate another {chosen.alg} key before retiring it")
        self._write([stored for stored in keys if stored.kid != kid])
        return chosen

    def _write(self, keys: list[StoredKey]) -> None:
        document = {
            "keys": [
                {
                    "kid": k.kid,
                    "alg": k.alg,
                    "state": k.state,
                    "created": k.created,
                    "jwk": k.key.as_dict(private=True),
                }
                for k in keys
            ]
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=".smart-keys-", dir=self.path.parent)
        try:
            os.fchmod(handle, 0o600)
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump(document, file, indent=2)
                file.flush()
                os.fsync(file.fileno())
            os.replace(name, self.path)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise


def _stored(entry: dict[str, Any]) -> StoredKey:
    alg, state = entry.get("alg"), entry.get("state")
    if alg not in ALGORITHMS or state not in STATES:
        raise InvalidInput(f"key {entry.get('kid')!r}: unknown algorithm or state in the key file")
    jwk = entry["jwk"]
    key: RSAKey | ECKey = RSAKey.import_key(jwk) if alg == "RS384" else ECKey.import_key(jwk)
    return StoredKey(str(entry["kid"]), alg, state, str(entry.get("created", "")), key)


def _find(keys: list[StoredKey], kid: str) -> StoredKey:
    for stored in keys:
        if stored.kid == kid:
            return stored
    raise NotFound(f"no key {kid!r} in the key file")


def _with_state(stored: StoredKey, state: str) -> StoredKey:
    return StoredKey(stored.kid, stored.alg, state, stored.created, stored.key)
