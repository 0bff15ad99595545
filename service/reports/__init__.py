"""``/reports``: compliance charts for QI leads (issue 11), scoped to their units and sites.

The index lists the care bundles offered on the units the signed-in QI lead (or admin) may report on; the
chart page draws one measure from :func:`service.compliance.report.build_report`, the builder the API uses
too, as server-rendered SVG (:mod:`service.reports.svg`) over the table of its counts.
"""

from __future__ import annotations

from service.reports.views import bp, reportable_units

__all__ = ["bp", "reportable_units"]
