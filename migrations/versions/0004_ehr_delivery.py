"""EHR write-back: site EHR settings, pinned care bundle versions, delivery leases and superseded rows.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 12:00:00.000000

Written by hand in the style of 0001 to 0003: every constraint named, portable server defaults, runs on
SQLite (batch mode) and PostgreSQL.

A site keeps what it had: an existing SMART registration (token URL set) becomes ``fhir_auth = 'smart'``
signed RS384, and write-back stays off until an admin enables it.

Downgrade refuses when a delivery row is ``superseded`` (0003 has no such status) or a site uses a bearer
token (0003 cannot say so); otherwise it drops the new columns.
"""

import sqlalchemy as sa
from alembic import context, op

# revision identifiers, used by Alembic.
revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_STATUSES_0001 = "'pending', 'in-flight', 'delivered', 'dead'"


def upgrade() -> None:
    with op.batch_alter_table("site") as batch_op:
        batch_op.add_column(
            sa.Column("fhir_enabled", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("fhir_auth", sa.String(length=16), server_default="none", nullable=False)
        )
        batch_op.add_column(
            sa.Column("fhir_connect_timeout", sa.Float(), server_default=sa.text("5"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("fhir_read_timeout", sa.Float(), server_default=sa.text("30"), nullable=False)
        )
        batch_op.add_column(sa.Column("fhir_signing_alg", sa.String(length=8), nullable=True))
    op.execute(
        "UPDATE site SET fhir_auth = 'smart', fhir_signing_alg = 'RS384' WHERE fhir_token_url IS NOT NULL"
    )
    with op.batch_alter_table("site") as batch_op:
        batch_op.drop_constraint(op.f("ck_site_fhir_auth_complete"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_site_fhir_auth"), "fhir_auth IN ('none', 'bearer', 'smart')"
        )
        batch_op.create_check_constraint(
            op.f("ck_site_fhir_smart_complete"),
            "fhir_auth <> 'smart' OR (fhir_token_url IS NOT NULL AND fhir_client_id IS NOT NULL "
            "AND fhir_signing_alg IS NOT NULL)",
        )
        batch_op.create_check_constraint(
            op.f("ck_site_fhir_bearer_complete"), "fhir_auth <> 'bearer' OR fhir_credentials_ref IS NOT NULL"
        )
        batch_op.create_check_constraint(
            op.f("ck_site_fhir_enabled_has_base"), "NOT fhir_enabled OR fhir_base_url IS NOT NULL"
        )
        batch_op.create_check_constraint(
            op.f("ck_site_fhir_timeouts_positive"), "fhir_connect_timeout > 0 AND fhir_read_timeout > 0"
        )
        batch_op.create_check_constraint(
            op.f("ck_site_fhir_signing_alg"),
            "fhir_signing_alg IS NULL OR fhir_signing_alg IN ('RS384', 'ES384')",
        )

    with op.batch_alter_table("unit_care_bundle") as batch_op:
        batch_op.add_column(sa.Column("pinned_version", sa.String(length=32), nullable=True))

    with op.batch_alter_table("delivery") as batch_op:
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_constraint(op.f("ck_delivery_status"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_delivery_status"), f"status IN ({_STATUSES_0001}, 'superseded')"
        )
    op.create_index(
        "uq_delivery_one_in_flight",
        "delivery",
        ["checklist_id", "site_id"],
        unique=True,
        sqlite_where=sa.text("status = 'in-flight'"),
        postgresql_where=sa.text("status = 'in-flight'"),
    )


def downgrade() -> None:
    _refuse_to_lose_data()
    op.drop_index("uq_delivery_one_in_flight", table_name="delivery")
    with op.batch_alter_table("delivery") as batch_op:
        batch_op.drop_constraint(op.f("ck_delivery_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_delivery_status"), f"status IN ({_STATUSES_0001})")
        batch_op.drop_column("last_attempt_at")
        batch_op.drop_column("lease_owner")

    with op.batch_alter_table("unit_care_bundle") as batch_op:
        batch_op.drop_column("pinned_version")

    with op.batch_alter_table("site") as batch_op:
        for name in (
            "ck_site_fhir_signing_alg",
            "ck_site_fhir_timeouts_positive",
            "ck_site_fhir_enabled_has_base",
            "ck_site_fhir_bearer_complete",
            "ck_site_fhir_smart_complete",
            "ck_site_fhir_auth",
        ):
            batch_op.drop_constraint(op.f(name), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_site_fhir_auth_complete"),
            "fhir_token_url IS NULL OR (fhir_client_id IS NOT NULL AND fhir_credentials_ref IS NOT NULL)",
        )
        for column in (
            "fhir_signing_alg",
            "fhir_read_timeout",
            "fhir_connect_timeout",
            "fhir_auth",
            "fhir_enabled",
        ):
            batch_op.drop_column(column)


def _refuse_to_lose_data() -> None:
    """Stop before the downgrade would lose what 0003 cannot hold."""
    if context.is_offline_mode():
        return
    bind = op.get_bind()
    superseded = bind.scalar(sa.text("SELECT count(*) FROM delivery WHERE status = 'superseded'"))
    bearer = bind.scalar(sa.text("SELECT count(*) FROM site WHERE fhir_auth = 'bearer'"))
    if superseded or bearer:
        raise RuntimeError(
            f"cannot downgrade to 0003: {superseded} superseded delivery row(s) and {bearer} site(s) using "
            "a bearer token have no place in that schema"
        )
