"""Reading signals against the improvement direction, and the MDC variation and assurance icons.

Sources: ../shared/clinical/README.md section 4 and NHSRplotthedots (commit 050b07d7):
R/ptd_calculate_point_type.R (``ptd_point_type``), R/geom_ptd_icon.R (``ptd_get_icons``: the variation
icon is that of the last point) and R/ptd_calculate_assurance_type.R (the assurance icon from the last
point's process limits).
"""

from __future__ import annotations

from collections.abc import Sequence

from service.spc.model import (
    AssuranceIcon,
    ImprovementDirection,
    Point,
    Side,
    SignalType,
    VariationIcon,
)

_VARIATION_ICONS = {
    (SignalType.IMPROVEMENT, Side.HIGH): VariationIcon.IMPROVEMENT_HIGH,
    (SignalType.IMPROVEMENT, Side.LOW): VariationIcon.IMPROVEMENT_LOW,
    (SignalType.CONCERN, Side.HIGH): VariationIcon.CONCERN_HIGH,
    (SignalType.CONCERN, Side.LOW): VariationIcon.CONCERN_LOW,
    (SignalType.NEUTRAL, Side.HIGH): VariationIcon.NEUTRAL_HIGH,
    (SignalType.NEUTRAL, Side.LOW): VariationIcon.NEUTRAL_LOW,
}


def signal_type(side: Side, direction: ImprovementDirection) -> SignalType:
    """A signal on the better side is improvement, on the other concern; with no direction, neutral."""
    if direction is ImprovementDirection.NEUTRAL:
        return SignalType.NEUTRAL
    better = Side.HIGH if direction is ImprovementDirection.INCREASE else Side.LOW
    return SignalType.IMPROVEMENT if side is better else SignalType.CONCERN


def last_with_value(points: Sequence[Point]) -> Point | None:
    return next((point for point in reversed(points) if point.value is not None), None)


def variation_icon(points: Sequence[Point]) -> VariationIcon | None:
    """The icon of the last point with a value (trailing gaps are skipped); None for a chart with none."""
    last = last_with_value(points)
    if last is None:
        return None
    if last.signal is None or last.side is None:
        return VariationIcon.COMMON_CAUSE
    return _VARIATION_ICONS[(last.signal, last.side)]


def assurance_icon(
    points: Sequence[Point], target: float | None, direction: ImprovementDirection
) -> AssuranceIcon:
    """Whether the process will consistently meet ``target``, judged on the last point's 3-sigma limits.

    A target above the upper limit fails a process that should increase (every value falls short) and
    passes one that should decrease; below the lower limit the other way round; between the limits (or on
    one) the process passes and fails by chance: inconsistent. NONE without a target, without an
    improvement direction (as NHSRplotthedots), or when the last point has no limits. On a p-chart the
    limits vary with the denominator, so the last point's limits stand for the current process: that is the
    one it will next be judged against.
    """
    last = last_with_value(points)
    if target is None or direction is ImprovementDirection.NEUTRAL or last is None:
        return AssuranceIcon.NONE
    if last.upper_3sigma is None or last.lower_3sigma is None:
        return AssuranceIcon.NONE
    increasing = direction is ImprovementDirection.INCREASE
    if target > last.upper_3sigma:
        return AssuranceIcon.FAIL if increasing else AssuranceIcon.PASS
    if target < last.lower_3sigma:
        return AssuranceIcon.PASS if increasing else AssuranceIcon.FAIL
    return AssuranceIcon.INCONSISTENT
