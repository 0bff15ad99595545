"""Demo data: a made-up English trust with a unit for each programme, a made-up Scottish health board for
InS:PIRE, their users, and a few open checklists of test patients.

Everything here is fictitious: the site codes ``DEMO1`` and ``DEMO2`` are not ODS codes, the patients have
NHS numbers from the 999 test range (and a CHI number made up to pass its check digit), and the passwords
are printed on the console by ``flask demo logins``. Never load it into a database that holds real patients.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, replace
from typing import Any, Final, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session, scoped_session

from service.auth.users import hash_password
from service.care_bundles import CareBundleCatalogue
from service.checklists import Actor, save_draft, start
from service.demo_spc import SPC_CARE_BUNDLE, SPC_CARE_BUNDLE_VERSION, SPC_UNIT_CODE, SPC_UNIT_NAME
from service.models import Checklist, Role, Site, Unit, User

DEMO_SITE_CODE: Final = "DEMO1"
DEMO_SITE_NAME: Final = "Careloop Demo NHS Foundation Trust"
DEMO_SCOTTISH_SITE_CODE: Final = "DEMO2"
DEMO_SCOTTISH_SITE_NAME: Final = "Careloop Demo Health Board (Scotland)"


class DemoUnit(NamedTuple):
    code: str
    name: str
    care_bundle_ids: tuple[str, ...]
    site_code: str = DEMO_SITE_CODE
    #: (care bundle id, version) pairs the unit is pinned to when the demo first offers them.
    pinned: tuple[tuple[str, str], ...] = ()


#: The demo units and the care bundles (ids of ``bundles/*.yaml``) each offers.
DEMO_UNITS: Final = (
    DemoUnit("labour-ward", "Labour Ward and Birth Centre", ("oasi-care-bundle",)),
    DemoUnit("trauma-ortho", "Trauma and Orthopaedics Ward", ("hip-fracture-pathway",)),
    DemoUnit("freed", "FREED Eating Disorders Service", ("freed-triage",)),
    DemoUnit("renal", "Renal Dialysis Unit", ("sharehd",)),
    DemoUnit("camhs", "Child and Adolescent Mental Health Service", ("i-thrive",)),
    DemoUnit("ltc-clinic", "Long-term Conditions Clinic", ("three-dlc",)),
    DemoUnit("icu-follow-up", "ICU Recovery Clinic", ("inspire",), DEMO_SCOTTISH_SITE_CODE),
    # 30 weeks of completed checklists reproducing a published p-chart (service.demo_spc).
    DemoUnit(
        SPC_UNIT_CODE,
        SPC_UNIT_NAME,
        (SPC_CARE_BUNDLE,),
        pinned=((SPC_CARE_BUNDLE, SPC_CARE_BUNDLE_VERSION),),
    ),
)
_SITES: Final = {DEMO_SITE_CODE: DEMO_SITE_NAME, DEMO_SCOTTISH_SITE_CODE: DEMO_SCOTTISH_SITE_NAME}


class DemoLogin(NamedTuple):
    username: str
    password: str
    role: str
    description: str


#: (username, password, role, description) of each demo user, for printing.
DEMO_LOGINS: Final[list[DemoLogin]] = [
    DemoLogin("midwife", "demo-midwife", Role.CLINICIAN.value, "Midwife, Labour Ward and Birth Centre"),
    DemoLogin("nurse", "demo-nurse", Role.CLINICIAN.value, "Ward nurse, Trauma and Orthopaedics Ward"),
    DemoLogin("freed", "demo-freed", Role.CLINICIAN.value, "FREED clinician, Eating Disorders Service"),
    DemoLogin(
        "clinic", "demo-clinic", Role.CLINICIAN.value, "Clinician: renal unit, CAMHS, long-term conditions"
    ),
    DemoLogin("icu", "demo-icu-scot", Role.CLINICIAN.value, "ICU recovery clinician (Scotland), InS:PIRE"),
    DemoLogin(
        "qilead",
        "demo-qilead",
        Role.QI_LEAD.value,
        "Quality improvement lead, all demo units (charts: SPC demo ward)",
    ),
    DemoLogin("admin", "demo-admin", Role.ADMIN.value, "Administrator, all demo units"),
]

_ALL_UNITS = tuple(unit.code for unit in DEMO_UNITS)

#: Display name and unit codes of each demo user.
_DEMO_USERS: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "midwife": ("Mia Midwife (demo)", ("labour-ward",)),
    "nurse": ("Nat Nurse (demo)", ("trauma-ortho",)),
    "freed": ("Fran Freed (demo)", ("freed",)),
    "clinic": ("Cal Clinic (demo)", ("renal", "camhs", "ltc-clinic")),
    "icu": ("Isla Icu (demo)", ("icu-follow-up",)),
    "qilead": ("Quinn Improvement (demo)", _ALL_UNITS),
    "admin": ("Ada Admin (demo)", _ALL_UNITS),
}


@dataclass(frozen=True)
class DemoSummary:
    """How many rows :func:`load_demo_data` created; all zero when the demo was already there."""

    sites_created: int = 0
    units_created: int = 0
    users_created: int = 0
    #: Care bundle offers and user-unit memberships added.
    links_created: int = 0
    checklists_created: int = 0
    #: Completed checklists of the SPC demo ward (``service.demo_spc``).
    spc_checklists_created: int = 0

    @property
    def created(self) -> int:
        return (
            self.sites_created
            + self.units_created
            + self.users_created
            + self.links_created
            + self.checklists_created
            + self.spc_checklists_created
        )

    def __str__(self) -> str:
        if not self.created:
            return "already loaded, nothing created"
        return (
            f"created {self.sites_created} site(s), {self.units_created} unit(s), "
            f"{self.users_created} user(s), {self.links_created} link(s), "
            f"{self.checklists_created} open checklist(s), "
            f"{self.spc_checklists_created} completed checklist(s) on the SPC demo ward"
        )


def load_demo_data(session: Session | scoped_session[Any]) -> DemoSummary:
    """Create whatever part of the demo is missing, and nothing else.

    Idempotent: rows are found by their natural keys (site code, unit code, username) and existing rows are
    left as they are, so a changed demo password stays changed. Flushes; the caller commits.
    """
    sites = units = users = links = 0

    by_site: dict[str, Site] = {}
    for code, name in _SITES.items():
        site = session.scalar(select(Site).where(Site.code == code))
        if site is None:
            site = Site(code=code, name=name)
            session.add(site)
            sites += 1
        by_site[code] = site

    units_by_code = {unit.code: unit for site in by_site.values() for unit in site.units}
    for spec in DEMO_UNITS:
        unit = units_by_code.get(spec.code)
        if unit is None:
            unit = Unit(code=spec.code, name=spec.name)
            by_site[spec.site_code].units.append(unit)
            units_by_code[spec.code] = unit
            units += 1
        for care_bundle_id in spec.care_bundle_ids:
            if care_bundle_id not in unit.care_bundle_ids:
                unit.care_bundle_ids.append(care_bundle_id)
                link = unit.care_bundle_link(care_bundle_id)
                if link is not None:
                    link.pinned_version = dict(spec.pinned).get(care_bundle_id)
                links += 1

    for login in DEMO_LOGINS:
        display_name, unit_codes = _DEMO_USERS[login.username]
        user = session.scalar(select(User).where(User.username == login.username))
        if user is None:
            user = User(
                username=login.username,
                display_name=display_name,
                password_hash=hash_password(login.password),
                role=login.role,
            )
            session.add(user)
            users += 1
        for code in unit_codes:
            if units_by_code[code] not in user.units:
                user.units.append(units_by_code[code])
                links += 1

    session.flush()
    return DemoSummary(sites_created=sites, units_created=units, users_created=users, links_created=links)


def connect_demo_ehr(session: Session | scoped_session[Any], base_url: str) -> int:
    """Point the demo sites that have no EHR yet at ``base_url`` (the local FHIR server ``make run`` starts),
    open (no authentication), write-back on, through the site administration service (checked and
    audited as an admin's change would be). A site an admin has already set up is left alone. Flushes."""
    from service.admin.audit import CLI_ACTOR
    from service.admin.sites import EhrSettings, update_ehr_settings

    connected = 0
    for code in _SITES:
        site = session.scalar(select(Site).where(Site.code == code))
        if site is not None and site.fhir_base_url is None:
            settings = replace(EhrSettings.of(site), base_url=base_url, auth="none", enabled=True)
            update_ehr_settings(session, CLI_ACTOR, site, settings)
            connected += 1
    return connected


class DemoChecklist(NamedTuple):
    """An open checklist of a test patient: ``hours_ago`` the anchor happened, with some answers."""

    key: str
    unit_code: str
    care_bundle_id: str
    nhs_number: str
    hours_ago: int
    answers: dict[str, list[Any]]


#: Open checklists on the worklists, so the badges have something to show (NHS numbers: the 999 range).
DEMO_CHECKLISTS: Final = (
    DemoChecklist(
        "oasi", "labour-ward", "oasi-care-bundle", "9990000018", 1, {"birth-mode": ["spontaneous-vaginal"]}
    ),
    DemoChecklist("hip", "trauma-ortho", "hip-fracture-pathway", "9990000026", 20, {"operated": ["yes"]}),
    DemoChecklist(
        "freed",
        "freed",
        "freed-triage",
        "9990000034",
        30,
        {"previous-treatment": ["no"], "freed-eligible": ["yes"], "clinically-serious": ["no"]},
    ),
)


def load_demo_checklists(
    session: Session | scoped_session[Any], catalogue: CareBundleCatalogue, now: dt.datetime
) -> int:
    """Start the demo checklists that are not there yet (through the lifecycle, as the ward does)."""
    created = 0
    demo = Actor(user_id=None, client="careloop-demo", unit_ids=None)
    for spec in DEMO_CHECKLISTS:
        checklist_id = uuid.uuid5(uuid.NAMESPACE_URL, f"https://careloop.example/demo/{spec.key}")
        if session.get(Checklist, checklist_id) is not None:
            continue
        unit = session.scalar(select(Unit).where(Unit.code == spec.unit_code))
        entry = catalogue.get(spec.care_bundle_id)
        if unit is None or entry is None:
            continue
        start(
            session,
            catalogue,
            demo,
            checklist_id=checklist_id,
            care_bundle_id=spec.care_bundle_id,
            version=None,
            unit=unit,
            patient_kind="nhs-number",
            patient_value=spec.nhs_number,
            patient_system=None,
            encounter=None,
            anchor_time=now - dt.timedelta(hours=spec.hours_ago),
            now=now,
        )
        save_draft(session, catalogue, demo, checklist_id, base_version=1, answers=spec.answers, now=now)
        created += 1
    return created
