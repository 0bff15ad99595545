"""Demo data: one made-up trust with a maternity unit, an orthopaedic ward and an eating disorders service.

Everything here is fictitious: the site code ``DEMO1`` is not an ODS code, and the passwords are printed
on the console by ``flask demo logins``. Never load it into a database that holds real patients.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session, scoped_session

from service.auth.users import hash_password
from service.models import Role, Site, Unit, User

DEMO_SITE_CODE: Final = "DEMO1"
DEMO_SITE_NAME: Final = "Careloop Demo NHS Foundation Trust"


class DemoUnit(NamedTuple):
    code: str
    name: str
    care_bundle_ids: tuple[str, ...]


#: The demo units and the care bundles (ids of ``bundles/*.yaml``) each offers.
DEMO_UNITS: Final = (
    DemoUnit("labour-ward", "Labour Ward and Birth Centre", ("oasi-care-bundle",)),
    DemoUnit("trauma-ortho", "Trauma and Orthopaedics Ward", ("hip-fracture-pathway",)),
    DemoUnit("freed", "FREED Eating Disorders Service", ("freed-triage",)),
)


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
    DemoLogin("qilead", "demo-qilead", Role.QI_LEAD.value, "Quality improvement lead, all demo units"),
    DemoLogin("admin", "demo-admin", Role.ADMIN.value, "Administrator, all demo units"),
]

_ALL_UNITS = tuple(unit.code for unit in DEMO_UNITS)

#: Display name and unit codes of each demo user.
_DEMO_USERS: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "midwife": ("Mia Midwife (demo)", ("labour-ward",)),
    "nurse": ("Nat Nurse (demo)", ("trauma-ortho",)),
    "freed": ("Fran Freed (demo)", ("freed",)),
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

    @property
    def created(self) -> int:
        return self.sites_created + self.units_created + self.users_created + self.links_created

    def __str__(self) -> str:
        if not self.created:
            return "already loaded, nothing created"
        return (
            f"created {self.sites_created} site(s), {self.units_created} unit(s), "
            f"{self.users_created} user(s), {self.links_created} link(s)"
        )


def load_demo_data(session: Session | scoped_session[Any]) -> DemoSummary:
    """Create whatever part of the demo is missing, and nothing else.

    Idempotent: rows are found by their natural keys (site code, unit code, username) and existing rows are
    left as they are, so a changed demo password stays changed. Flushes; the caller commits.
    """
    sites = units = users = links = 0

    site = session.scalar(select(Site).where(Site.code == DEMO_SITE_CODE))
    if site is None:
        site = Site(code=DEMO_SITE_CODE, name=DEMO_SITE_NAME)
        session.add(site)
        sites += 1

    units_by_code = {unit.code: unit for unit in site.units}
    for spec in DEMO_UNITS:
        unit = units_by_code.get(spec.code)
        if unit is None:
            unit = Unit(code=spec.code, name=spec.name)
            site.units.append(unit)
            units_by_code[spec.code] = unit
            units += 1
        for care_bundle_id in spec.care_bundle_ids:
            if care_bundle_id not in unit.care_bundle_ids:
                unit.care_bundle_ids.append(care_bundle_id)
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
