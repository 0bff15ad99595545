"""What the ward tablet needs from the server to work with no network (decision 0010).

- ``/ward/sw.js``: the service worker (``static/js/offline/sw.js``), with the app shell it caches and a
  version that changes whenever any shell file changes, so a new release replaces the old cache cleanly.
- ``/ward/session``: who is signed in (an opaque key, never the user id), a fresh CSRF token and how long the
  tablet may keep patient data: the replay queue asks before it sends anything queued.
- ``/ward/start/offline/<unit>/<care bundle>``: the empty checklist form of a care bundle a unit offers, which
  the service worker keeps so a checklist can be started with no network (its UUID is made on the tablet).
- Replies to the replay queue: the same ward views answer a request that prefers JSON with what happened
  (saved, invalid with the form errors, conflict with the version now stored), instead of a page.
- ``/assets/idb/``: the ``idb`` package (npm), which the tablet's drafts and queue are written with.

Every ward page says whose it is (``X-Careloop-User``) and how long it may be kept (``X-Careloop-Keep``), so
the service worker files it under that user and drops it when it is too old; pages are ``no-store`` for the
browser's own HTTP cache, so nothing with patient data is kept anywhere but where the service worker (and
the sign-out) can find and clear it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Final

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from service.auth import login_required
from service.auth.login import is_api_request
from service.checklists import evaluate
from service.checklists.store import answers_of
from service.models import Checklist, ChecklistStatus, User
from service.ward.answers_form import form_values
from service.ward.checklist_view import build_fields
from service.ward.merge import encode_base
from service.ward.pages import entry_of, flash_done, now

STATIC = Path(__file__).resolve().parents[1] / "static"
SERVICE_WORKER: Final = STATIC / "js" / "offline" / "sw.js"
#: The files of the NHS.UK frontend a ward page loads (under ``/assets/nhsuk/``).
NHSUK_SHELL: Final = (
    "nhsuk-frontend.min.css",
    "nhsuk-frontend.min.js",
    "assets/images/favicon.ico",
    "assets/images/favicon.svg",
    "assets/images/nhsuk-icon-mask.svg",
    "assets/images/nhsuk-icon-180.png",
    "assets/manifest.json",
)
IDB_FILES: Final = ("index.js",)
#: What a replayed request did, by ward action.
_DONE = {"save": "saved", "complete": "completed", "amend": "amended"}

assets = Blueprint("idb_assets", __name__, url_prefix="/assets/idb")


@assets.get("/<filename>")
def idb_asset(filename: str) -> ResponseReturnValue:
    if filename not in IDB_FILES:
        abort(404)
    return send_from_directory(current_app.config["IDB_DIR"], filename, mimetype="text/javascript")


# -- who the tablet works for ---------------------------------------------------------------------------


def user_key(user: User) -> str:
    """The opaque name the tablet files a user's drafts and pages under: stable for a user, says nothing."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, f"careloop-offline:{user.id}".encode(), hashlib.sha256).hexdigest()[:24]


def keep_seconds() -> int:
    return int(float(current_app.config["OFFLINE_KEEP_HOURS"]) * 3600)


def mark_ward_page(response: Response) -> Response:
    """After every ward response: pages are not kept by the HTTP cache and say whose they are."""
    if response.mimetype == "application/json":
        response.headers.setdefault("Cache-Control", "no-store")
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "private, no-store"
        user = current_user._get_current_object() if current_user else None
        if isinstance(user, User):
            response.headers["X-Careloop-User"] = user_key(user)
            response.headers["X-Careloop-Keep"] = str(keep_seconds())
    return response


