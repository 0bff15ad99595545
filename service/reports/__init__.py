"""``/reports``: compliance charts for QI leads (issue 11), scoped to their units and sites.

The page lists the care bundles offered on the units the signed-in QI lead (or admin) may report on; the
charts are drawn from :func:`service.compliance.report.build_report`, the builder the API uses too.
"""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import select

from service.auth import require_role, signed_in_user
from service.care_bundles import current_catalogue
from service.extensions import db
from service.models import Role, Unit

bp = Blueprint("reports", __name__, url_prefix="/reports")


def reportable_units() -> list[Unit]:
    """The units the signed-in user reports on: an admin every unit, anyone else their own."""
    user = signed_in_user()
    if user.role == Role.ADMIN:
        return list(db.session.scalars(select(Unit).order_by(Unit.site_id, Unit.code)))
    return sorted(user.units, key=lambda unit: (unit.site_id, unit.code))


@bp.get("/")
@require_role(Role.QI_LEAD, Role.ADMIN)
def index() -> str:
    units = reportable_units()
    offered = sorted({care_bundle_id for unit in units for care_bundle_id in unit.care_bundle_ids})
    catalogue = current_catalogue()
    care_bundles = [catalogue.latest[key].care_bundle for key in offered if key in catalogue.latest]
    return render_template("reports/index.html", units=units, care_bundles=care_bundles)
