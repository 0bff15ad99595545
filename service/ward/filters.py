"""Template filters of the ward pages: identifiers, local times, statuses and error summaries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint

from fhir_adapters.vocabulary import CHI_NUMBER_SYSTEM, NHS_NUMBER_SYSTEM
from service.ward.checklist_view import duration, local_time

_STATUS = {
    "in-progress": ("In progress", "blue"),
    "completed": ("Completed", "green"),
    "amended": ("Amended", "green"),
    "entered-in-error": ("Entered in error", "red"),
}


def identifier(value: str, system: str) -> str:
    """``NHS number 943 476 5919``; ``CHI number ...``; ``Hospital number X``."""
    if system in (NHS_NUMBER_SYSTEM, CHI_NUMBER_SYSTEM) and len(value) == 10:
        label = "NHS number" if system == NHS_NUMBER_SYSTEM else "CHI number"
        return f"{label} {value[:3]} {value[3:6]} {value[6:]}"
    return f"Hospital number {value}"


def local_datetime(moment: dt.datetime | None, zone: str = "Europe/London") -> str:
    if moment is None:
        return ""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local.day} {local.strftime('%B %Y at %H:%M')}"


#: A checklist's newest delivery row as the ward sees it: words and tag colour.
_DELIVERY = {
    "pending": ("Queued for the EHR", "blue"),
    "in-flight": ("Sending to the EHR", "blue"),
    "delivered": ("Sent to the EHR", "green"),
    "superseded": ("Sent to the EHR", "green"),
    "dead": ("Not sent to the EHR", "red"),
}


def delivery_text(status: str) -> str:
    return _DELIVERY.get(status, (status, "grey"))[0]


def delivery_colour(status: str) -> str:
    return _DELIVERY.get(status, (status, "grey"))[1]


def status_text(status: str) -> str:
    return _STATUS.get(status, (status, "grey"))[0]


def status_colour(status: str) -> str:
    return _STATUS.get(status, (status, "grey"))[1]


def error_list(errors: Mapping[str, str]) -> list[dict[str, Any]]:
    """The NHS.UK error summary's list: each error links to its field (the element's wrapper)."""
    found = []
    for key, message in errors.items():
        if key.startswith(("e-", "g-")):
            found.append({"text": message, "href": f"#{key}-wrapper"})
        elif key.startswith("_") and key != "_form" and key.lstrip("_") in ("reason",):
            found.append({"text": message, "href": f"#{key.lstrip('_')}"})
        else:
            found.append({"text": message, "href": "#maincontent"})
    return found


_OUTCOME = {
    "met": ("Met", "green"),
    "not-met": ("Not met", "red"),
    "not-applicable": ("Not applicable", "grey"),
    "missing": ("No answer", "orange"),
}
_START_FIELDS = {
    "choice": "choice",
    "patient_kind": "patient_kind",
    "patient_value": "patient_value",
    "patient_system": "patient_value",
    "encounter": "encounter",
    "anchor": "anchor-wrapper",
    "anchor_time": "anchor-wrapper",
    "care_bundle_id": "choice",
}


def outcome_text(outcome: str) -> str:
    return _OUTCOME.get(outcome, (outcome, "grey"))[0]


def outcome_colour(outcome: str) -> str:
    return _OUTCOME.get(outcome, (outcome, "grey"))[1]


def choice_item(choice: Any, selected: str | None) -> dict[str, Any]:
    return {"value": choice.value, "text": choice.label, "checked": choice.value == selected}


def start_error_list(errors: Mapping[str, str]) -> list[dict[str, Any]]:
    return [
        {"text": message, "href": f"#{_START_FIELDS.get(key, 'maincontent')}"}
        for key, message in errors.items()
    ]


def summary_rows(rows: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [{"key": {"text": key}, "value": {"text": value}} for key, value in rows]


def short_time(moment: dt.datetime, now: dt.datetime, zone: str = "Europe/London") -> str:
    return local_time(moment, now, ZoneInfo(zone))


def register(bp: Blueprint) -> None:
    for name, function in (
        ("duration", duration),
        ("outcome_text", outcome_text),
        ("outcome_colour", outcome_colour),
        ("choice_item", choice_item),
        ("start_error_list", start_error_list),
        ("summary_rows", summary_rows),
        ("short_time", short_time),
        ("identifier", identifier),
        ("local_datetime", local_datetime),
        ("status_text", status_text),
        ("status_colour", status_colour),
        ("delivery_text", delivery_text),
        ("delivery_colour", delivery_colour),
        ("error_list", error_list),
    ):
        bp.add_app_template_filter(function, name)
