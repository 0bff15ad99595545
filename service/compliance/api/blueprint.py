"""The ``/api/compliance`` blueprint and the Api (flask-smorest) it is registered on."""

from __future__ import annotations

from flask_smorest import Api, Blueprint

api = Api()
bp = Blueprint(
    "compliance_api",
    __name__,
    url_prefix="/api/compliance",
    description="Compliance of care bundles per unit or site and period, with SPC charts.",
)
#: OpenAPI security of the endpoints that count checklists: a bearer token or a signed-in session.
SIGNED_IN: list[dict[str, list[str]]] = [{"bearerToken": []}, {"session": []}]
