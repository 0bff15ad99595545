"""``compliance_day``: the stored outcomes of final checklists counted per care bundle, unit and anchor day
(decision 0014). Compliance reports read it instead of the outcome rows, so a two-year chart reads at most
731 days of a few rows each; ``service.compliance.daily`` keeps it in step on every lifecycle write."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import BigIntId, Model


class ComplianceDay(Model):
    """How many final checklists of one care bundle version, unit and London anchor day had one outcome of
    one measure, and whether they were counted (``counted`` False: possible duplicates set aside)."""

    __tablename__ = "compliance_day"
    __table_args__ = (
        UniqueConstraint(
            "care_bundle_id",
            "unit_id",
            "anchor_date",
            "care_bundle_version",
            "measure_kind",
            "measure_id",
            "outcome",
            "reason",
            "counted",
            name="uq_compliance_day_cell",
        ),
        # A chart: one measure of a care bundle on some units over a range of days.
        Index(
            "ix_compliance_day_measure",
            "care_bundle_id",
            "measure_kind",
            "measure_id",
            "unit_id",
            "anchor_date",
        ),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    care_bundle_id: Mapped[str] = mapped_column(String(64))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    anchor_date: Mapped[date] = mapped_column(Date)
    care_bundle_version: Mapped[str] = mapped_column(String(32))
    #: composite, element or rule.
    measure_kind: Mapped[str] = mapped_column(String(16))
    measure_id: Mapped[str] = mapped_column(String(80))
    #: met, not-met, missing, not-applicable; for a composite met, not-met or outside.
    outcome: Mapped[str] = mapped_column(String(16))
    #: The stored reason of a not-applicable outcome, '' for none.
    reason: Mapped[str] = mapped_column(Text)
    counted: Mapped[bool]
    checklists: Mapped[int]
