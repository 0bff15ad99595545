"""Statistical process control for compliance: p, p' and XmR charts with the Making Data Count rules.

Pure: no Flask request, no database. The compliance queries hand in one numerator and denominator per
period (``p_chart``, ``p_prime_chart``) or one value per period (``xmr_chart``), in period order; the
reporting API, CSV, HTML chart and ``MeasureReport`` read the frozen ``Chart`` that comes back. Bad input
raises ``service.errors.InvalidInput``.

The caller chooses the chart, the improvement direction, the target, the rebase points and the baseline:
nothing is switched or rebased silently. ``rebase_candidates`` proposes rebase points (for instance where
the care bundle version changes) for the user to accept or not; ``Chart.laney_recommended`` proposes a p'
chart when a p-chart's data are over-dispersed.
"""

from __future__ import annotations

from service.spc.icons import assurance_icon, signal_type, variation_icon
from service.spc.model import (
    RULE_PRECEDENCE,
    TRIAL_BELOW_POINTS,
    AssuranceIcon,
    Chart,
    ChartKind,
    ImprovementDirection,
    Point,
    Rule,
    Segment,
    Side,
    SignalType,
    VariationIcon,
)
from service.spc.pchart import LANEY_THRESHOLD, overdispersion_ratio, p_chart, p_prime_chart
from service.spc.rules import RuleInput, RuleResult, apply_rules
from service.spc.segments import rebase_candidates
from service.spc.xmr import xmr_chart

__all__ = [
    "LANEY_THRESHOLD",
    "RULE_PRECEDENCE",
    "TRIAL_BELOW_POINTS",
    "AssuranceIcon",
    "Chart",
    "ChartKind",
    "ImprovementDirection",
    "Point",
    "Rule",
    "RuleInput",
    "RuleResult",
    "Segment",
    "Side",
    "SignalType",
    "VariationIcon",
    "apply_rules",
    "assurance_icon",
    "overdispersion_ratio",
    "p_chart",
    "p_prime_chart",
    "rebase_candidates",
    "signal_type",
    "variation_icon",
    "xmr_chart",
]
