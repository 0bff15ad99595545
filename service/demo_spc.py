"""The demo's SPC ward: 30 weeks of OASI checklists whose all-or-none counts are a published p-chart table.

A new user can check the compliance chart by eye against a textbook: Montgomery's frozen orange-juice cans
(Introduction to Statistical Quality Control, 6th ed. 2009, Example 7.1), 30 samples of n = 50 with the
numbers of nonconforming cans below, as the R package qcc ships them (``orangejuice``, github.com/cran/qcc
commit 11b6ecef027c315ed547e4749949ee3a7eed502c, qcc 2.7, data/orangejuice.txt.gz). Week i of the ward has
50 completed checklists of vaginal births, ``ORANGE_JUICE_NONCONFORMING[i]`` of them not compliant (a
nonconforming can is a non-compliant checklist). The p-chart of non-compliance is Montgomery's: centre
0.2313, UCL 0.4102, LCL 0.0524, samples 15 and 23 above the upper limit. The compliance chart shows
1 - p: centre 0.7687, lower limit 1 - 0.4102 = 0.5898, upper limit 1 - 0.0524 = 0.9476, weeks 15 and 23
below the lower limit.

The checklists go through the lifecycle (``start`` then ``complete``), as any other caller's do, as if the
unit's EHR form had sent them (source ``fhir``): by the no-echo rule nothing is queued for the demo EHR, so
1,500 historical checklists never stand in the delivery queue ahead of the one a user completes.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, scoped_session

from service.care_bundles import CareBundleCatalogue
from service.checklists import Actor, complete, start
from service.models import Checklist, ChecklistSource, Unit

SPC_UNIT_CODE: Final = "spc-demo"
SPC_UNIT_NAME: Final = "SPC demo ward"
SPC_CARE_BUNDLE: Final = "oasi-care-bundle"
#: The version the ward is pinned to: the answers below are this version's.
SPC_CARE_BUNDLE_VERSION: Final = "2.0.0"
#: Local hospital numbers of the made-up patients (one per checklist, so no possible duplicates).
SPC_PATIENT_SYSTEM: Final = "https://demo.careloop.example/Id/mrn"
#: Nonconforming cans in each of Montgomery's 30 trial samples of 50 (qcc 2.7, ``orangejuice$D[1:30]``).
ORANGE_JUICE_NONCONFORMING: Final = (
    12,
    15,
    8,
    10,
    4,
    7,
    16,
    9,
    14,
    10,
    5,
    6,
    17,
    12,
    22,
    8,
    10,
    5,
    13,
    11,
) + (20, 18, 24, 15, 9, 12, 7, 13, 9, 6)
CHECKLISTS_PER_WEEK: Final = 50
WEEKS: Final = len(ORANGE_JUICE_NONCONFORMING)
#: Montgomery's published limits of the p-chart of nonconforming (non-compliant) checklists.
PUBLISHED_CENTRE: Final = 0.2313
PUBLISHED_UCL: Final = 0.4102
PUBLISHED_LCL: Final = 0.0524
#: The samples (1-based) beyond the upper limit: new cardboard stock, then an inexperienced operator.
PUBLISHED_SIGNALS: Final = (15, 23)

LONDON: Final = ZoneInfo("Europe/London")
_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "https://careloop.example/demo/spc")
_ACTOR: Final = Actor(user_id=None, client="careloop-demo", unit_ids=None)

_MET: Final[dict[str, Any]] = {
    "birth-mode": "spontaneous-vaginal",
    "antenatal-discussion": "yes",
    "mpp": "yes",
    "episiotomy-indication": "not-indicated",
    "episiotomy-performed": "no",
    "perineal-examination": "yes",
    "perineal-trauma": ["first-degree"],
}
#: Checklists meeting all four practices, and ways of missing one (each changes the one above).
_COMPLIANT: Final[tuple[dict[str, Any], ...]] = (
    {},
    {"perineal-trauma": ["second-degree"]},
    {"perineal-trauma": ["intact"]},
    {"birth-mode": "assisted-vaginal"},
)
_NOT_COMPLIANT: Final[tuple[dict[str, Any], ...]] = (
    {"mpp": "no", "mpp-not-used-reason": "other"},
    {"mpp": "no", "mpp-not-used-reason": "position-or-water-birth"},
    {"antenatal-discussion": "not-documented"},
    {"perineal-examination": "no", "perineal-trauma": None},
)


def spc_weeks(today: dt.date, first_monday: dt.date | None = None) -> list[dt.date]:
    """The Mondays of the 30 weeks: from ``first_monday`` (where an earlier load began), else the 30 whole
    weeks before the week of ``today`` (London), so every period has ended."""
    if first_monday is None:
        this_monday = today - dt.timedelta(days=today.weekday())
        first_monday = this_monday - dt.timedelta(weeks=WEEKS)
    return [first_monday + dt.timedelta(weeks=week) for week in range(WEEKS)]


def _answers(birth: dt.datetime, change: dict[str, Any]) -> dict[str, list[Any]]:
    found = {"birth-time": birth, **_MET, **change}
    return {key: value if isinstance(value, list) else [value] for key, value in found.items() if value}


class SpcChecklist:
    """One checklist of the SPC ward: its id, patient, birth (London time) and answers."""

    __slots__ = ("answers", "birth", "id", "patient")

    def __init__(self, week: int, number: int, monday: dt.date, compliant: bool, rng: random.Random) -> None:
        self.id = uuid.uuid5(_NAMESPACE, f"{week}/{number}")
        self.patient = f"SPC{week + 1:02d}{number + 1:03d}"
        day = monday + dt.timedelta(days=number % 7)
        # From 03:00, two hours apart: never in the hour the clocks skip in spring.
        local = dt.datetime.combine(day, dt.time(3 + 2 * (number // 7), rng.randrange(60)), tzinfo=LONDON)
        self.birth = local.astimezone(dt.UTC)
        self.answers = _answers(self.birth, rng.choice(_COMPLIANT if compliant else _NOT_COMPLIANT))


def spc_checklists(week: int, monday: dt.date) -> list[SpcChecklist]:
    """Week ``week`` (0-based): 50 checklists, ``ORANGE_JUICE_NONCONFORMING[week]`` of them not compliant
    (which ones is shuffled, the same every load)."""
    rng = random.Random(f"spc-demo/{week}")
    failing = set(rng.sample(range(CHECKLISTS_PER_WEEK), ORANGE_JUICE_NONCONFORMING[week]))
    return [
        SpcChecklist(week, number, monday, number not in failing, rng)
        for number in range(CHECKLISTS_PER_WEEK)
    ]


def load_spc_weeks(
    session: Session | scoped_session[Any],
    catalogue: CareBundleCatalogue,
    now: dt.datetime,
    week_done: Callable[[], None] | None = None,
) -> int:
    """Start and complete whatever SPC ward checklists are missing, through the lifecycle; how many.

    Idempotent: checklist ids are fixed per week and number, and a later load keeps the weeks of the first
    (their first Monday is read back), so the table is never shifted or doubled. ``week_done`` runs after
    each week's checklists are flushed (the CLI commits there: one transaction per week). Needs the unit
    (``load_demo_data``); does nothing without it.
    """
    unit = session.scalar(select(Unit).where(Unit.code == SPC_UNIT_CODE))
    if unit is None:
        return 0
    unit_id = unit.id
    first = session.scalar(select(func.min(Checklist.anchor_date)).where(Checklist.unit_id == unit_id))
    mondays = spc_weeks(now.astimezone(LONDON).date(), first and first - dt.timedelta(days=first.weekday()))
    created = 0
    for week, monday in enumerate(mondays):
        checklists = spc_checklists(week, monday)
        stored = set(
            session.scalars(
                select(Checklist.id).where(Checklist.id.in_([checklist.id for checklist in checklists]))
            )
        )
        for checklist in _missing(checklists, stored):
            _record(session, catalogue, session.get_one(Unit, unit_id), checklist)
            created += 1
        if week_done is not None:
            week_done()
    return created


def _missing(checklists: list[SpcChecklist], stored: set[uuid.UUID]) -> Iterator[SpcChecklist]:
    return (checklist for checklist in checklists if checklist.id not in stored)


def _record(
    session: Session | scoped_session[Any], catalogue: CareBundleCatalogue, unit: Unit, spec: SpcChecklist
) -> None:
    """Start the checklist at the birth and complete it six hours later, as the unit's EHR form would."""
    completed = spec.birth + dt.timedelta(hours=6)
    checklist = start(
        session,
        catalogue,
        _ACTOR,
        checklist_id=spec.id,
        care_bundle_id=SPC_CARE_BUNDLE,
        version=SPC_CARE_BUNDLE_VERSION,
        unit=unit,
        patient_kind="local",
        patient_value=spec.patient,
        patient_system=SPC_PATIENT_SYSTEM,
        encounter=None,
        anchor_time=spec.birth,
        now=spec.birth,
        source=ChecklistSource.FHIR,
    )
    complete(
        session,
        catalogue,
        _ACTOR,
        checklist.id,
        base_version=checklist.version,
        answers=spec.answers,
        now=completed,
    )
