"""Fixtures of the ward tests: a fixed ward clock, a unit offering OASI and FREED, and a midwife of it,
signed in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from service.models import Role, Unit, User
from tests.factories import make_unit_offering

NOW = dt.datetime(2026, 3, 29, 10, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def fixed_clock(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "WARD_NOW", NOW)


@pytest.fixture
def unit(session: Session) -> Unit:
    return make_unit_offering(session, "oasi-care-bundle", "freed-triage")


@pytest.fixture
def midwife(
    session: Session, unit: Unit, make_user: Callable[..., User], sign_in: Callable[..., Any]
) -> User:
    user = make_user("midwife", role=Role.CLINICIAN, units=[unit])
    assert sign_in("midwife").status_code == 303
    return user
