"""Answer templates of ``flask demo generate``: a few ways each care bundle is filled in, judged once.

Each template is settled and judged by the lifecycle's own functions (``settle``, which calls ``evaluate``;
the SDC validator and the blocking checks through ``refusals``) and turned into the rows
``record_evaluation`` would store (``Judgement.of_evaluation``). A template that the lifecycle would refuse
is a bug here and raises at once. The generator then copies the rows to every checklist of the template,
moving the due times with the checklist's anchor (``Row.due_offset``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from service.care_bundles import CareBundleCatalogue
from service.checklists.lifecycle_records import questionnaire_response, refusals, settle
from service.checklists.store import Judgement
from service.models import ChecklistStatus

OASI: Final = "oasi-care-bundle"
HIP_FRACTURE: Final = "hip-fracture-pathway"
#: Where the templates are judged; the generator moves every time by the checklist's own anchor.
TEMPLATE_ANCHOR: Final = dt.datetime(2025, 1, 15, 10, 0, tzinfo=dt.UTC)


def _oasi(anchor: dt.datetime, **changes: Any) -> dict[str, list[Any]]:
    found: dict[str, Any] = {
        "birth-time": anchor,
        "birth-mode": "spontaneous-vaginal",
        "antenatal-discussion": "yes",
        "mpp": "yes",
        "episiotomy-indication": "not-indicated",
        "episiotomy-performed": "no",
        "perineal-examination": "yes",
        "perineal-trauma": ["second-degree"],
    }
    found.update({key.replace("_", "-"): value for key, value in changes.items()})
    return {key: value if isinstance(value, list) else [value] for key, value in found.items()}


def _hip(anchor: dt.datetime, **changes: Any) -> dict[str, list[Any]]:
    """A displaced intracapsular fracture operated on within 36 hours, every practice done."""
    found: dict[str, Any] = {
        "arrival-time": anchor,
        "fracture-type": "displaced-intracapsular",
        "operated": "yes",
        "joint-care": "yes",
        "assessment-protocol": "yes",
        "fascia-iliaca-block": "yes",
        "fascia-iliaca-block-time": anchor + dt.timedelta(hours=1),
        "geriatrician-assessment": "done",
        "geriatrician-assessment-time": anchor + dt.timedelta(hours=20),
        "geriatrician-grade": "consultant",
        "orthogeriatric-assessment-pre-op": "yes",
        "amt-pre-op": "done",
        "amt-pre-op-score": 8,
        "planned-trauma-list": "yes",
        "anaesthesia-start": anchor + dt.timedelta(hours=30),
        "thr-eligible": "yes",
        "implant-displaced-intracapsular": "total-hip-replacement",
        "surgical-care-bundle": "yes",
        "amt-post-op": "done",
        "amt-post-op-score": 9,
        "delirium-screen-4at": 1,
        "post-op-mdt-rehabilitation": "yes",
        "mobilised-out-of-bed": "yes",
        "mobilised-date": (anchor + dt.timedelta(days=1)).date(),
        "daily-rehabilitation": "yes",
        "falls-assessment": "yes",
        "bone-health-assessment": "yes",
        "nutritional-support": "yes",
    }
    found.update({key.replace("_", "-"): value for key, value in changes.items()})
    return {key: [value] for key, value in found.items()}


Answers = Callable[[dt.datetime], dict[str, list[Any]]]


@dataclass(frozen=True)
class Spec:
    """A template to judge: its answers at an anchor, and hours from the anchor to its completion."""

    name: str
    answers: Answers
    completed_after_hours: float


#: The templates of each care bundle: (compliant ones, not compliant ones, outside the measure).
SPECS: Final[Mapping[str, tuple[tuple[Spec, ...], tuple[Spec, ...], tuple[Spec, ...]]]] = {
    OASI: (
        (
            Spec("all four", lambda a: _oasi(a), 6),
            Spec("all four, intact", lambda a: _oasi(a, perineal_trauma=["intact"]), 5),
            Spec("assisted, episiotomy at 60", lambda a: _assisted(a), 8),
            Spec("declined mpp", lambda a: _oasi(a, mpp="declined"), 6),
        ),
        (
            Spec("no mpp", lambda a: _oasi(a, mpp="no", mpp_not_used_reason="other"), 6),
            Spec(
                "no mpp, position",
                lambda a: _oasi(a, mpp="no", mpp_not_used_reason="position-or-water-birth"),
                6,
            ),
            Spec("no antenatal record", lambda a: _oasi(a, antenatal_discussion="not-documented"), 7),
            Spec("no examination", lambda a: _oasi(a, perineal_examination="no", perineal_trauma=None), 6),
        ),
        (Spec("caesarean", lambda a: _oasi(a, birth_mode="caesarean"), 10),),
    ),
    HIP_FRACTURE: (
        (Spec("pathway met", lambda a: _hip(a), 120),),
        (
            Spec("no falls assessment", lambda a: _hip(a, falls_assessment="no"), 120),
            Spec("surgery after 36 h", lambda a: _hip(a, anaesthesia_start=a + dt.timedelta(hours=44)), 120),
            Spec(
                "no bone health",
                lambda a: _hip(a, bone_health_assessment="no", nutritional_support="no"),
                120,
            ),
        ),
        (),
    ),
}


def _assisted(anchor: dt.datetime) -> dict[str, list[Any]]:
    return _oasi(
        anchor,
        birth_mode="assisted-vaginal",
        episiotomy_indication="operative-vaginal-birth",
        episiotomy_performed="yes",
        episiotomy_mediolateral_60="yes",
    )


@dataclass(frozen=True)
class Template:
    """The stored judgement of one template: column values of its outcome rows, due times as offsets."""

    name: str
    care_bundle_id: str
    version: str
    status: str
    compliant: bool | None
    completed_after: dt.timedelta
    #: (element_id, outcome, reason, due offset, timing_status)
    elements: tuple[tuple[str, str, str | None, dt.timedelta | None, str | None], ...]
    #: (rule_id, element_id, outcome, reason, due offset, timing_status)
    rules: tuple[tuple[str, str, str, str | None, dt.timedelta | None, str | None], ...]
    composites: tuple[tuple[str, bool | None], ...]
    checks: tuple[tuple[str, str], ...]


def _offset(due: dt.datetime | None) -> dt.timedelta | None:
    return None if due is None else due - TEMPLATE_ANCHOR


def judge(catalogue: CareBundleCatalogue, care_bundle_id: str, spec: Spec, status: str) -> Template:
    """Settle and judge ``spec`` as the lifecycle would store it in ``status``; ValueError if the
    lifecycle would refuse it (a completed template must pass the SDC validator and blocking checks)."""
    entry = catalogue.latest[care_bundle_id]
    care_bundle = entry.care_bundle
    completed = TEMPLATE_ANCHOR + dt.timedelta(hours=spec.completed_after_hours)
    answers = spec.answers(TEMPLATE_ANCHOR)
    if status == ChecklistStatus.IN_PROGRESS:  # started: the anchor only
        answers = {care_bundle.anchor.id: answers[care_bundle.anchor.id]}
    answers = {key: [v for v in values if v is not None] for key, values in answers.items()}
    settled, evaluation = settle(care_bundle, {k: v for k, v in answers.items() if v}, completed)
    response = questionnaire_response(
        care_bundle,
        settled,
        checklist_id=uuid.UUID(int=0),
        status=status,
        subject_system="https://demo.careloop.example/Id/mrn",
        subject_value="TEMPLATE",
        encounter=None,
        version=2,
        now=completed,
    )
    final = status != ChecklistStatus.IN_PROGRESS
    problems = refusals(entry.compiled_questionnaire, response, evaluation if final else None)
    if problems:
        raise ValueError(f"template {spec.name!r} of {care_bundle_id} is refused: {problems[0].diagnostics}")
    judgement = Judgement.of_evaluation(evaluation, status)
    return Template(
        name=spec.name,
        care_bundle_id=care_bundle_id,
        version=care_bundle.version,
        status=status,
        compliant=judgement.compliant,
        completed_after=completed - TEMPLATE_ANCHOR,
        elements=tuple(
            (key, row.outcome, row.reason, _offset(row.due_at), row.timing_status)
            for key, row in judgement.elements.items()
        ),
        rules=tuple(
            (key, row.element_id, row.outcome, row.reason, _offset(row.due_at), row.timing_status)
            for key, row in judgement.rules.items()
        ),
        composites=tuple(judgement.composites.items()),
        checks=tuple(judgement.failed_checks.items()),
    )


@dataclass(frozen=True)
class Templates:
    """A care bundle's judged templates: compliant, not compliant, outside the measure, and started."""

    compliant: tuple[Template, ...]
    not_compliant: tuple[Template, ...]
    outside: tuple[Template, ...]
    started: Template


def judged_templates(catalogue: CareBundleCatalogue, care_bundle_id: str) -> Templates:
    """Every template of the care bundle, judged once, checked to land where it is filed."""
    compliant, not_compliant, outside = SPECS[care_bundle_id]
    done = ChecklistStatus.COMPLETED
    found = Templates(
        tuple(judge(catalogue, care_bundle_id, spec, done) for spec in compliant),
        tuple(judge(catalogue, care_bundle_id, spec, done) for spec in not_compliant),
        tuple(judge(catalogue, care_bundle_id, spec, done) for spec in outside),
        judge(catalogue, care_bundle_id, compliant[0], ChecklistStatus.IN_PROGRESS),
    )
    for wanted, templates in ((True, found.compliant), (False, found.not_compliant), (None, found.outside)):
        for template in templates:
            if template.compliant is not wanted:
                raise ValueError(f"template {template.name!r} is judged {template.compliant}, not {wanted}")
    return found
