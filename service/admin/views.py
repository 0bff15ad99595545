"""The admin pages under ``/admin``: sites and their EHR settings, units and the care bundles they offer.

Active admins only: the whole blueprint is behind :func:`~service.auth.require_role` (nobody signed in is
sent to sign in, other roles get 403). Thin views, as the ward's: read the form, call one function of
:mod:`service.admin.sites`, commit once, then redirect with a banner, or show the form again as posted with
an NHS.UK error summary and the error at each field (400; 404 or 409 as the domain says). The users pages
are :mod:`service.admin.user_views`, on the same blueprint.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from service.admin import sites
from service.admin.forms import ActiveForm, CareBundleForm, EhrSettingsForm, SiteForm, UnitForm
from service.auth import require_role, signed_in_user
from service.care_bundles import current_catalogue
from service.checklists import Actor
from service.errors import CareloopError, NotFound
from service.extensions import db
from service.models import Role, Site, Unit

bp = Blueprint("admin", __name__, url_prefix="/admin")

#: Links of the admin navigation: (endpoint, text). An endpoint that is not registered is left out, so the
#: deliveries page (``service.delivery.views``, its own blueprint) shows only in an app that has it.
NAV: tuple[tuple[str, str], ...] = (
    ("admin.sites", "Sites and units"),
    ("admin.users", "Users"),
    ("deliveries.index", "Deliveries"),
)


@bp.before_request
@require_role(Role.ADMIN)
def admins_only() -> None:
    """Every admin page: active admins only (``require_role`` answers everyone else)."""


@bp.context_processor
def navigation() -> dict[str, Any]:
    links = [
        {"href": url_for(endpoint), "text": text, "current": request.endpoint == endpoint}
        for endpoint, text in NAV
        if endpoint in current_app.view_functions
    ]
    return {"admin_nav": links}


def admin_actor() -> Actor:
    return Actor(user_id=signed_in_user().id, unit_ids=None)


def issue_errors(error: CareloopError) -> dict[str, str]:
    """A refusal's issues by form field (``_form`` for those of no field), as sentences."""
    errors: dict[str, str] = {}
    for issue in error.issues:
        field = getattr(issue, "field", None) or "_form"
        message = issue.diagnostics
        errors.setdefault(field, message[:1].upper() + message[1:])
    return errors


def error_list(errors: Mapping[str, str], anchors: Mapping[str, str] | None = None) -> list[dict[str, str]]:
    """The NHS.UK error summary's items, each linking to its field (``anchors`` maps a field to its id)."""
    anchors = anchors or {}
    return [
        {"text": message, "href": "#" + ("maincontent" if field == "_form" else anchors.get(field, field))}
        for field, message in errors.items()
    ]


def found(lookup: Any, *args: Any) -> Any:
    """The record a page is about, or a 404 page."""
    try:
        return lookup(db.session, *args)
    except NotFound:
        abort(404)


def _site(code: str) -> Site:
    site: Site = found(sites.find_site, code)
    return site


def _unit(site_code: str, unit_code: str) -> Unit:
    unit: Unit = found(sites.find_unit, site_code, unit_code)
    return unit


# -- sites ------------------------------------------------------------------------------------------------


@bp.get("/")
def index() -> ResponseReturnValue:
    return redirect(url_for("admin.sites"))


@bp.get("/sites", endpoint="sites")
def sites_page() -> str:
    return render_template("admin/sites.html", sites=sites.all_sites(db.session))


@bp.route("/sites/new", methods=["GET", "POST"])
def new_site() -> ResponseReturnValue:
    form = SiteForm()
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        try:
            site = sites.create_site(
                db.session, admin_actor(), code=form.code.data or "", name=form.name.data or ""
            )
        except CareloopError as error:
            db.session.rollback()
            errors, status = issue_errors(error), error.status
        else:
            db.session.commit()
            flash(f"Site {site.code} added. Set up its EHR below.", "success")
            return redirect(url_for("admin.site", code=site.code), 303)
    page = render_template("admin/new_site.html", form=form, errors=errors, error_list=error_list(errors))
    return page, status


@bp.get("/sites/<code>")
def site(code: str) -> str:
    found_site = _site(code)
    return _site_page(found_site, _settings_values(sites.EhrSettings.of(found_site)), {})


@bp.post("/sites/<code>/ehr")
def site_ehr(code: str) -> ResponseReturnValue:
    found_site = _site(code)
    form = EhrSettingsForm()
    settings = sites.EhrSettings(
        base_url=form.base_url.data,
        enabled=bool(form.enabled.data),
        auth=form.auth.data or "",
        credentials_ref=form.credentials_ref.data,
        client_id=form.client_id.data,
        token_url=form.token_url.data,
        scope=form.scope.data,
        signing_alg=form.signing_alg.data,
        connect_timeout=form.connect_timeout.data or "",
        read_timeout=form.read_timeout.data or "",
    )
    try:
        changed = sites.update_ehr_settings(db.session, admin_actor(), found_site, settings)
    except CareloopError as error:
        db.session.rollback()
        return _site_page(_site(code), _settings_values(settings), issue_errors(error)), error.status
    db.session.commit()
    flash("EHR settings saved." if changed else "Nothing changed.", "success")
    return redirect(url_for("admin.site", code=found_site.code), 303)


