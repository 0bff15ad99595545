"""Database tables. Import models from here: ``from service.models import Checklist``.

Tables: ``site``, ``unit``, ``unit_care_bundle``, ``user_account``, ``user_unit``, ``checklist``, ``answer``,
the judgement of a checklist (``element_outcome``, ``rule_outcome``, ``composite_outcome``, ``check_result``),
the history of each checklist (``checklist_change``, with the snapshot of every final version), ``delivery``
(the outbox), ``api_token`` (system clients of ``/fhir``) and ``audit_event``. Every timestamp is
timezone-aware UTC (:class:`~service.models.base.TZDateTime`); schema changes go through Alembic
(``migrations/``).
"""

from __future__ import annotations

from fhir_adapters.vocabulary import NHS_NUMBER_SYSTEM
from service.checklists.outcomes import Outcome, TimingStatus
from service.models.audit import AuditAction, AuditEvent, AuditOutcome
from service.models.base import TZDateTime, utcnow
from service.models.changes import REASONED_OPERATIONS, ChangeOperation, ChecklistChange
from service.models.checklists import (
    FINAL_STATUSES,
    Answer,
    CheckFailure,
    Checklist,
    ChecklistSource,
    ChecklistStatus,
    CompositeResult,
    ElementOutcome,
    RuleResult,
)
from service.models.compliance import ComplianceDay
from service.models.delivery import Delivery, DeliveryStatus
from service.models.organisation import EhrAuth, Role, Site, Unit, UnitCareBundle, User, user_unit
from service.models.tokens import ApiToken

__all__ = [
    "FINAL_STATUSES",
    "NHS_NUMBER_SYSTEM",
    "REASONED_OPERATIONS",
    "Answer",
    "ApiToken",
    "AuditAction",
    "AuditEvent",
    "AuditOutcome",
    "ChangeOperation",
    "CheckFailure",
    "Checklist",
    "ChecklistChange",
    "ChecklistSource",
    "ChecklistStatus",
    "ComplianceDay",
    "CompositeResult",
    "Delivery",
    "EhrAuth",
    "DeliveryStatus",
    "ElementOutcome",
    "Outcome",
    "Role",
    "RuleResult",
    "Site",
    "TZDateTime",
    "TimingStatus",
    "Unit",
    "UnitCareBundle",
    "User",
    "user_unit",
    "utcnow",
]
