"""What compliance reports group and de-duplicate by, kept on each checklist (decision 0012).

``anchor_date``: the anchor's local date in Europe/London (a checklist falls in the week or month of its
event); ``episode_key``: the MD5 of care bundle, patient and episode (the encounter, else the anchor date),
so possible duplicates are found by one indexed column. Both are set by the lifecycle's one write path
(``service.checklists.lifecycle_writes.record_change``); here existing rows are filled in the same way.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 18:00:00.000000

Written by hand in the style of 0001 to 0006: every constraint named; SQLite in batch mode.
"""

import datetime as dt
import hashlib
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

LONDON = ZoneInfo("Europe/London")


def upgrade() -> None:
    with op.batch_alter_table("checklist") as batch_op:
        batch_op.add_column(sa.Column("anchor_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("episode_key", sa.String(length=32), nullable=True))
        batch_op.create_index(
            "ix_checklist_care_bundle_unit_anchor_date", ["care_bundle_id", "unit_id", "anchor_date"]
        )
        batch_op.create_index("ix_checklist_episode_key", ["episode_key"])
    if op.get_context().dialect.name == "postgresql":
        # Plain SQL, so that it can be written out as a script too (alembic --sql).
        op.execute(
            "UPDATE checklist SET anchor_date = (anchor_time AT TIME ZONE 'Europe/London')::date "
            "WHERE anchor_time IS NOT NULL"
        )
        op.execute(
            "UPDATE checklist SET episode_key = md5(care_bundle_id || '|' || patient_identifier_system || '|' "
            "|| patient_identifier || '|' || COALESCE(encounter_reference, 'anchor:' || "
            "to_char(anchor_date, 'YYYY-MM-DD'))) "
            "WHERE encounter_reference IS NOT NULL OR anchor_date IS NOT NULL"
        )
        return
    checklist = sa.table(
        "checklist",
        sa.column("id", sa.Uuid()),
        sa.column("care_bundle_id", sa.String()),
        sa.column("patient_identifier", sa.String()),
        sa.column("patient_identifier_system", sa.String()),
        sa.column("encounter_reference", sa.String()),
        sa.column("anchor_time", sa.DateTime(timezone=True)),
        sa.column("anchor_date", sa.Date()),
        sa.column("episode_key", sa.String()),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(
            checklist.c.id,
            checklist.c.care_bundle_id,
            checklist.c.patient_identifier,
            checklist.c.patient_identifier_system,
            checklist.c.encounter_reference,
            checklist.c.anchor_time,
        )
    ).all()
    for row in rows:
        day = _local_date(row.anchor_time)
        episode = row.encounter_reference or (f"anchor:{day.isoformat()}" if day is not None else None)
        key = (
            hashlib.md5(
                f"{row.care_bundle_id}|{row.patient_identifier_system}|{row.patient_identifier}|{episode}".encode(),
                usedforsecurity=False,
            ).hexdigest()
            if episode is not None
            else None
        )
        connection.execute(
            checklist.update().where(checklist.c.id == row.id).values(anchor_date=day, episode_key=key)
        )


def _local_date(instant: dt.datetime | None) -> dt.date | None:
    if instant is None:
        return None
    if instant.tzinfo is None:  # SQLite hands back naive UTC
        instant = instant.replace(tzinfo=dt.UTC)
    return instant.astimezone(LONDON).date()


def downgrade() -> None:
    with op.batch_alter_table("checklist") as batch_op:
        batch_op.drop_index("ix_checklist_episode_key")
        batch_op.drop_index("ix_checklist_care_bundle_unit_anchor_date")
        batch_op.drop_column("episode_key")
        batch_op.drop_column("anchor_date")
