"""``flask demo generate``: made-up data at scale for the compliance reports and ``bench.compliance``.

Five made-up trusts (``GEN1`` to ``GEN5``, the first the largest), four units each (labour ward, birth centre
and home birth team offering the OASI care bundle; a trauma and orthopaedics ward offering the hip fracture
pathway), three years of checklists up to ``end``, time-ordered as a live system writes them. Compliance
drifts: each unit has its own level, a slow random walk week to week and a dip every August (the junior
doctors' changeover), plus a few real, fixed shifts (``SHIFTS``) that a chart should find. About a quarter
of OASI checklists are caesarean births (outside the all-or-none measure); 0.5 % are possible duplicates
(the same patient and day entered twice, the second completed later), 0.3 % amended, 0.3 % entered in
error, and checklists of the last three days are half still in progress (a few older ones too).

Rows are not written through the lifecycle (a million calls would take hours): each care bundle has a few
answer templates judged once by ``evaluate`` (``service.demo_templates``), and their outcome rows are
copied to every checklist (decision 0013). Checklists get their reporting keys from
``Checklist.index_for_reports``. No answers, change history, snapshots, audit events or deliveries are
written: generated checklists are for reports and benchmarks, not for opening on the ward. Inserts are
batched: COPY on PostgreSQL, executemany elsewhere.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import random
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Table, insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, scoped_session

from service.care_bundles import CareBundleCatalogue
from service.compliance.daily import rebuild
from service.demo_templates import HIP_FRACTURE, OASI, Template, Templates, judged_templates
from service.models import (
    CheckFailure,
    Checklist,
    ChecklistStatus,
    CompositeResult,
    ElementOutcome,
    RuleResult,
    Site,
    Unit,
)

DAYS: Final = 3 * 365
PATIENT_SYSTEM: Final = "https://demo.careloop.example/Id/mrn"
#: Relative size of each generated trust.
SITE_SIZES: Final = (1.4, 1.2, 1.0, 0.8, 0.6)
#: Units of every trust: code, name, care bundle, share of the trust's checklists.
UNITS: Final = (
    ("labour-ward", "Labour Ward", OASI, 0.45),
    ("birth-centre", "Birth Centre", OASI, 0.25),
    ("home-births", "Home Birth Team", OASI, 0.10),
    ("trauma-ortho", "Trauma and Orthopaedics", HIP_FRACTURE, 0.20),
)


@dataclass(frozen=True)
class Shift:
    """A real change in a unit's compliance from ``days_ago`` days before the end, on the logit scale."""

    site: int
    unit: str
    days_ago: int
    logit: float
    why: str


#: The real shifts, the same whatever the seed.
SHIFTS: Final = (
    Shift(1, "labour-ward", 540, +0.9, "OASI care bundle launched: training and a crowning checklist"),
    Shift(2, "birth-centre", 300, -0.8, "new electronic record without the OASI prompts"),
    Shift(3, "trauma-ortho", 270, -0.7, "orthogeriatrician post vacant"),
    Shift(3, "trauma-ortho", 90, +0.7, "orthogeriatrician post filled"),
    Shift(4, "labour-ward", 720, +0.6, "perineal examination added to the handover"),
)


def site_code(site: int) -> str:
    return f"GEN{site}"


@dataclass(frozen=True)
class GeneratedUnit:
    id: int
    site: int
    code: str
    care_bundle_id: str
    #: Logit of the probability of compliance, week by week from the start.
    weekly_logit: tuple[float, ...]


def create_units(session: Session | scoped_session[Any]) -> list[tuple[int, str, Unit, str, float]]:
    """The five trusts and their units (refused when ``GEN1`` exists: generate into a fresh database)."""
    if session.scalar(select(Site).where(Site.code == site_code(1))) is not None:
        raise ValueError(f"{site_code(1)} exists: data was generated here already; use a fresh database")
    found = []
    for site, size in enumerate(SITE_SIZES, start=1):
        trust = Site(code=site_code(site), name=f"Generated Trust {site} (made-up data)")
        session.add(trust)
        for code, name, care_bundle_id, share in UNITS:
            unit = Unit(code=code, name=name)
            unit.care_bundle_ids.append(care_bundle_id)
            trust.units.append(unit)
            found.append((site, code, unit, care_bundle_id, size * share))
    session.flush()
    return found


