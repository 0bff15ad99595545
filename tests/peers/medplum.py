"""The Medplum FHIR peer (``tests/peers/medplum/server.mjs``) as a child process, with its admin endpoints.

The peer is Medplum's FHIR router (npm, pinned in package.json) over an in-memory store, with a SMART Backend
Services token endpoint: a third-party FHIR R4 server for the delivery worker's integration tests, the demo
and the benchmark. Its standard error goes to a temporary file (a pipe nobody reads would fill up and stall
Node); the file's tail is quoted when the peer fails to start.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import requests

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SERVER = Path(__file__).resolve().with_name("medplum") / "server.mjs"
ROUTER_PACKAGE = PROJECT_ROOT / "node_modules" / "@medplum" / "fhir-router"
STARTUP_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
#: Every admin or helper call to the peer; the peer answers on the loopback in milliseconds.
REQUEST_TIMEOUT_S = 10.0


class PeerUnavailable(RuntimeError):
    """Node or the npm packages the peer is built from are missing: nothing to start."""


def peer_missing() -> str | None:
    """Why the peer cannot run here, or None."""
    if shutil.which("node") is None:
        return "node is not on PATH (Node.js 20+ is needed)"
    if not ROUTER_PACKAGE.is_dir():
        return f"{ROUTER_PACKAGE.relative_to(PROJECT_ROOT)} is missing (run npm ci)"
    return None


class MedplumPeer:
    """One running peer. ``MedplumPeer.start()`` returns it listening; use it as a context manager or
    call ``stop()``."""

    def __init__(self, process: subprocess.Popen[bytes], log: IO[bytes], endpoints: dict[str, str]) -> None:
        self.process = process
        self._log = log
        self.base: str = endpoints["base"]
        self.token_url: str = endpoints["token_url"]
        self.admin: str = endpoints["admin"]
        self._http = requests.Session()

    @classmethod
    def start(
        cls,
        *,
        clients: dict[str, str] | None = None,
        static_token: str | None = None,
        require_auth: bool = False,
        token_lifetime: float | None = None,
        timeout: float = STARTUP_TIMEOUT_S,
    ) -> MedplumPeer:
        """Start a peer on a free loopback port. ``clients`` maps client ids to their JWKS URLs."""
        missing = peer_missing()
        if missing is not None:
            raise PeerUnavailable(missing)
        command = ["node", str(SERVER), "--host", "127.0.0.1", "--port", "0"]
        for client_id, jwks_uri in (clients or {}).items():
            command += ["--client", f"{client_id}={jwks_uri}"]
        if static_token is not None:
            command += ["--static-token", static_token]
        if require_auth:
            command.append("--require-auth")
        if token_lifetime is not None:
            command += ["--token-lifetime", str(token_lifetime)]
        log = tempfile.TemporaryFile(prefix="medplum-peer-", suffix=".log")  # noqa: SIM115 - the peer's, closed by stop()
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log
        )
        try:
            endpoints = json.loads(_first_line(process, timeout))
        except BaseException as error:
            _end(process)
            log.seek(0)
            detail = log.read()[-4000:].decode("utf-8", "replace")
            log.close()
            raise RuntimeError(f"the Medplum peer did not start: {error}\n{detail}") from error
        return cls(process, log, endpoints)

    def stop(self) -> None:
        self._http.close()
        _end(self.process)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log.close()

    def __enter__(self) -> MedplumPeer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def log(self) -> str:
        """What the peer wrote to standard error so far (unexpected errors; requests only with --log)."""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    # -- admin endpoints -------------------------------------------------------------------------------

    def _admin(self, method: str, name: str, body: Any = None) -> Any:
        response = self._http.request(method, f"{self.admin}/{name}", json=body, timeout=REQUEST_TIMEOUT_S)
        response.raise_for_status()
        return response.json()

    def register_client(
        self, client_id: str, jwks_uri: str | None = None, jwks: dict[str, Any] | None = None
    ) -> None:
        """Register a SMART client by the URL of its JWKS or by the JWKS itself (exactly one)."""
        body: dict[str, Any] = {"client_id": client_id}
        if jwks_uri is not None:
            body["jwks_uri"] = jwks_uri
        if jwks is not None:
            body["jwks"] = jwks
        self._admin("POST", "clients", body)

    def expire_tokens(self) -> int:
        """Make every issued access token stop working now; returns how many there were."""
        expired: int = self._admin("POST", "expire-tokens")["expired"]
        return expired

    def stats(self) -> dict[str, Any]:
        """``{"resources": {type: n}, "token_requests": n, "tokens_issued": n,
        "fhir_requests": {method: n}}``."""
        stats: dict[str, Any] = self._admin("GET", "stats")
        return stats

    def reset(self) -> None:
        """Empty the store, its identifier index and the counters; registered clients and tokens stay."""
        self._admin("POST", "reset")

    # -- FHIR helpers ----------------------------------------------------------------------------------

    def search_by_identifier(
        self,
        system: str,
        value: str,
        token: str | None = None,
        resource_type: str = "QuestionnaireResponse",
    ) -> list[dict[str, Any]]:
        """The resources whose identifier is ``system|value``."""
        headers = {"Accept": "application/fhir+json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        response = self._http.get(
            f"{self.base}/{resource_type}",
            params={"identifier": identifier_token(system, value)},
            headers=headers,
            timeout=REQUEST_TIMEOUT_S,
        )
        response.raise_for_status()
        return [entry["resource"] for entry in response.json().get("entry", [])]


def identifier_token(system: str, value: str) -> str:
    """``system|value`` as a FHIR token search value (``\\``, ``|``, ``,`` and ``$`` escaped)."""

    def escape(part: str) -> str:
        for char in "\\|,$":
            part = part.replace(char, "\\" + char)
        return part

    return f"{escape(system)}|{escape(value)}"


def _first_line(process: subprocess.Popen[bytes], timeout: float) -> str:
    """The first line of the child's standard output, waiting at most ``timeout`` seconds."""
    assert process.stdout is not None
    descriptor = process.stdout.fileno()
    deadline = time.monotonic() + timeout
    read = b""
    while b"\n" not in read:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no endpoints line within {timeout:.0f} s")
        ready, _, _ = select.select([descriptor], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(descriptor, 4096)
        if not chunk:
            raise RuntimeError(f"node exited with {process.wait(timeout=STOP_TIMEOUT_S)}")
        read += chunk
    return read.split(b"\n", 1)[0].decode("utf-8")


def _end(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)
