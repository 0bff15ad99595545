"""Starting a checklist: choose the care bundle, identify the patient, confirm, then start.

Two steps so the patient is confirmed before the checklist opens: the first post checks the fields and shows
the patient, the care bundle and any open checklist of the same care bundle for the same patient (a possible
duplicate); the second starts it with a checklist id made on the confirm page, so a repeated post (a double
tap, a replay) starts one checklist.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask import abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from fhir_adapters.identifiers import IDENTIFIER_KINDS
from fhir_adapters.vocabulary import CARELOOP_CANONICAL_BASE
from schemas.care_bundle import CareBundle
from service.care_bundles import current_catalogue
from service.checklists import start
from service.errors import CareloopError
from service.extensions import db
from service.models import Unit
from service.ward.answers_form import read_date_time
from service.ward.offline import done_reply, invalid_reply, wants_json
from service.ward.pages import actor, my_units, now, open_duplicates

#: [DESIGN] A local hospital number's identifier system, per site, until sites configure their own.
LOCAL_NUMBER_SYSTEM = CARELOOP_CANONICAL_BASE + "/Id/{site}/hospital-number"


@dataclass(frozen=True)
class Choice:
    """A care bundle on a unit, as one option of the start form (``value`` is ``unit_id:care_bundle_id``)."""

    unit: Unit
    care_bundle: CareBundle

    @property
    def value(self) -> str:
        return f"{self.unit.id}:{self.care_bundle.id}"

    @property
    def label(self) -> str:
        return f"{self.care_bundle.title}, {self.unit.name}"


def choices() -> list[Choice]:
    catalogue = current_catalogue()
    found = []
    for unit in my_units():
        for care_bundle_id in unit.care_bundle_ids:
            entry = catalogue.get(care_bundle_id, unit.offered_version(care_bundle_id))
            if entry is not None:
                found.append(Choice(unit, entry.care_bundle))
    return found


def start_page() -> ResponseReturnValue:
    options = choices()
    local = now().astimezone(ZoneInfo("Europe/London"))
    values = {
        "anchor-day": str(local.day),
        "anchor-month": str(local.month),
        "anchor-year": str(local.year),
        "anchor-time": local.strftime("%H:%M"),
        "patient_kind": "nhs-number",
    }
    if len(options) == 1:
        values["choice"] = options[0].value
    return render_template("ward/start.html", choices=options, values=values, errors={})


def start_submit() -> ResponseReturnValue:
    """Check the start form, then confirm; or start (``action=start``). The tablet's replay queue sends the
    start of a checklist begun with no network straight to ``action=start``, asking for JSON."""
    form = request.form
    as_json = wants_json()
    if as_json and form.get("action") != "start":
        abort(400)
    options = {choice.value: choice for choice in choices()}
    values = {key: form.get(key, "").strip() for key in form if key != "csrf_token"}
    errors: dict[str, str] = {}
    choice = options.get(values.get("choice", ""))
    if choice is None:
        errors["choice"] = "Select a care bundle"
    kind = IDENTIFIER_KINDS.get(values.get("patient_kind", ""))
    if kind is None or (choice is not None and kind.code not in choice.care_bundle.patient_identifiers):
        errors["patient_kind"] = (
            "Select how the patient is identified"
            if kind is None
            else (
                f"{choice.care_bundle.title if choice else 'This care bundle'} does not take a {kind.label}"
            )
        )
    elif (problem := kind.problem(values.get("patient_value", ""))) is not None:
        errors["patient_value"] = problem[:1].upper() + problem[1:]
    encounter = values.get("encounter") or None
    if encounter is not None and len(encounter) > 200:
        errors["encounter"] = "Enter an encounter reference of 200 characters or fewer"
    zone = ZoneInfo(choice.care_bundle.timezone if choice else "Europe/London")
    try:
        anchor = read_date_time(form, "anchor", zone)
        if anchor is None:
            raise ValueError("Enter the date and time")
    except ValueError as error:
        errors["anchor"] = str(error)
        anchor = None
    if errors or choice is None or kind is None or anchor is None:
        if as_json:
            return invalid_reply(errors)
        return render_template(
            "ward/start.html", choices=list(options.values()), values=values, errors=errors
        ), 400
    system = kind.system or LOCAL_NUMBER_SYSTEM.format(site=choice.unit.site.code)
    value = values["patient_value"].replace(" ", "") if kind.check_digit else values["patient_value"]
    if form.get("action") != "start":
        duplicates = open_duplicates(
            frozenset(unit.id for unit in my_units()), choice.care_bundle.id, system, value
        )
        return render_template(
            "ward/confirm.html",
            choice=choice,
            kind=kind,
            value=value,
            values=values,
            anchor=anchor.astimezone(zone),
            encounter=encounter,
            duplicates=duplicates,
            checklist_id=uuid.uuid4(),
        )
    try:
        checklist_id = uuid.UUID(form.get("checklist_id", ""))
    except ValueError:
        abort(400)
    try:
        checklist = start(
            db.session,
            current_catalogue(),
            actor(),
            checklist_id=checklist_id,
            care_bundle_id=choice.care_bundle.id,
            version=choice.care_bundle.version,
            unit=choice.unit,
            patient_kind=kind.code,
            patient_value=value,
            patient_system=None if kind.system else system,
            encounter=encounter,
            anchor_time=anchor,
            now=now(),
        )
    except CareloopError as error:
        db.session.rollback()
        errors = {getattr(issue, "field", None) or "_form": issue.diagnostics for issue in error.issues}
        if as_json:
            return invalid_reply(errors, error.status)
        return render_template(
            "ward/start.html", choices=list(options.values()), values=values, errors=errors
        ), error.status
    db.session.commit()
    if as_json:
        return done_reply(checklist, "start")
    return redirect(url_for("ward.checklist", raw_id=str(checklist.id)), 303)