def weekly_logits(rng: random.Random, site: int, code: str, start: dt.date, weeks: int) -> tuple[float, ...]:
    """Drift: a unit's own level, a random walk, the August dip, and its ``SHIFTS``."""
    level = rng.gauss(1.1, 0.45)
    walk = 0.0
    found = []
    end = start + dt.timedelta(days=DAYS)
    for week in range(weeks):
        monday = start + dt.timedelta(weeks=week)
        walk = 0.97 * walk + rng.gauss(0, 0.05)
        august = -0.25 if monday.month == 8 else 0.0
        shifted = sum(
            shift.logit
            for shift in SHIFTS
            if (shift.site, shift.unit) == (site, code) and monday >= end - dt.timedelta(days=shift.days_ago)
        )
        found.append(level + walk + august + shifted)
    return tuple(found)


@dataclass
class Tables:
    checklist: list[tuple[Any, ...]]
    element_outcome: list[tuple[Any, ...]]
    rule_outcome: list[tuple[Any, ...]]
    composite_outcome: list[tuple[Any, ...]]
    check_result: list[tuple[Any, ...]]


CHECKLIST_COLUMNS: Final = (
    "id",
    "care_bundle_id",
    "care_bundle_version",
    "unit_id",
    "patient_identifier",
    "patient_identifier_system",
    "anchor_time",
    "anchor_date",
    "episode_key",
    "status",
    "version",
    "compliant",
    "source",
    "created_at",
    "updated_at",
    "completed_at",
)
COLUMNS: Final = {
    "checklist": CHECKLIST_COLUMNS,
    "element_outcome": ("checklist_id", "element_id", "outcome", "reason", "due_at", "timing_status"),
    "rule_outcome": ("checklist_id", "rule_id", "element_id", "outcome", "reason", "due_at", "timing_status"),
    "composite_outcome": ("checklist_id", "composite_id", "compliant"),
    "check_result": ("checklist_id", "check_id", "severity"),
}
_TABLES: Final[dict[str, Any]] = {
    "checklist": Checklist,
    "element_outcome": ElementOutcome,
    "rule_outcome": RuleResult,
    "composite_outcome": CompositeResult,
    "check_result": CheckFailure,
}


def _due(anchor: dt.datetime, offset: dt.timedelta | None) -> dt.datetime | None:
    return None if offset is None else anchor + offset


