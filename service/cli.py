"""``flask`` sub-commands: ``bundles validate``, ``demo load``, ``demo logins``."""

from __future__ import annotations

from flask import Flask


def register_cli(app: Flask) -> None:
    """Attach the command groups to the app."""
