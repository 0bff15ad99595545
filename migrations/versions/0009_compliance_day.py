"""``compliance_day``: stored outcomes counted per care bundle, unit, London anchor day (decision 0014).

Compliance reports read it instead of the outcome rows; the lifecycle keeps it in step
(``service.compliance.daily``). Here it is created and filled from the stored outcomes with plain SQL that
PostgreSQL and SQLite both run (and ``alembic --sql`` can write out): each final checklist once, counted
unless another final checklist of its episode was completed later, joined to each outcome table.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 19:00:00.000000

Written by hand in the style of 0001 to 0008: every constraint named; SQLite in batch mode.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_FINAL = (
    "SELECT c.id, c.care_bundle_id, c.unit_id, c.anchor_date, c.care_bundle_version, "
    "NOT EXISTS (SELECT 1 FROM checklist p WHERE p.episode_key = c.episode_key "
    "AND p.status IN ('completed', 'amended') AND (p.completed_at > c.completed_at "
    "OR (p.completed_at = c.completed_at AND p.id > c.id))) AS counted "
    "FROM checklist c WHERE c.status IN ('completed', 'amended') AND c.anchor_date IS NOT NULL"
)
_KEYS = "f.care_bundle_id, f.unit_id, f.anchor_date, f.care_bundle_version"
_COLUMNS = (
    "care_bundle_id, unit_id, anchor_date, care_bundle_version, measure_kind, measure_id, outcome, reason, "
    "counted, checklists"
)


def upgrade() -> None:
    op.create_table(
        "compliance_day",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("care_bundle_id", sa.String(length=64), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("anchor_date", sa.Date(), nullable=False),
        sa.Column("care_bundle_version", sa.String(length=32), nullable=False),
        sa.Column("measure_kind", sa.String(length=16), nullable=False),
        sa.Column("measure_id", sa.String(length=80), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.Column("checklists", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_compliance_day_unit_id_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_day")),
        sa.UniqueConstraint(
            "care_bundle_id",
            "unit_id",
            "anchor_date",
            "care_bundle_version",
            "measure_kind",
            "measure_id",
            "outcome",
            "reason",
            "counted",
            name="uq_compliance_day_cell",
        ),
    )
    op.create_index(
        "ix_compliance_day_measure",
        "compliance_day",
        ["care_bundle_id", "measure_kind", "measure_id", "unit_id", "anchor_date"],
    )
    for kind, table, key, outcome, reason in (
        ("element", "element_outcome", "o.element_id", "o.outcome", "COALESCE(o.reason, '')"),
        ("rule", "rule_outcome", "o.rule_id", "o.outcome", "COALESCE(o.reason, '')"),
        (
            "composite",
            "composite_outcome",
            "o.composite_id",
            "CASE WHEN o.compliant THEN 'met' WHEN NOT o.compliant THEN 'not-met' ELSE 'outside' END",
            "''",
        ),
    ):
        op.execute(
            f"INSERT INTO compliance_day ({_COLUMNS}) "
            f"SELECT {_KEYS}, '{kind}', {key}, {outcome}, {reason}, f.counted, count(*) "
            f"FROM ({_FINAL}) f JOIN {table} o ON o.checklist_id = f.id "
            f"GROUP BY {_KEYS}, {key}, {outcome}{'' if kind == 'composite' else ', ' + reason}, f.counted"
        )


def downgrade() -> None:
    op.drop_index("ix_compliance_day_measure", table_name="compliance_day")
    op.drop_table("compliance_day")
