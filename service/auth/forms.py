"""Forms of the sign-in pages (Flask-WTF: every one carries the session's CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired


class SignInForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type information
    username = StringField("Username", validators=[DataRequired("Enter your username")])
    password = PasswordField("Password", validators=[DataRequired("Enter your password")])
