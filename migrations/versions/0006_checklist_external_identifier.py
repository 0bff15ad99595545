"""The identifier a FHIR client gave a QuestionnaireResponse, kept on its checklist (unique).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 16:10:00.000000

Written by hand in the style of 0001 to 0005: every constraint named; SQLite in batch mode.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("checklist") as batch_op:
        batch_op.add_column(sa.Column("external_identifier_system", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("external_identifier_value", sa.String(length=255), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_checklist_external_identifier"),
            ["external_identifier_system", "external_identifier_value"],
        )


def downgrade() -> None:
    with op.batch_alter_table("checklist") as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_checklist_external_identifier"), type_="unique")
        batch_op.drop_column("external_identifier_value")
        batch_op.drop_column("external_identifier_system")
