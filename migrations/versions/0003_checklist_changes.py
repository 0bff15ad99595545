"""Checklist changes: one row per change (idempotency key, reason, immutable snapshot of final versions).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-09 09:00:00.000000

Written by hand in the style of 0001 and 0002: every constraint named (the naming convention turns ``op.f``
names into themselves), portable server defaults, runs on SQLite and PostgreSQL.

Downgrade drops the table. It refuses, rather than delete data, when changes are stored: they hold the
snapshots delivered to EHRs and the reasons for amendments, which no older table can hold.
"""

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_REASONED = "'amend', 'entered-in-error'"


def upgrade() -> None:
    op.create_table(
        "checklist_change",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("checklist_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("based_on", sa.Integer(), nullable=False),
        sa.Column("operation", sa.String(length=20), nullable=False),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor_client", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("snapshot", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "operation IN ('start', 'save-draft', 'complete', 'amend', 'entered-in-error')",
            name=op.f("ck_checklist_change_operation"),
        ),
        sa.CheckConstraint(
            "status IN ('in-progress', 'completed', 'amended', 'entered-in-error')",
            name=op.f("ck_checklist_change_status"),
        ),
        sa.CheckConstraint(
            "based_on >= 0 AND version > based_on", name=op.f("ck_checklist_change_version_after_base")
        ),
        sa.CheckConstraint(
            f"(operation IN ({_REASONED}) AND reason IS NOT NULL) "
            f"OR (operation NOT IN ({_REASONED}) AND reason IS NULL)",
            name=op.f("ck_checklist_change_reason_when_required"),
        ),
        sa.CheckConstraint(
            "(status = 'in-progress' AND snapshot IS NULL) "
            "OR (status <> 'in-progress' AND snapshot IS NOT NULL)",
            name=op.f("ck_checklist_change_snapshot_when_final"),
        ),
        sa.ForeignKeyConstraint(
            ["checklist_id"],
            ["checklist.id"],
            name=op.f("fk_checklist_change_checklist_id_checklist"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["actor_user_id"],
            ["user_account.id"],
            name=op.f("fk_checklist_change_actor_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checklist_change")),
        sa.UniqueConstraint(
            "checklist_id", "version", name=op.f("uq_checklist_change_checklist_version")
        ),
        sa.UniqueConstraint(
            "checklist_id", "based_on", name=op.f("uq_checklist_change_checklist_based_on")
        ),
    )


def downgrade() -> None:
    _refuse_to_lose_data()
    op.drop_table("checklist_change")


def _refuse_to_lose_data() -> None:
    """Stop before the downgrade would drop stored changes: snapshots and reasons have no place in 0002."""
    if context.is_offline_mode():
        return
    changes = op.get_bind().scalar(sa.text("SELECT count(*) FROM checklist_change"))
    if changes:
        raise RuntimeError(
            f"cannot downgrade to 0002: {changes} checklist change(s) (history, snapshots of delivered "
            "versions, reasons for amendments) have no place in that schema"
        )
