"""Errors under ``/fhir`` become ``OperationOutcome``s, routing errors too (they never reach a blueprint);
errors under ``/api`` become JSON."""

from __future__ import annotations

import logging
import traceback
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from fhir_adapters.operation_outcome import Issue
from service.errors import CareloopError
from service.extensions import db
from service.fhir_api.responses import outcome_response

log = logging.getLogger(__name__)

_HTTP_ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    412: "conflict",
    413: "too-long",
    415: "not-supported",
    422: "processing",
    429: "throttled",
}


def _is_fhir_request() -> bool:
    return request.path == "/fhir" or request.path.startswith("/fhir/")


def _challenge(response: Response) -> Response:
    """RFC 6750 section 3: a 401 names the scheme (and ``invalid_token`` when a token was sent)."""
    if response.status_code == 401:
        sent = "Authorization" in request.headers
        response.headers["WWW-Authenticate"] = 'Bearer realm="careloop"' + (
            ', error="invalid_token"' if sent else ""
        )
    return response


def _is_api_request() -> bool:
    return request.path.startswith("/api/")


def _api_error(status: int, message: str, errors: Any = None) -> Response:
    """The JSON error of ``/api`` (flask-smorest's shape): never HTML, never the client's values echoed."""
    body: dict[str, Any] = {"code": status, "status": HTTPStatus(status).phrase, "message": message}
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CareloopError)
    def domain_error(error: CareloopError) -> Response | tuple[str, int]:
        if _is_fhir_request():
            return _challenge(outcome_response(error.issues, error.status))
        if _is_api_request():
            return _challenge(_api_error(error.status, error.message))
        return error.message, error.status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response | HTTPException:
        if _is_api_request():
            # webargs puts the fields it refused in ``data["messages"]`` (names and problems, not values).
            messages = getattr(error, "data", {}).get("messages") if hasattr(error, "data") else None
            return _challenge(_api_error(error.code or 500, error.description or error.name, messages))
        if not _is_fhir_request():
            return error
        status = error.code or 500
        code = _HTTP_ISSUE_CODES.get(status, "exception")
        issue = Issue("error", code, error.description or error.name)
        response = _challenge(outcome_response([issue], status))
        if status == 405 and error.get_response().headers.get("Allow"):
            response.headers["Allow"] = error.get_response().headers["Allow"]
        return response

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception) -> Response | tuple[str, int]:
        # Log the type and the frames, never the message, body or arguments: they may hold patient data
        # (a database error's message quotes the values it was given).
        log.error(
            "unhandled %s on %s %s\n%s",
            type(error).__name__,
            request.method,
            request.url_rule,
            "".join(traceback.format_tb(error.__traceback__)),
        )
        db.session.rollback()
        if _is_fhir_request():
            return outcome_response([Issue("fatal", "exception", "Internal server error")], 500)
        if _is_api_request():
            return _api_error(500, "Internal server error")
        return "Internal server error", 500
