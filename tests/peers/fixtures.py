"""Pytest fixtures for the FHIR peer (a plugin: ``pytest_plugins = ["tests.peers.fixtures"]``).

Without Node or the npm packages the peer tests skip locally and fail in CI (``CI`` set), where a skipped
integration test counts as a missing one: the policy of ``tests/browser/conftest.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.peers.medplum import MedplumPeer, PeerUnavailable


def start_peer(**options: Any) -> MedplumPeer:
    """``MedplumPeer.start(**options)``, or the skip (locally) or failure (CI) that says what is missing."""
    try:
        return MedplumPeer.start(**options)
    except PeerUnavailable as missing:
        if os.environ.get("CI"):
            pytest.fail(f"the FHIR peer cannot run in CI: {missing}", pytrace=False)
        pytest.skip(f"FHIR peer tests skipped: {missing}")


@pytest.fixture(scope="session")
def fhir_peer() -> Iterator[MedplumPeer]:
    """One open peer (no auth) for the session; tests take ``clean_fhir_peer`` for an empty store."""
    peer = start_peer()
    try:
        yield peer
    finally:
        peer.stop()


@pytest.fixture
def clean_fhir_peer(fhir_peer: MedplumPeer) -> MedplumPeer:
    fhir_peer.reset()
    return fhir_peer


@pytest.fixture(scope="session")
def smart_fhir_peer() -> Iterator[MedplumPeer]:
    """One peer for the session that wants a bearer token on every FHIR request but /metadata; each test
    registers its own clients with ``register_client``."""
    peer = start_peer(require_auth=True)
    try:
        yield peer
    finally:
        peer.stop()


@pytest.fixture
def clean_smart_fhir_peer(smart_fhir_peer: MedplumPeer) -> MedplumPeer:
    smart_fhir_peer.reset()
    return smart_fhir_peer