def session_info() -> Response:
    from service.ward.start import choices

    user = current_user._get_current_object()
    offered = choices()  # the user's units and their care bundles: one query, used twice
    response = jsonify(
        {
            "user": user_key(user),
            "csrf": generate_csrf(),
            "keepSeconds": keep_seconds(),
            "definitions": sorted(
                {
                    url_for(
                        "ward.care_bundle_definition",
                        care_bundle_id=choice.care_bundle.id,
                        version=choice.care_bundle.version,
                    )
                    for choice in offered
                }
            ),
            "pages": [url_for("ward.index"), url_for("ward.start")],
            "blankForms": [
                url_for("ward.offline_form", unit_id=choice.unit.id, care_bundle_id=choice.care_bundle.id)
                for choice in offered
            ],
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def offline_form(unit_id: int, care_bundle_id: str) -> ResponseReturnValue:
    """The empty form of a care bundle the unit offers, for a checklist started with no network. The
    tablet fills in the checklist id, the patient and the anchor from what was typed on the start page."""
    from service.ward.start import choices

    choice = next((c for c in choices() if c.unit.id == unit_id and c.care_bundle.id == care_bundle_id), None)
    if choice is None:
        abort(404)
    care_bundle = choice.care_bundle
    placeholder = Checklist(
        id=uuid.UUID(int=0),
        version=1,
        status=ChecklistStatus.IN_PROGRESS,
        care_bundle_id=care_bundle.id,
        care_bundle_version=care_bundle.version,
        patient_identifier="",
        patient_identifier_system="",
        unit_id=unit_id,
    )
    when = now()
    evaluation = evaluate(care_bundle, {}, when)
    fields = build_fields(care_bundle, {}, evaluation, {}, when, {})
    return render_template(
        "ward/checklist.html",
        checklist=placeholder,
        care_bundle=care_bundle,
        fields=fields,
        errors={},
        evaluation=evaluation,
        amending=False,
        conflict=None,
        base=encode_base({}),
        reason="",
        offline_start=True,
        definition_url=url_for(
            "ward.care_bundle_definition", care_bundle_id=care_bundle.id, version=care_bundle.version
        ),
    )


# -- replies to the replay queue ------------------------------------------------------------------------


def wants_json() -> bool:
    """The replay queue asks for JSON (``Accept: application/json``); a form post from a page does not."""
    return is_api_request()


def done_reply(checklist: Checklist, action: str) -> Response:
    """A change went through (or was a replay of one that had): the version stored now and its form
    values, which the tablet bases what it queued next on. The page the user waits on flashes as a post."""
    care_bundle = entry_of(checklist).care_bundle
    if request.headers.get("X-Careloop-Interactive") == "1":
        flash_done(action)
    return jsonify(
        {
            "outcome": _DONE.get(action, "started"),
            "checklist": str(checklist.id),
            "version": checklist.version,
            "status": str(checklist.status),
            "base": encode_base(form_values(care_bundle, answers_of(care_bundle, checklist))),
            "url": url_for("ward.checklist", raw_id=str(checklist.id)),
        }
    )


def invalid_reply(errors: dict[str, str], status: int = 422) -> ResponseReturnValue:
    return jsonify({"outcome": "invalid", "errors": errors}), status


def conflict_reply(checklist: Checklist) -> ResponseReturnValue:
    reply = {"outcome": "conflict", "version": checklist.version, "status": str(checklist.status)}
    return jsonify(reply), 409


# -- the service worker ---------------------------------------------------------------------------------


def shell_urls() -> list[str]:
    """Every file a ward page needs, to be cached when the service worker installs."""
    static = sorted(
        path.relative_to(STATIC).as_posix()
        for path in STATIC.rglob("*")
        if path.is_file() and path.suffix in (".js", ".css", ".html") and path != SERVICE_WORKER
    )
    return (
        [url_for("static", filename=name) for name in static]
        + [url_for("nhsuk_assets.asset", filename=name) for name in NHSUK_SHELL]
        + [url_for("idb_assets.idb_asset", filename=name) for name in IDB_FILES]
    )


@lru_cache(maxsize=4)
def _shell_version(files: tuple[Path, ...], stamp: tuple[int, ...]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()[:16]


def _shell_files() -> tuple[Path, ...]:
    nhsuk = Path(current_app.config["NHSUK_FRONTEND_DIR"])
    idb = Path(current_app.config["IDB_DIR"])
    return tuple(
        sorted(p for p in STATIC.rglob("*") if p.is_file())
        + [nhsuk / name for name in NHSUK_SHELL]
        + [idb / name for name in IDB_FILES]
    )


def service_worker() -> Response:
    files = _shell_files()
    stamp = tuple(path.stat().st_mtime_ns if path.is_file() else 0 for path in files)
    settings = {
        "version": _shell_version(files, stamp),
        "shell": shell_urls(),
        "offlinePage": url_for("static", filename="offline.html"),
        "signIn": url_for("auth.sign_in"),
    }
    body = f"const CARELOOP = {json.dumps(settings)};\n" + SERVICE_WORKER.read_text(encoding="utf-8")
    response = Response(body, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response


def register(bp: Blueprint) -> None:
    bp.after_request(mark_ward_page)
    bp.add_url_rule("/sw.js", "service_worker", service_worker)
    bp.add_url_rule("/session", "session", login_required(session_info))
    bp.add_url_rule(
        "/start/offline/<int:unit_id>/<care_bundle_id>", "offline_form", login_required(offline_form)
    )


def _template_helpers() -> dict[str, object]:
    def offline_user_key() -> str:
        user = current_user._get_current_object()
        return user_key(user) if isinstance(user, User) else ""

    return {"offline_user_key": offline_user_key, "offline_keep_seconds": keep_seconds}


def init_offline(app: Flask) -> None:
    """``/assets/idb`` and what every page's template says to the tablet (whose page it is)."""
    app.register_blueprint(assets)
    app.context_processor(_template_helpers)
