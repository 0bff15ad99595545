"""A user permission to see patient identifiers in the compliance drill-down (issue 11), off for everyone.

``user_account.can_read_patient_identifiers``: QI leads and admins see which checklists are behind a point of
a chart; the patient identifiers of those checklists only with this permission, granted one user at a time
(``flask users grant-identifiers``), and every such read audited.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 10:00:00.000000

Written by hand in the style of 0001 to 0007: every constraint named; SQLite in batch mode; plain DDL, so
``alembic --sql`` writes it out.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user_account") as batch_op:
        batch_op.add_column(
            sa.Column("can_read_patient_identifiers", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("user_account") as batch_op:
        batch_op.drop_column("can_read_patient_identifiers")
