"""Pages and endpoints of delivery: the JWKS EHRs register, and the admins' backlog and dead letters."""

from __future__ import annotations

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, url_for
from werkzeug.wrappers import Response as BaseResponse

from service.admin.views import navigation
from service.auth.access import require_role
from service.delivery import outbox
from service.delivery.cli import key_store
from service.errors import CareloopError
from service.extensions import db
from service.models import DeliveryStatus, Role, Site, utcnow

bp = Blueprint("deliveries", __name__)

#: How long an EHR may cache the JWKS: short, so a key added for rotation is seen within minutes.
JWKS_MAX_AGE = 300


@bp.get("/.well-known/jwks.json")
def jwks() -> Response:
    """Careloop's public signing keys (SMART Backend Services): the URL each site's EHR registers."""
    response = jsonify(key_store().public_jwks())
    response.headers["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE}"
    return response


@bp.get("/admin/deliveries")
@require_role(Role.ADMIN)
def index() -> str:
    """The backlog per site (pending, in flight, dead, oldest waiting), then dead letters and retries."""
    now = utcnow()
    sites = db.session.scalars(db.select(Site).order_by(Site.code)).all()
    per_site = [(site, outbox.backlog(db.session, site.id)) for site in sites]
    dead = outbox.listing(db.session, statuses=(DeliveryStatus.DEAD.value,))
    waiting = outbox.listing(
        db.session, statuses=(DeliveryStatus.PENDING.value, DeliveryStatus.IN_FLIGHT.value), limit=50
    )
    retrying = [row for row in waiting if row.attempts or row.last_error]
    return render_template(
        "deliveries/index.html",
        **navigation(),
        errors={},
        now=now,
        per_site=per_site,
        total=outbox.backlog(db.session),
        dead=dead,
        retrying=retrying,
    )


@bp.post("/admin/deliveries/<int:delivery_id>/requeue")
@require_role(Role.ADMIN)
def requeue(delivery_id: int) -> BaseResponse:
    try:
        outbox.requeue(db.session, delivery_id, utcnow())
    except CareloopError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(f"Delivery {delivery_id} will be sent again shortly.", "success")
    return redirect(url_for("deliveries.index"), 303)
