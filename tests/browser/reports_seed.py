"""Seeding for ``test_reports.py``: OASI checklists recorded through the lifecycle in the live server's
database (through ``live_app``, an app in the test process on that database), and a QI lead made with
``flask users`` as the conftest makes the clinician."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import subprocess
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from service.care_bundles import current_catalogue
from service.checklists.lifecycle import Actor
from service.extensions import db
from service.models import Checklist, Site, Unit, User
from tests.browser.conftest import BIN, PROJECT_ROOT, SITE_CODE, UNIT_CODE, USERNAME, LiveServer
from tests.service.compliance.test_counts import MONDAY, birth_on, record

QI_LEAD = "quinn-qi"
QI_PASSWORD = "reports-test-password"
#: How many of each week's six births met every practice: low, then high (a shift: special cause
#: improvement), with one week without checklists (a gap).
MET_PER_WEEK = (3, 2, 3, 4, 3, None, 2, 3, 6, 6, 6, 6, 6, 6, 6, 5)
BIRTHS_PER_WEEK = 6
FIRST = MONDAY
LAST = MONDAY + dt.timedelta(weeks=len(MET_PER_WEEK) - 1, days=6)


def seed_checklists(app: Flask) -> None:
    """The OASI checklists of :data:`MET_PER_WEEK` on the live server's unit, once per database."""
    with app.app_context():
        unit = db.session.scalars(
            select(Unit).join(Site).where(Site.code == SITE_CODE, Unit.code == UNIT_CODE)
        ).one()
        if db.session.scalars(select(Checklist.id).where(Checklist.patient_identifier.like("RPT-%"))).first():
            return
        nurse_id = db.session.scalars(select(User.id).where(User.username == USERNAME)).one()
        nurse = Actor(user_id=nurse_id, unit_ids=frozenset({unit.id}))
        catalogue = current_catalogue()
        for week, met in enumerate(MET_PER_WEEK):
            if met is None:
                continue
            for birth in range(BIRTHS_PER_WEEK):
                day = MONDAY + dt.timedelta(weeks=week, days=birth % 7)
                changes = {} if birth < met else {"mpp": "no", "mpp_not_used_reason": "other"}
                record(
                    db.session,
                    catalogue,
                    nurse,
                    unit,
                    birth_on(day),
                    patient=f"RPT-{week}-{birth}",
                    **changes,
                )
        db.session.commit()
        db.session.remove()


def make_qi_lead(server: LiveServer) -> None:
    """``flask users create --role qi_lead`` and ``users add-unit`` with the live server's environment."""
    env = {
        **os.environ,
        "CARELOOP_ENV": "development",
        "CARELOOP_SECRET_KEY": secrets.token_hex(32),
        "CARELOOP_DATABASE_URL": server.database_url,
        "FLASK_APP": "wsgi",
    }
    env.pop("CARELOOP_TEST_DATABASE_URL", None)
    flask = str(Path(BIN) / "flask")
    commands = [
        (
            [
                flask,
                "users",
                "create",
                QI_LEAD,
                "--name",
                "Quinn QI",
                "--role",
                "qi_lead",
                "--password-stdin",
            ],
            True,
        ),
        ([flask, "users", "add-unit", QI_LEAD, SITE_CODE, UNIT_CODE], False),
    ]
    for command, with_password in commands:
        done = subprocess.run(
            command,
            cwd=PROJECT_ROOT,
            env=env,
            input=QI_PASSWORD + "\n" if with_password else None,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0 and "already" not in (done.stdout + done.stderr):
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
