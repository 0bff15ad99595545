"""The NHS.UK frontend (npm ``nhsuk-frontend``), served from this origin under ``/assets/nhsuk/``.

No request may leave the app's origin: hospital networks block or log third-party hosts, and a page must not
tell anyone else that it was opened. The compiled stylesheet loads the Frutiger web font from the NHS.UK
asset host and points its icons at ``/assets/images/``; it is served rewritten, once per process: rules
loading anything from another origin are dropped (``static/css/careloop.css`` sets the system font stack
instead) and the icon URLs are made relative to the stylesheet. A stylesheet with any other reference to
another origin stops the app at start-up rather than be served.

Every file under ``/static`` and ``/assets/nhsuk`` is sent with ``Cache-Control: public, max-age`` of
``SEND_FILE_MAX_AGE_DEFAULT`` (an hour) and an ETag, so a returning browser fetches only the page: after the
hour it revalidates (304, no body). The URLs carry no version, because the scripts import each other by
plain relative URLs: a changed file reaches a browser within the hour. :func:`init_compression` compresses
responses (pages, CSS, JavaScript, JSON, SVG) for clients that accept it.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Final

from flask import Blueprint, Flask, Response, abort, current_app, request, send_from_directory
from flask.typing import ResponseReturnValue
from flask_compress import Compress
from werkzeug.security import safe_join

from service.config import ConfigError

log = logging.getLogger(__name__)

bp = Blueprint("nhsuk_assets", __name__, url_prefix="/assets/nhsuk")

STYLESHEET: Final = "nhsuk-frontend.min.css"
SCRIPT: Final = "nhsuk-frontend.min.js"
#: What is served from the package: built assets only, not its Nunjucks and Sass sources.
_SERVED_SUFFIXES: Final = frozenset({".css", ".js", ".mjs", ".map", ".svg", ".png", ".ico", ".json"})

_FONT_FACE = re.compile(r"@font-face\s*\{[^{}]*\}", re.IGNORECASE)
_URL = re.compile(r"""url\(\s*(?P<quote>['"]?)(?P<url>[^'")]*)(?P=quote)\s*\)""", re.IGNORECASE)
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*:", re.IGNORECASE)
_IMPORT = re.compile(r"@import\b", re.IGNORECASE)
_SOURCE_MAP = re.compile(r"/\*#\s*sourceMappingURL=[^*]*\*/")
#: Where the package's Sass puts its images by default; the same tree is served under our prefix.
_PACKAGE_ASSETS = "/assets/"
#: The endpoints that send files: Flask's ``/static`` and the NHS.UK assets.
_FILE_ENDPOINTS: Final = frozenset({"static", f"{bp.name}.asset", "idb_assets.idb_asset"})


class ForeignReference(ValueError):
    """The stylesheet refers to another origin in a way :func:`localise_css` does not know how to remove."""


def leaves_origin(url: str) -> bool:
    """True for a URL a browser would fetch from somewhere else (``https:``, ``//host``; not ``data:``)."""
    url = url.strip()
    if url.startswith("//"):
        return True
    scheme = _SCHEME.match(url)
    return scheme is not None and scheme.group().lower() != "data:"


def localise_css(css: str) -> str:
    """``css`` with every rule that loads from another origin removed and the package's asset URLs made
    relative to the stylesheet. Raises :class:`ForeignReference` if another origin is still referred to."""

    def font_face(match: re.Match[str]) -> str:
        foreign = any(leaves_origin(url.group("url")) for url in _URL.finditer(match.group()))
        return "" if foreign else match.group()

    def relative(match: re.Match[str]) -> str:
        url = match.group("url").strip()
        if url.startswith(_PACKAGE_ASSETS):
            return f"url({match.group('quote')}{url.removeprefix('/')}{match.group('quote')})"
        return match.group()

    # The source map describes the original file, not this one.
    localised = _SOURCE_MAP.sub("", _URL.sub(relative, _FONT_FACE.sub(font_face, css)))
    foreign = sorted(
        {url.group("url") for url in _URL.finditer(localised) if leaves_origin(url.group("url"))}
    )
    if foreign:
        raise ForeignReference(f"refers to another origin: {', '.join(foreign)}")
    if _IMPORT.search(localised):
        raise ForeignReference("has an @import, which is not served")
    return localised


@lru_cache(maxsize=16)
def _localised(path: Path, mtime_ns: int) -> str:
    return localise_css(path.read_text(encoding="utf-8"))


def localised_stylesheet(directory: Path, filename: str) -> str | None:
    """The localised text of a stylesheet in ``directory`` (cached per file version), None if absent."""
    joined = safe_join(str(directory), filename)
    if joined is None:
        return None
    path = Path(joined)
    if not path.is_file():
        return None
    try:
        return _localised(path, path.stat().st_mtime_ns)
    except ForeignReference as error:
        raise ForeignReference(f"{path} {error}") from error


def _directory() -> Path:
    return Path(current_app.config["NHSUK_FRONTEND_DIR"])


@bp.get("/<path:filename>")
def asset(filename: str) -> ResponseReturnValue:
    if Path(filename).suffix not in _SERVED_SUFFIXES:
        abort(404)
    if not filename.endswith(".css"):
        return send_from_directory(_directory(), filename)
    css = localised_stylesheet(_directory(), filename)
    if css is None:
        abort(404)
    response = current_app.response_class(css, mimetype="text/css")
    _cache_as_a_file(response, filename)
    response.add_etag()
    return response.make_conditional(request)


def _cache_as_a_file(response: Response, filename: str) -> None:
    """The caching ``send_from_directory`` gives a file, for the stylesheet that is served from memory."""
    max_age = current_app.get_send_file_max_age(filename)
    if max_age:
        response.cache_control.public = True
        response.cache_control.max_age = max_age
    else:
        response.cache_control.no_cache = True


def _buffer_files(response: Response) -> Response:
    """Read a file being sent into memory (they are small), so that it is compressed as a page is."""
    if request.endpoint in _FILE_ENDPOINTS and response.is_streamed:
        response.direct_passthrough = False
        response.make_sequence()  # the file is closed with the response
    return response


def init_compression(app: Flask) -> None:
    """Compress responses with Flask-Compress, choosing by the request's ``Accept-Encoding`` (zstd, br,
    gzip, deflate): the NHS.UK stylesheet alone is 278 KB, 30 KB gzipped.

    A file is a streamed response, which the library compresses differently: without gzip (a client that
    takes only gzip would get it whole), with no 304 against the compressed ETag outside Flask's ``static``
    endpoint, and leaving the file for the garbage collector to close. So files are read into memory just
    before compression (:func:`_buffer_files` runs before the library's hook: ``after_request`` functions
    run in reverse order of registration) and are compressed like pages. One ``Compress`` per app: it
    keeps the app's settings on itself.
    """
    Compress(app)
    app.after_request(_buffer_files)


def init_frontend(app: Flask) -> None:
    """Serve the NHS.UK frontend; check it is there, and its stylesheet can be localised, at start-up.

    Raises :class:`ConfigError` in production when it is missing; development and testing log a warning
    and run with unstyled pages.
    """
    directory = Path(app.config["NHSUK_FRONTEND_DIR"])
    try:
        css = localised_stylesheet(directory, STYLESHEET)
    except ForeignReference as error:
        raise ConfigError(f"NHS.UK frontend stylesheet {error}; update service/home/frontend.py") from error
    if css is None or not (directory / SCRIPT).is_file():
        message = (
            f"the NHS.UK frontend is not at {directory} ({STYLESHEET} and {SCRIPT}): run `npm ci` in the "
            "project folder (make run does), or set CARELOOP_NHSUK_FRONTEND_DIR to its dist/nhsuk folder"
        )
        if app.config["ENV"] == "production":
            raise ConfigError(message)
        log.warning("%s; pages will be unstyled", message)
    app.register_blueprint(bp)
    init_compression(app)
