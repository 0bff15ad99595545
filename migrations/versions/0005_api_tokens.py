"""System clients' bearer tokens on /fhir: hashed, bound to a site (and a unit for writes), with scopes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 16:00:00.000000

Written by hand in the style of 0001 to 0004: every constraint named, portable server defaults.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("length(token_sha256) = 64", name=op.f("ck_api_token_token_sha256_length")),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_api_token_site_id_site")),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"], name=op.f("fk_api_token_unit_id_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_api_token_token_sha256")),
    )
    op.create_index(op.f("ix_api_token_site_id"), "api_token", ["site_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_api_token_site_id"), table_name="api_token")
    op.drop_table("api_token")
