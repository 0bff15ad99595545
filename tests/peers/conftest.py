"""Loads the peer fixtures for these tests when tests/conftest.py does not already list them as a plugin."""

from __future__ import annotations

import pytest

PLUGIN = "tests.peers.fixtures"


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin(PLUGIN):
        config.pluginmanager.import_plugin(PLUGIN)