def _settings_values(settings: sites.EhrSettings) -> dict[str, Any]:
    values = {name: "" if value is None else value for name, value in vars(settings).items()}
    for name in ("connect_timeout", "read_timeout"):
        if isinstance(values[name], float):
            values[name] = f"{values[name]:g}"
    return values


def _site_page(site: Site, values: dict[str, Any], errors: dict[str, str]) -> str:
    anchors = {"auth": "auth", "enabled": "enabled"}
    return render_template(
        "admin/site.html",
        site=site,
        values=values,
        errors=errors,
        error_list=error_list(errors, anchors),
        algorithms=[{"value": algorithm, "text": algorithm} for algorithm in sites.SIGNING_ALGORITHMS],
        units=sites.units_of(db.session, site),
    )


# -- units ------------------------------------------------------------------------------------------------


@bp.route("/sites/<code>/units/new", methods=["GET", "POST"])
def new_unit(code: str) -> ResponseReturnValue:
    found_site = _site(code)
    form = UnitForm()
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        try:
            unit = sites.create_unit(
                db.session, admin_actor(), found_site, code=form.code.data or "", name=form.name.data or ""
            )
        except CareloopError as error:
            db.session.rollback()
            errors, status = issue_errors(error), error.status
            found_site = _site(code)
        else:
            db.session.commit()
            flash(f"Unit {unit.name} added. Choose the care bundles it offers.", "success")
            return redirect(url_for("admin.unit", code=found_site.code, unit_code=unit.code), 303)
    return render_template(
        "admin/new_unit.html", site=found_site, form=form, errors=errors, error_list=error_list(errors)
    ), status


@bp.get("/sites/<code>/units/<unit_code>")
def unit(code: str, unit_code: str) -> str:
    return _unit_page(_unit(code, unit_code))


def _unit_page(unit: Unit, errors: dict[str, str] | None = None, posted: CareBundleForm | None = None) -> str:
    errors = errors or {}
    failed = posted.care_bundle_id.data if posted is not None else None
    row = f"version-{failed}" if failed else "maincontent"
    anchors = {"version": row, "care_bundle_id": row}
    return render_template(
        "admin/unit.html",
        unit=unit,
        options=sites.care_bundle_options(current_catalogue()),
        errors=errors,
        error_list=error_list(errors, anchors),
        failed=failed,
        posted_version=posted.version.data if posted is not None else None,
        latest=sites.LATEST,
    )


@bp.post("/sites/<code>/units/<unit_code>/care-bundles")
def unit_care_bundle(code: str, unit_code: str) -> ResponseReturnValue:
    """Offer a care bundle at its latest version or a pinned one (or change the pin)."""
    found_unit = _unit(code, unit_code)
    form = CareBundleForm()
    care_bundle_id = form.care_bundle_id.data or ""
    try:
        link = sites.enable_care_bundle(
            db.session, admin_actor(), current_catalogue(), found_unit, care_bundle_id, form.version.data
        )
    except CareloopError as error:
        db.session.rollback()
        return _unit_page(_unit(code, unit_code), issue_errors(error), form), error.status
    db.session.commit()
    offered = f"version {link.pinned_version}" if link.pinned_version else "its latest version"
    flash(f"{found_unit.name} offers {care_bundle_id} at {offered}.", "success")
    return redirect(url_for("admin.unit", code=code, unit_code=unit_code), 303)


@bp.post("/sites/<code>/units/<unit_code>/care-bundles/<care_bundle_id>/disable")
def disable_care_bundle(code: str, unit_code: str, care_bundle_id: str) -> ResponseReturnValue:
    found_unit = _unit(code, unit_code)
    try:
        sites.disable_care_bundle(db.session, admin_actor(), found_unit, care_bundle_id)
    except CareloopError as error:
        db.session.rollback()
        return _unit_page(_unit(code, unit_code), issue_errors(error)), error.status
    db.session.commit()
    flash(f"{found_unit.name} no longer offers {care_bundle_id}. Its checklists are kept.", "success")
    return redirect(url_for("admin.unit", code=code, unit_code=unit_code), 303)


@bp.post("/sites/<code>/units/<unit_code>/active")
def unit_active(code: str, unit_code: str) -> ResponseReturnValue:
    found_unit = _unit(code, unit_code)
    form = ActiveForm()
    if form.active.data not in ("0", "1"):
        abort(400)
    active = form.active.data == "1"
    sites.set_unit_active(db.session, admin_actor(), found_unit, active)
    db.session.commit()
    flash(f"{found_unit.name} {'reactivated' if active else 'deactivated'}.", "success")
    return redirect(url_for("admin.unit", code=code, unit_code=unit_code), 303)
