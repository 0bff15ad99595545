"""Fixtures of the ``/fhir`` tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask

from fhir_adapters.questionnaire_response import to_questionnaire_response
from service.care_bundles import CareBundleRegistry


@pytest.fixture
def valid_response(app: Flask) -> dict[str, Any]:
    registry: CareBundleRegistry = app.extensions["care_bundles"]
    oasi = registry.get("oasi-care-bundle", "1.0.0")
    assert oasi is not None
    return to_questionnaire_response(
        oasi,
        {
            "birth-time": [dt.datetime(2026, 3, 29, 0, 30, tzinfo=dt.UTC)],
            "antenatal-discussion": ["yes"],
            "birth-mode": ["caesarean"],
        },
        checklist_id="4f7f0c52-1c65-4b61-b7a3-51a4b1f3c2d9",
        status="completed",
        authored=dt.datetime(2026, 3, 29, 2, 0, tzinfo=dt.UTC),
        nhs_number="9434765919",
    )
