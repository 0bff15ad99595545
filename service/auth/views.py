"""``/sign-in`` and ``/sign-out``. Thin: the form, one domain call, one commit, a page or a redirect."""

from __future__ import annotations

import time
from typing import Final

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_user, logout_user

from service.auth.access import signed_in_user
from service.auth.forms import SignInForm
from service.auth.login import SIGNED_IN_AT
from service.auth.users import authenticate, record_sign_out
from service.extensions import db

bp = Blueprint("auth", __name__)

#: The one thing a failed sign-in says: never which of the two was wrong, nor that an account is inactive.
SIGN_IN_FAILED: Final = "Enter a correct username and password"


def safe_next_url(candidate: str | None) -> str | None:
    """``candidate`` if it is a path on this site (``/ward?x=1``), else None: no open redirects.

    Refuses absolute and scheme-relative URLs (``https://evil``, ``//evil``), backslashes (browsers read
    ``/\\evil`` as ``//evil``) and control characters.
    """
    if not candidate or not candidate.startswith("/") or candidate.startswith("//"):
        return None
    if "\\" in candidate or any(ord(char) < 0x20 or ord(char) == 0x7F for char in candidate):
        return None
    return candidate  # a single leading slash: no scheme and no host can follow


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> ResponseReturnValue:
    next_url = safe_next_url(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or url_for("home.index"))
    form = SignInForm()
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        result = authenticate(db.session, form.username.data or "", form.password.data or "")
        db.session.commit()
        if result.user is not None and result.succeeded:
            session.clear()  # nothing from before the sign-in carries over
            login_user(result.user)
            session[SIGNED_IN_AT] = int(time.time())
            return redirect(next_url or url_for("home.index"), 303)
        errors["username"] = SIGN_IN_FAILED
    else:
        errors = {
            name: messages[0] for name, messages in form.errors.items() if name in ("username", "password")
        }
    error_list = [{"text": message, "href": f"#{field}"} for field, message in errors.items()]
    return render_template(
        "auth/sign_in.html", form=form, errors=errors, error_list=error_list, next_url=next_url
    )


@bp.post("/sign-out")
def sign_out() -> ResponseReturnValue:
    """POST only, with the CSRF token (CSRFProtect): a link or an image elsewhere cannot sign anyone out."""
    if current_user.is_authenticated:
        record_sign_out(db.session, signed_in_user())
        db.session.commit()
    logout_user()
    session.clear()
    flash("You have signed out.", "success")
    return redirect(url_for("auth.sign_in"), 303)