class Generator:
    """Builds the rows of ``count`` checklists over the ``DAYS`` before ``end``, batch by batch."""

    def __init__(
        self,
        units: Sequence[GeneratedUnit],
        weights: Sequence[float],
        templates: dict[str, Templates],
        end: dt.datetime,
        seed: int,
    ) -> None:
        self.units = units
        self.cumulative = [sum(weights[: i + 1]) for i in range(len(weights))]
        self.templates = templates
        self.end = end
        self.start = end - dt.timedelta(days=DAYS)
        self.rng = random.Random(seed)
        self.serial = 0

    def anchors(self, count: int) -> list[float]:
        """Seconds from the start, sorted: the order a live system records them in."""
        span = DAYS * 86400.0
        return sorted(self.rng.random() * span for _ in range(count))

    def batches(self, count: int, size: int) -> Iterator[Tables]:
        anchors = self.anchors(count)
        for first in range(0, count, size):
            tables = Tables([], [], [], [], [])
            chunk = anchors[first : first + size]
            done = 0
            while done < len(chunk):
                done += self._checklist(tables, chunk[done], duplicate_allowed=done + 1 < len(chunk))
            yield tables

    def _checklist(self, tables: Tables, seconds: float, duplicate_allowed: bool) -> int:
        """Add one checklist (two for a possible duplicate); how many were added."""
        rng = self.rng
        unit = self.units[bisect.bisect(self.cumulative, rng.random() * self.cumulative[-1])]
        anchor = (self.start + dt.timedelta(seconds=seconds)).replace(microsecond=0)
        week = min(int(seconds // (7 * 86400)), len(unit.weekly_logit) - 1)
        self.serial += 1
        patient = f"{site_code(unit.site)}-{self.serial:08d}"
        templates = self.templates[unit.care_bundle_id]
        age = self.end - anchor
        roll = rng.random()
        if age < dt.timedelta(days=3) and roll < 0.5 or roll < 0.002:
            template, status = templates.started, ChecklistStatus.IN_PROGRESS
        else:
            template, status = self._judged(templates, unit.weekly_logit[week]), ChecklistStatus.COMPLETED
            if roll < 0.005:
                status = ChecklistStatus.AMENDED
            elif roll < 0.008:
                status = ChecklistStatus.ENTERED_IN_ERROR
        completed = anchor + template.completed_after * (0.5 + rng.random())
        if status != ChecklistStatus.IN_PROGRESS and completed > self.end:
            template, status = templates.started, ChecklistStatus.IN_PROGRESS
        self._add(tables, unit, template, status, patient, anchor, completed)
        if duplicate_allowed and status == ChecklistStatus.COMPLETED and rng.random() < 0.005:
            again = self._judged(templates, unit.weekly_logit[week])
            later = completed + dt.timedelta(hours=2)
            if later <= self.end:
                self._add(tables, unit, again, status, patient, anchor + dt.timedelta(minutes=5), later)
                return 2
        return 1

    def _judged(self, templates: Templates, logit: float) -> Template:
        rng = self.rng
        if templates.outside and rng.random() < 0.25:
            return rng.choice(templates.outside)
        compliant = rng.random() < 1 / (1 + math.exp(-logit))
        return rng.choice(templates.compliant if compliant else templates.not_compliant)

    def _add(
        self,
        tables: Tables,
        unit: GeneratedUnit,
        template: Template,
        status: str,
        patient: str,
        anchor: dt.datetime,
        completed: dt.datetime,
    ) -> None:
        checklist_id = uuid.UUID(int=self.rng.getrandbits(128), version=4)
        # The one implementation of the reporting keys, on an unsaved checklist of these identifiers.
        anchor_date, episode_key = Checklist(
            encounter_reference=None,
            care_bundle_id=unit.care_bundle_id,
            patient_identifier_system=PATIENT_SYSTEM,
            patient_identifier=patient,
        ).reporting_keys(anchor)
        final = status != ChecklistStatus.IN_PROGRESS
        version = {"in-progress": 1, "completed": 2}.get(str(status), 3)
        tables.checklist.append(
            (
                checklist_id,
                unit.care_bundle_id,
                template.version,
                unit.id,
                patient,
                PATIENT_SYSTEM,
                anchor,
                anchor_date,
                episode_key,
                str(status),
                version,
                template.compliant if final else None,
                "ward",
                anchor,
                completed if final else anchor,
                completed if final else None,
            )
        )
        tables.element_outcome.extend(
            (checklist_id, e, outcome, reason, _due(anchor, due), timing)
            for e, outcome, reason, due, timing in template.elements
        )
        tables.rule_outcome.extend(
            (checklist_id, r, e, outcome, reason, _due(anchor, due), timing)
            for r, e, outcome, reason, due, timing in template.rules
        )
        tables.composite_outcome.extend((checklist_id, c, compliant) for c, compliant in template.composites)
        tables.check_result.extend((checklist_id, c, severity) for c, severity in template.checks)


def write(connection: Connection, tables: Tables) -> None:
    """Insert one batch: COPY on PostgreSQL (psycopg 3), executemany elsewhere; parents first.

    On PostgreSQL as a superuser the batch's transaction skips the foreign-key triggers
    (``session_replication_role = replica``): each outcome row's check locks its checklist row, which
    doubled the time of a load, and the rows are consistent by construction (their checklists are written
    first, in the same transaction). Other roles load with the checks.
    """
    if connection.dialect.name == "postgresql" and connection.scalar(
        text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    ):
        connection.execute(text("SET LOCAL session_replication_role = replica"))
    for name in ("checklist", "element_outcome", "rule_outcome", "composite_outcome", "check_result"):
        rows = getattr(tables, name)
        if not rows:
            continue
        columns = COLUMNS[name]
        if connection.dialect.name == "postgresql":
            raw: Any = connection.connection.driver_connection
            with (
                raw.cursor() as cursor,
                cursor.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
        else:
            table: Table = _TABLES[name].__table__
            connection.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])


def generate(
    session: Session | scoped_session[Any],
    catalogue: CareBundleCatalogue,
    count: int,
    *,
    seed: int = 1,
    end: dt.datetime,
    batch_size: int = 20_000,
    batch_done: Callable[[int], None] | None = None,
) -> list[GeneratedUnit]:
    """Create the trusts and units and ``count`` checklists over the three years before ``end``.

    ``batch_done(n)`` runs after each batch of ``n`` checklists is written (the CLI commits there and moves
    its progress bar). Raises ValueError when the trusts exist already.
    """
    rng = random.Random(seed)
    created = create_units(session)
    start = (end - dt.timedelta(days=DAYS)).date()
    weeks = DAYS // 7 + 2
    units = [
        GeneratedUnit(unit.id, site, code, care_bundle_id, weekly_logits(rng, site, code, start, weeks))
        for site, code, unit, care_bundle_id, _ in created
    ]
    templates = {
        care_bundle_id: judged_templates(catalogue, care_bundle_id) for care_bundle_id in (OASI, HIP_FRACTURE)
    }
    generator = Generator(units, [weight for *_, weight in created], templates, end, seed)
    for tables in generator.batches(count, batch_size):
        write(session.connection(), tables)
        if batch_done is not None:
            batch_done(len(tables.checklist))
    # The rows bypassed the lifecycle, so the reports' day counts are recounted from them (decision 0014).
    rebuild(session)
    return units
