"""``GET /api/compliance/measures?care_bundle=<id>``: the measures a care bundle reports (its composites,
compliance elements and timing rules over every loaded version), the words the other endpoints take. The
care bundle definitions are published (as Questionnaires), so this list needs no sign-in; everything that
counts checklists does.
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, fields

from service.care_bundles import current_catalogue
from service.compliance.api.blueprint import bp
from service.compliance.report import measures_of


class MeasuresQuery(Schema):
    care_bundle = fields.String(required=True, metadata={"description": "A care bundle id"})


class MeasureSchema(Schema):
    kind = fields.String(metadata={"description": "composite, element or rule"})
    id = fields.String()
    title = fields.String()
    detail = fields.List(fields.String(), metadata={"description": "A composite's members; a rule's element"})


@bp.get("/measures")
@bp.arguments(MeasuresQuery, location="query", as_kwargs=True, unknown=RAISE)
@bp.response(200, MeasureSchema(many=True))
def list_measures(care_bundle: str) -> list[dict[str, Any]]:
    """The measures a care bundle reports: composites (all-or-none), elements and timing rules."""
    return [
        {
            "kind": str(info.measure.kind),
            "id": info.measure.id,
            "title": info.title,
            "detail": list(info.detail),
        }
        for info in measures_of(current_catalogue(), care_bundle)
    ]
