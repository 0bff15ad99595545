"""The ``/fhir`` blueprint, ``metadata``, Questionnaire read and search, ``QuestionnaireResponse/$validate``.

CodeSystem and StructureDefinition are in ``definitions``; QuestionnaireResponse in its own modules; Measure
and MeasureReport in ``measures``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from email.utils import format_datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from flask import Blueprint, Response, redirect, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from fhir_adapters.capability import capability_statement, resource_capability
from fhir_adapters.operation_outcome import Issue
from fhir_adapters.sdc_validation import to_operation_outcome, validate_questionnaire_response
from service.auth import tokens
from service.care_bundles import current_catalogue
from service.errors import InvalidInput, NotAcceptable, NotFound
from service.fhir_api.request_body import named_questionnaire, questionnaire_response_from, read_fhir_json
from service.fhir_api.responses import fhir_response
from service.fhir_api.serving import (
    CAPABILITY_DATE,
    NOT_SEARCH_PARAMS,
    RESULT_PARAMS_DOC,
    result_params,
    search_list,
)

bp = Blueprint("fhir_api", __name__, url_prefix="/fhir")

QUESTIONNAIRE_SEARCH_PARAMS = (
    ("_id", "token", "The resource id (care bundle id and version, e.g. oasi-care-bundle-1.0.0)"),
    ("url", "uri", "The canonical URL; url|version also matches the version"),
    ("version", "token", "The care bundle version"),
    ("name", "string", "Computable name; case-insensitive prefix match, or exact with name:exact"),
    ("status", "token", "draft | active | retired"),
)
QUESTIONNAIRE_RESPONSE_SEARCH_PARAMS = (
    ("identifier", "token", "system|value: the sender's identifier, or Careloop's checklist identifier"),
    (
        "subject:identifier",
        "token",
        "system|value of the patient, e.g. https://fhir.nhs.uk/Id/nhs-number|...",
    ),
    ("questionnaire", "reference", "A canonical: bare (every version) or url|version"),
    ("status", "token", "in-progress | completed | amended | entered-in-error"),
    ("authored", "date", "When the current version was made: ge, le, gt, lt or eq a date or date-time"),
)
MEASURE_REPORT_SEARCH_PARAMS = (
    (
        "measure",
        "reference",
        "Required: the Measure's canonical URL (url|version: the version served), Measure/<id> or the id",
    ),
    (
        "period",
        "date",
        "ge<date> and le<date> (2026, 2026-03 or 2026-03-02, local dates in Europe/London): every period "
        "overlapping them. Default: the 12 periods up to today. At most 106 periods",
    ),
    (
        "interval",
        "token",
        "Careloop's own: week (from Monday, the default) or month: the length of each report's period",
    ),
    (
        "unit",
        "token",
        "Careloop's own: <site code>/<unit code>, the unit reported on (MeasureReport.subject). Default: "
        "the token's unit",
    ),
    (
        "site",
        "token",
        "Careloop's own: <site code>, every unit of the site (MeasureReport.reporter); tokens bound to the "
        "site only. Default for them",
    ),
)
_KNOWN_PARAMS = frozenset(param for param, _, _ in QUESTIONNAIRE_SEARCH_PARAMS)
#: How clients authenticate, as the CapabilityStatement says (checked against the routes by a test).
SECURITY = (
    "Bearer tokens made with `flask tokens`, bound to a site (and one unit for writes), with SMART v2 system "
    "scopes (system/Questionnaire.rs, system/QuestionnaireResponse.rs, system/QuestionnaireResponse.cu; v1 "
    ".read/.write/.* accepted). Questionnaire read and search are public; a token sent with them must be "
    "valid and allow them. CodeSystem and StructureDefinition read and search are public. "
    "QuestionnaireResponse create needs "
    "system/QuestionnaireResponse.c (e.g. .cu) and a token bound to a unit; update needs .u; read, vread "
    "and history need .r, search .s; "
    "QuestionnaireResponse/$validate needs no token and stores nothing. Measure read and search are "
    "public; a token sent with them must be valid and allow them (system/Measure.rs). MeasureReport search "
    "needs system/MeasureReport.s: a token bound to a unit reports on that unit, one bound to a site on the "
    "site or any unit of it; another unit or site is not found (404). Unknown, "
    "expired or revoked token: 401; a scope that does not allow the interaction: 403."
)
_ALLOWED_FORMATS = {"json", "application/json", "application/fhir+json"}
_STATUSES = {"draft", "active", "retired", "unknown"}


def _software_version() -> str:
    try:
        return version("careloop")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def base_url() -> str:
    return request.url_root.rstrip("/") + "/fhir"


@bp.before_request
def _negotiate() -> None:
    """JSON is the only format served; say so plainly rather than send what was not asked for."""
    requested = request.args.get("_format")
    if requested is not None and requested not in _ALLOWED_FORMATS:
        raise NotAcceptable(f"_format={requested} is not supported: this server speaks FHIR JSON only")
    accept = request.accept_mimetypes
    if accept and accept.best_match(["application/fhir+json", "application/json"]) is None:
        raise NotAcceptable("only application/fhir+json is served")


@bp.get("/metadata")
def metadata() -> Response:
    return fhir_response(
        capability_statement(
            software_version=_software_version(),
            date=CAPABILITY_DATE,
            base_url=base_url(),
            security=SECURITY,
            resources=[
                resource_capability(
                    "Questionnaire",
                    documentation=(
                        "Read by a version's id (oasi-care-bundle-2.0.0). The id of a canonical URL "
                        "(.../Questionnaire/oasi-care-bundle) redirects (302) to its latest version. "
                        "Search: Prefer: handling=lenient ignores unknown parameters. "
                        f"{RESULT_PARAMS_DOC}"
                    ),
                    interactions=("read", "search-type"),
                    search_params=QUESTIONNAIRE_SEARCH_PARAMS,
                ),
                resource_capability(
                    "CodeSystem",
                    documentation=f"Each care bundle's own answer codes; public. {RESULT_PARAMS_DOC}",
                    interactions=("read", "search-type"),
                    search_params=(("url", "uri", "The canonical URL"),),
                ),
                resource_capability(
                    "StructureDefinition",
                    documentation=(
                        "The extensions Careloop defines, each read by the last segment of its URL "
                        f"(care-bundle-anchor); public. {RESULT_PARAMS_DOC}"
                    ),
                    interactions=("read", "search-type"),
                    search_params=(("url", "uri", "The canonical URL"),),
                ),
                resource_capability(
                    "QuestionnaireResponse",
                    documentation=(
                        "create: a checklist of the unit the client's token is bound to; idempotent on "
                        "identifier and If-None-Exist; subject.identifier required; questionnaire as "
                        "url|version. read: the current version; vread and history: the versions "
                        "that keep a QuestionnaireResponse (final ones and the current one). update: "
                        "If-Match required (stale: 412); the status sent saves, completes, amends or marks "
                        "it entered in error. search: 20 a page unless _count says, newest first unless "
                        f"_sort=authored. {RESULT_PARAMS_DOC}"
                    ),
                    interactions=("create", "read", "vread", "update", "history-instance", "search-type"),
                    search_params=QUESTIONNAIRE_RESPONSE_SEARCH_PARAMS,
                    operations=(("validate", "http://hl7.org/fhir/OperationDefinition/Resource-validate"),),
                ),
                resource_capability(
                    "Measure",
                    documentation=(
                        "One per care bundle ({base}/Measure/<care bundle id>, read by the care bundle id; "
                        "version: the care bundle's latest), proportion scoring, a group per composite "
                        "(composite:<id>), compliance element (element:<id>) and timing rule (rule:<id>). "
                        f"Public. {RESULT_PARAMS_DOC}"
                    ),
                    interactions=("read", "search-type"),
                    search_params=(
                        ("url", "uri", "The canonical URL; url|version also matches the version"),
                    ),
                ),
                resource_capability(
                    "MeasureReport",
                    documentation=(
                        "Computed when searched, never stored (no read: each entry's fullUrl is urn:uuid): "
                        "one summary report per week or month, oldest first, for a unit (subject) or a "
                        "site (reporter); period start and end are the period's first and last dates in "
                        "Europe/London; status pending while the period has not ended or checklists "
                        "anchored in it are in progress; each group's populations as its Measure says, "
                        "measureScore = numerator / (denominator - denominator exclusion), absent when "
                        f"that is 0. {RESULT_PARAMS_DOC}"
                    ),
                    interactions=("search-type",),
                    search_params=MEASURE_REPORT_SEARCH_PARAMS,
                ),
            ],
        )
    )


@bp.get("/Questionnaire/<string:resource_id>")
def read_questionnaire(resource_id: str) -> ResponseReturnValue:
    tokens.require("Questionnaire", "read", optional=True)  # public, but a token given must be good
    catalogue = current_catalogue()
    entry = catalogue.by_resource_id.get(resource_id)
    if entry is None and resource_id in catalogue.latest:
        # The canonical's id (``.../Questionnaire/oasi-care-bundle``) names no one version: it resolves to
        # the latest, by a redirect to that version's resource (documented in the CapabilityStatement).
        latest = catalogue.latest[resource_id]
        return redirect(url_for("fhir_api.read_questionnaire", resource_id=latest.resource_id), 302)
    if entry is None:
        raise NotFound(f"Questionnaire/{resource_id} is not known here", expression="Questionnaire.id")
    headers = {"ETag": entry.etag, "Last-Modified": _http_date(entry.served["meta"]["lastUpdated"])}
    if request.if_none_match.contains_weak(entry.etag.removeprefix("W/").strip('"')):
        return Response(status=304, headers=headers)
    return fhir_response(entry.served, headers=headers)


@bp.get("/Questionnaire")
def search_questionnaire() -> Response:
    tokens.require("Questionnaire", "search", optional=True)
    lenient = "handling=lenient" in request.headers.get("Prefer", "").replace(" ", "")
    params = result_params(request.args.to_dict(flat=False))
    predicates, used = _parse_search(request.args, lenient=lenient)
    matches = [
        entry.served
        for entry in current_catalogue()
        if all(predicate(entry.questionnaire) for predicate in predicates)
    ]
    return fhir_response(search_list("Questionnaire", params, used, matches, base_url=base_url()))


def _http_date(instant: str) -> str:
    return format_datetime(dt.datetime.fromisoformat(instant), usegmt=True)


@bp.post("/QuestionnaireResponse/$validate")
def validate_questionnaire_response_operation() -> Response:
    """Strict FHIR JSON first (``"valueBoolean": "yes"`` is an error, not coerced), then the SDC rules against
    the Questionnaire the response names. As FHIR's ``$validate`` says, a response that could be read gets 200
    with an OperationOutcome listing its problems; input that is not a JSON resource at all gets 400.
    """
    response = questionnaire_response_from(read_fhir_json())
    questionnaire = named_questionnaire(current_catalogue(), response)
    return fhir_response(to_operation_outcome(validate_questionnaire_response(questionnaire, response)))


Predicate = Callable[[Mapping[str, Any]], bool]


def _parse_search(
    args: MultiDict[str, str], *, lenient: bool
) -> tuple[list[Predicate], list[tuple[str, str]]]:
    """Predicates (repeats AND together; commas inside one OR together) and the parameters used.

    An unknown parameter is a 400, unless the client sent ``Prefer: handling=lenient`` (FHIR search): then it
    is ignored and left out of the self link, which lists only what was applied.
    """
    predicates: list[Predicate] = []
    used: list[tuple[str, str]] = []
    issues: list[Issue] = []
    for key in args:
        name, _, modifier = key.partition(":")
        if name in NOT_SEARCH_PARAMS:
            continue
        if lenient and name not in _KNOWN_PARAMS:
            continue
        for raw in args.getlist(key):
            values = [value for value in raw.split(",") if value]
            problem = _check_param(name, modifier, values)
            if problem:
                # The parameter as sent goes in diagnostics: expression holds FHIRPath only.
                issues.append(Issue("error", "invalid", f"{key}={raw[:60]}: {problem}"))
                continue
            predicates.append(_predicate(name, modifier, values))
            used.append((key, raw))
    if issues:
        raise InvalidInput("bad search parameter", issues=issues)
    return predicates, used


def _check_param(name: str, modifier: str, values: list[str]) -> str | None:
    if name not in _KNOWN_PARAMS:
        return f"unknown search parameter {name!r}; supported: {', '.join(sorted(_KNOWN_PARAMS))}"
    if modifier and not (name == "name" and modifier in ("exact", "contains")):
        return f"modifier :{modifier} is not supported on {name}"
    if not values:
        return f"{name} needs a value"
    if name == "status" and not set(values) <= _STATUSES:
        return f"status must be one of {', '.join(sorted(_STATUSES))}"
    return None


def _predicate(name: str, modifier: str, values: list[str]) -> Predicate:
    if name == "_id":
        return lambda resource: resource["id"] in values
    if name == "status":
        return lambda resource: resource["status"] in values
    if name == "version":
        return lambda resource: resource.get("version") in values
    if name == "url":
        return lambda resource: any(_url_matches(resource, value) for value in values)
    lowered = [value.casefold() for value in values]
    if modifier == "exact":
        return lambda resource: resource.get("name") in values
    if modifier == "contains":
        return lambda resource: any(value in resource.get("name", "").casefold() for value in lowered)
    return lambda resource: any(resource.get("name", "").casefold().startswith(value) for value in lowered)


def _url_matches(resource: Mapping[str, Any], value: str) -> bool:
    url, _, wanted_version = value.partition("|")
    return resource.get("url") == url and (not wanted_version or resource.get("version") == wanted_version)
