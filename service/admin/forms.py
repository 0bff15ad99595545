"""Forms of the admin pages (Flask-WTF: every one carries the session's CSRF token).

They only carry the fields: the rules live in :mod:`service.admin.sites` and :mod:`service.admin.accounts`
(the one path, which ``flask sites``, ``flask units`` and ``flask users`` share), whose field issues the
pages show in place. Text fields stay text (timeouts too), so a bad value is refused there, by name.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, SelectMultipleField, StringField


class SiteForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type information
    code = StringField("Site code")
    name = StringField("Name")


class EhrSettingsForm(FlaskForm):  # type: ignore[misc]
    base_url = StringField("FHIR base URL")
    enabled = BooleanField("Send completed checklists to this EHR")
    auth = StringField("Authentication")
    credentials_ref = StringField("Where the bearer token is")
    client_id = StringField("Client id")
    token_url = StringField("Token URL")
    scope = StringField("Scope")
    signing_alg = StringField("Signing algorithm")
    connect_timeout = StringField("Connect timeout (seconds)")
    read_timeout = StringField("Read timeout (seconds)")


class UnitForm(FlaskForm):  # type: ignore[misc]
    code = StringField("Unit code")
    name = StringField("Name")


class CareBundleForm(FlaskForm):  # type: ignore[misc]
    care_bundle_id = HiddenField()
    version = StringField("Version")


class ActiveForm(FlaskForm):  # type: ignore[misc]
    """Deactivate (``active`` = ``0``) or reactivate (``1``) a unit or a user."""

    active = HiddenField()


class UnitsForm(FlaskForm):  # type: ignore[misc]
    # Any posted value is kept; service.admin.accounts refuses units that do not exist.
    units = SelectMultipleField("Units", validate_choice=False)


class PasswordForm(FlaskForm):  # type: ignore[misc]
    password = PasswordField("New password")
    confirm_password = PasswordField("New password again")


class UserForm(UnitsForm, PasswordForm):
    username = StringField("Username")
    display_name = StringField("Name")
    role = StringField("Role")
