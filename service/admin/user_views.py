"""The users pages under ``/admin/users`` (on the admin blueprint, so behind its admins-only guard):
list, add, units, password reset, deactivate and reactivate, through :mod:`service.admin.accounts`."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from service.admin import accounts
from service.admin.forms import ActiveForm, PasswordForm, UnitsForm, UserForm
from service.admin.sites import units_of
from service.admin.views import admin_actor, bp, error_list, found, issue_errors
from service.auth import users
from service.errors import CareloopError
from service.extensions import db
from service.models import Role, User

ROLE_LABELS = {
    Role.CLINICIAN.value: "Clinician",
    Role.QI_LEAD.value: "QI lead",
    Role.ADMIN.value: "Administrator",
}
#: Where each field's error links to (the first radio or checkbox of a group has the group's name as id).
_ANCHORS = {"role": "role", "units": "units"}


def _user(username: str) -> User:
    user: User = found(users.find_user, username)
    return user


def _render(template: str, status: int = 200, **context: Any) -> ResponseReturnValue:
    errors = context.setdefault("errors", {})
    return render_template(
        template,
        error_list=error_list(errors, _ANCHORS),
        roles=ROLE_LABELS,
        all_units=units_of(db.session),
        **context,
    ), status


@bp.get("/users", endpoint="users")
def users_page() -> ResponseReturnValue:
    return _render("admin/users.html", people=users.all_users(db.session))


@bp.route("/users/new", methods=["GET", "POST"])
def new_user() -> ResponseReturnValue:
    form = UserForm()
    if request.method == "POST":
        try:
            user = accounts.create_account(
                db.session,
                admin_actor(),
                username=form.username.data or "",
                display_name=form.display_name.data or "",
                role=form.role.data or "",
                password=form.password.data or "",
                confirm_password=form.confirm_password.data or "",
                unit_ids=form.units.data or [],
            )
        except CareloopError as error:
            db.session.rollback()
            return _render("admin/new_user.html", error.status, form=form, errors=issue_errors(error))
        db.session.commit()
        flash(f"User {user.username} added.", "success")
        return redirect(url_for("admin.user", username=user.username), 303)
    return _render("admin/new_user.html", form=form)


@bp.get("/users/<username>")
def user(username: str) -> ResponseReturnValue:
    person = _user(username)
    return _user_page(person, [str(unit.id) for unit in person.units])


def _user_page(
    person: User, chosen_units: list[str], errors: dict[str, str] | None = None, status: int = 200
) -> ResponseReturnValue:
    return _render("admin/user.html", status, person=person, chosen_units=chosen_units, errors=errors or {})


@bp.post("/users/<username>/units")
def user_units(username: str) -> ResponseReturnValue:
    person = _user(username)
    form = UnitsForm()
    chosen = [str(value) for value in form.units.data or []]
    try:
        changed = accounts.set_account_units(db.session, admin_actor(), person, chosen)
    except CareloopError as error:
        db.session.rollback()
        return _user_page(_user(username), chosen, issue_errors(error), error.status)
    db.session.commit()
    flash(f"Units of {person.username} saved." if changed else "Nothing changed.", "success")
    return redirect(url_for("admin.user", username=person.username), 303)


@bp.post("/users/<username>/password")
def user_password(username: str) -> ResponseReturnValue:
    person = _user(username)
    form = PasswordForm()
    try:
        accounts.reset_password(
            db.session, admin_actor(), person, form.password.data or "", form.confirm_password.data or ""
        )
    except CareloopError as error:
        db.session.rollback()
        person = _user(username)
        return _user_page(person, [str(unit.id) for unit in person.units], issue_errors(error), error.status)
    db.session.commit()
    flash(f"Password of {person.username} changed.", "success")
    return redirect(url_for("admin.user", username=person.username), 303)


@bp.post("/users/<username>/active")
def user_active(username: str) -> ResponseReturnValue:
    person = _user(username)
    form = ActiveForm()
    if form.active.data not in ("0", "1"):
        abort(400)
    active = form.active.data == "1"
    try:
        accounts.set_account_active(db.session, admin_actor(), person, active)
    except CareloopError as error:
        db.session.rollback()
        person = _user(username)
        return _user_page(person, [str(unit.id) for unit in person.units], issue_errors(error), error.status)
    db.session.commit()
    flash(f"{person.username} {'reactivated' if active else 'deactivated'}.", "success")
    return redirect(url_for("admin.user", username=person.username), 303)
