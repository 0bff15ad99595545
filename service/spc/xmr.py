"""XmR (individuals and moving range) charts as NHS Making Data Count draws them.

Over a segment's baseline: centre = mean; mean moving range (mR) = mean |x_i - x_(i-1)| over neighbouring
baseline periods; process limits centre +/- 2.66 mR (3 sigma, as 2.66 = 3 / 1.128); "close to limit" line
centre +/- (2/3 x 2.66) mR (2 sigma). Source: ../shared/clinical/README.md section 4, and NHSRplotthedots
(commit 050b07d7) R/ptd_spc_standard.R, which uses the same constants.

Moving-range screening: NHSRplotthedots by default (``screen_outliers = TRUE`` in R/ptd_spc_options.R)
drops moving ranges of 3.267 mR or more (it keeps those strictly below) and recomputes mR once; the MDC
Excel tools keep every moving range. ``screen_moving_ranges`` defaults to False, a choice: QI leads in
NHS trusts compare our charts with the MDC Excel tools, which keep every moving range, and screening can
only narrow the limits. Callers matching NHSRplotthedots pass True. A baseline whose moving ranges are all
0 is not screened.

Periods with value None are gaps: no centre, no limits, never counted by a rule.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import fmean

from service.errors import InvalidInput
from service.spc.icons import assurance_icon, variation_icon
from service.spc.model import (
    Chart,
    ChartKind,
    ImprovementDirection,
    Segment,
)
from service.spc.segments import Lines, SegmentPlan, adjacent_moving_ranges, build_points, plan_segments

#: Process limits are centre +/- LIMIT x mean moving range (MDC; NHSRplotthedots ``limit``).
LIMIT = 2.66
#: The 2-sigma "close to limit" line (NHSRplotthedots ``limitclose``).
CLOSE = 2 * LIMIT / 3
#: D4 for moving ranges of two points: screening drops moving ranges at or above this multiple of mR.
MOVING_RANGE_SCREEN = 3.267


def xmr_chart(
    values: Sequence[float | None],
    *,
    improvement_direction: ImprovementDirection = ImprovementDirection.NEUTRAL,
    target: float | None = None,
    rebase_at: Sequence[int] = (),
    baseline_length: int | None = None,
    screen_moving_ranges: bool = False,
) -> Chart:
    """An XmR chart of one value per period (None for a period without one).

    ``rebase_at``: period indexes where the user chose to start new limits. ``baseline_length``: compute
    each segment's limits from its first k points only (fixed limits), else from all its points. A segment
    with a single baseline point has a centre but no limits.
    """
    for i, value in enumerate(values):
        if value is not None and (isinstance(value, bool) or not math.isfinite(value)):
            raise InvalidInput(f"period {i}: an XmR value must be a finite number or None; got {value!r}")
    if target is not None and not math.isfinite(target):
        raise InvalidInput(f"the target must be a finite number; got {target!r}")
    plans = plan_segments([value is not None for value in values], rebase_at, baseline_length)
    lines: list[Lines | None] = [None] * len(values)
    segments = []
    for plan in plans:
        segment, segment_lines = _segment(plan, values, screen_moving_ranges)
        segments.append(segment)
        lines[plan.start : plan.stop] = segment_lines
    points = build_points(values, plans, lines, improvement_direction)
    return Chart(
        kind=ChartKind.XMR,
        points=points,
        segments=tuple(segments),
        improvement_direction=improvement_direction,
        target=target,
        variation_icon=variation_icon(points),
        assurance_icon=assurance_icon(points, target, improvement_direction),
        rebase_at=tuple(sorted(set(rebase_at))),
        baseline_length=baseline_length,
        screen_moving_ranges=screen_moving_ranges,
    )


def mean_moving_range(
    values: Sequence[float | None], periods: Sequence[int], *, screen: bool
) -> float | None:
    """The mean moving range over neighbouring ``periods``, optionally screened; None without any range."""
    ranges = adjacent_moving_ranges(values, periods)
    if not ranges:
        return None
    mean = fmean(ranges)
    if screen and mean > 0:
        mean = fmean(r for r in ranges if r < MOVING_RANGE_SCREEN * mean)
    return mean


def _segment(
    plan: SegmentPlan, values: Sequence[float | None], screen: bool
) -> tuple[Segment, list[Lines | None]]:
    lines: list[Lines | None] = [None] * (plan.stop - plan.start)
    baseline = [value for i in plan.baseline if (value := values[i]) is not None]
    centre = fmean(baseline) if baseline else None
    spread = mean_moving_range(values, plan.baseline, screen=screen)
    segment = plan.segment(centre, mean_moving_range=spread)
    if centre is None:
        return segment, lines
    for i in plan.present:
        lines[i - plan.start] = (
            Lines(centre)
            if spread is None
            else Lines(
                centre,
                upper_3sigma=centre + LIMIT * spread,
                lower_3sigma=centre - LIMIT * spread,
                upper_2sigma=centre + CLOSE * spread,
                lower_2sigma=centre - CLOSE * spread,
            )
        )
    return segment, lines
