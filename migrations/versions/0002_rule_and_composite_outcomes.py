"""Rule, composite and check outcomes; answers in repeating group instances; the re-evaluate audit action.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 09:00:00.000000

Written by hand in the style of 0001: every constraint and index named (the naming convention turns
``op.f`` names into themselves), batch mode so that SQLite can change ``answer`` and ``audit_event``
(copy-and-move; plain ALTERs on PostgreSQL).

Downgrade drops the three tables, ``answer.instance`` and the ``re-evaluate`` action. It refuses, rather than
delete data, when answers sit in a repeating group instance other than the first or when re-evaluate audit
events exist: the 0001 schema can hold neither.
"""

import sqlalchemy as sa
from alembic import context, op

# revision identifiers, used by Alembic.
revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_OUTCOMES = "outcome IN ('met', 'not-met', 'not-applicable', 'missing')"
_TIMING_STATUSES = "timing_status IN ('met', 'not-met', 'due', 'overdue', 'unknown')"
_ACTIONS_0001 = "'create', 'read', 'update', 'delete', 'search', 'export', 'login', 'logout'"


def upgrade() -> None:
    op.create_table(
        "rule_outcome",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("checklist_id", sa.Uuid(), nullable=False),
        sa.Column("rule_id", sa.String(length=80), nullable=False),
        sa.Column("element_id", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("timing_status", sa.String(length=8), nullable=True),
        sa.CheckConstraint(_OUTCOMES, name=op.f("ck_rule_outcome_outcome")),
        sa.CheckConstraint(_TIMING_STATUSES, name=op.f("ck_rule_outcome_timing_status")),
        sa.ForeignKeyConstraint(
            ["checklist_id"],
            ["checklist.id"],
            name=op.f("fk_rule_outcome_checklist_id_checklist"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_outcome")),
        sa.UniqueConstraint("checklist_id", "rule_id", name=op.f("uq_rule_outcome_checklist_rule")),
    )
    op.create_index(
        op.f("ix_rule_outcome_rule_outcome"), "rule_outcome", ["rule_id", "outcome"], unique=False
    )

    op.create_table(
        "composite_outcome",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("checklist_id", sa.Uuid(), nullable=False),
        sa.Column("composite_id", sa.String(length=64), nullable=False),
        sa.Column("compliant", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["checklist_id"],
            ["checklist.id"],
            name=op.f("fk_composite_outcome_checklist_id_checklist"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_composite_outcome")),
        sa.UniqueConstraint(
            "checklist_id", "composite_id", name=op.f("uq_composite_outcome_checklist_composite")
        ),
    )
    op.create_index(
        op.f("ix_composite_outcome_composite_compliant"),
        "composite_outcome",
        ["composite_id", "compliant"],
        unique=False,
    )

    op.create_table(
        "check_result",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("checklist_id", sa.Uuid(), nullable=False),
        sa.Column("check_id", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.CheckConstraint("severity IN ('error', 'warning')", name=op.f("ck_check_result_severity")),
        sa.ForeignKeyConstraint(
            ["checklist_id"],
            ["checklist.id"],
            name=op.f("fk_check_result_checklist_id_checklist"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_result")),
        sa.UniqueConstraint("checklist_id", "check_id", name=op.f("uq_check_result_checklist_check")),
    )

    with op.batch_alter_table("answer") as batch_op:
        batch_op.add_column(sa.Column("instance", sa.Integer(), server_default=sa.text("0"), nullable=False))
        batch_op.drop_constraint(op.f("uq_answer_checklist_element_position"), type_="unique")
        batch_op.create_unique_constraint(
            op.f("uq_answer_checklist_element_instance_position"),
            ["checklist_id", "element_id", "instance", "position"],
        )
        batch_op.create_check_constraint(op.f("ck_answer_instance_not_negative"), "instance >= 0")

    with op.batch_alter_table("audit_event") as batch_op:
        batch_op.drop_constraint(op.f("ck_audit_event_action"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_audit_event_action"), f"action IN ({_ACTIONS_0001}, 're-evaluate')"
        )


def downgrade() -> None:
    _refuse_to_lose_data()

    with op.batch_alter_table("audit_event") as batch_op:
        batch_op.drop_constraint(op.f("ck_audit_event_action"), type_="check")
        batch_op.create_check_constraint(op.f("ck_audit_event_action"), f"action IN ({_ACTIONS_0001})")

    with op.batch_alter_table("answer") as batch_op:
        batch_op.drop_constraint(op.f("ck_answer_instance_not_negative"), type_="check")
        batch_op.drop_constraint(op.f("uq_answer_checklist_element_instance_position"), type_="unique")
        batch_op.create_unique_constraint(
            op.f("uq_answer_checklist_element_position"), ["checklist_id", "element_id", "position"]
        )
        batch_op.drop_column("instance")

    op.drop_table("check_result")
    op.drop_index(op.f("ix_composite_outcome_composite_compliant"), table_name="composite_outcome")
    op.drop_table("composite_outcome")
    op.drop_index(op.f("ix_rule_outcome_rule_outcome"), table_name="rule_outcome")
    op.drop_table("rule_outcome")


def _refuse_to_lose_data() -> None:
    """Stop before the downgrade would break a constraint or silently drop what 0001 cannot hold."""
    if context.is_offline_mode():
        return
    connection = op.get_bind()
    instances = connection.scalar(sa.text("SELECT count(*) FROM answer WHERE instance > 0"))
    reevaluations = connection.scalar(
        sa.text("SELECT count(*) FROM audit_event WHERE action = 're-evaluate'")
    )
    if instances or reevaluations:
        raise RuntimeError(
            f"cannot downgrade to 0001: {instances} answer(s) in repeating group instances after the first and "
            f"{reevaluations} re-evaluate audit event(s) have no place in that schema"
        )
