"""p-charts with varying denominators, and Laney's p' chart for over-dispersed large denominators.

p-chart (Montgomery, Introduction to Statistical Quality Control, chapter 7; README section 4): over a
segment's baseline p = sum(x) / sum(n); at each period sigma_i = sqrt(p (1 - p) / n_i); limits
p +/- 3 sigma_i and the MDC "close to limit" line p +/- 2 sigma_i, floored at 0 and capped at 1.

p' chart (Laney, "Improved control charts for attributes", Quality Engineering 14(4), 2002, 531-537):
with large denominators the binomial sigma_i is often far smaller than the real period-to-period variation
and every point looks special. Laney standardises each baseline point, z_i = (p_i - p) / sigma_i, takes
the moving-range sigma of the z values, sigma_z = mean |z_i - z_(i-1)| / 1.128, and widens the limits to
p +/- 3 sigma_i sigma_z. sigma_z is reported on every p and p' segment as ``overdispersion_ratio``: about 1
when the binomial model holds, above 1 when the data are over-dispersed.

The module never switches chart: ``p_chart`` draws a p-chart and, when a segment's ratio exceeds
``overdispersion_threshold``, sets ``laney_recommended`` so the caller can offer a p' chart; drawing one
is the caller's choice (``p_prime_chart``).

Periods with denominator 0 are kept as gaps: no value, no centre, no limits; they are not in any
baseline and never counted by a rule (rules skip them; see ``service.spc.rules``).
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

#: d2 for moving ranges of two points: sigma = mean moving range / 1.128 (Laney 2002 uses the same).
D2 = 1.128

#: A choice, not a published cut-off (Laney 2002 gives none): recommend p' when the real variation is at
#: least twice what the binomial model predicts. Why 2 rather than "above 1": sigma_z from a short baseline
#: is noisy. In binomial data (n = 50, p = 0.2; 2,000 simulated series) the 99th percentile of sigma_z was
#: 1.71 for 12 points and 1.47 for 24, so a lower cut-off would offer p' for pure binomial noise, and with
#: small denominators excess variation is more often special causes to investigate than a reason to widen
#: the limits (Montgomery's orange-juice data, with two assignable causes, give 1.66). With the large
#: denominators p' charts are meant for, sigma_z is usually far above 2. Callers may pass another value.
LANEY_THRESHOLD = 2.0


def p_chart(
    numerators: Sequence[int],
    denominators: Sequence[int],
    *,
    improvement_direction: ImprovementDirection = ImprovementDirection.NEUTRAL,
    target: float | None = None,
    rebase_at: Sequence[int] = (),
    baseline_length: int | None = None,
    overdispersion_threshold: float = LANEY_THRESHOLD,
) -> Chart:
    """A p-chart of ``numerators[i] / denominators[i]`` per period (e.g. compliant checklists / checklists).

    ``rebase_at``: period indexes where the user chose to start new limits. ``baseline_length``: compute
    each segment's limits from its first k points only (fixed limits), else from all its points.
    ``target`` is a proportion (0 to 1) for the assurance icon.
    """
    return _proportion_chart(
        ChartKind.P,
        numerators,
        denominators,
        improvement_direction,
        target,
        rebase_at,
        baseline_length,
        overdispersion_threshold,
    )


def p_prime_chart(
    numerators: Sequence[int],
    denominators: Sequence[int],
    *,
    improvement_direction: ImprovementDirection = ImprovementDirection.NEUTRAL,
    target: float | None = None,
    rebase_at: Sequence[int] = (),
    baseline_length: int | None = None,
    overdispersion_threshold: float = LANEY_THRESHOLD,
) -> Chart:
    """Laney's p' chart: as ``p_chart`` with each segment's limits widened (or narrowed) by its sigma_z.

    A segment whose sigma_z cannot be computed (fewer than two neighbouring baseline points) has a centre
    but no limits; one whose centre is 0 or 1 has limits on the centre, as on a p-chart.
    """
    return _proportion_chart(
        ChartKind.P_PRIME,
        numerators,
        denominators,
        improvement_direction,
        target,
        rebase_at,
        baseline_length,
        overdispersion_threshold,
    )


def overdispersion_ratio(numerators: Sequence[int], denominators: Sequence[int]) -> float | None:
    """Laney's sigma_z over the whole series taken as one baseline; None when it cannot be computed."""
    _check_counts(numerators, denominators)
    values = _proportions(numerators, denominators)
    baseline = [i for i, n in enumerate(denominators) if n > 0]
    return _sigma_z(values, denominators, baseline, _pooled(numerators, denominators, baseline))


def _proportion_chart(
    kind: ChartKind,
    numerators: Sequence[int],
    denominators: Sequence[int],
    direction: ImprovementDirection,
    target: float | None,
    rebase_at: Sequence[int],
    baseline_length: int | None,
    threshold: float,
) -> Chart:
    _check_counts(numerators, denominators)
    if target is not None and not 0 <= target <= 1:
        raise InvalidInput(f"a p-chart target is a proportion from 0 to 1; got {target}")
    values = _proportions(numerators, denominators)
    plans = plan_segments([n > 0 for n in denominators], rebase_at, baseline_length)
    lines: list[Lines | None] = [None] * len(values)
    segments = []
    for plan in plans:
        segment, segment_lines = _segment(kind, plan, numerators, denominators, values)
        segments.append(segment)
        lines[plan.start : plan.stop] = segment_lines
    points = build_points(values, plans, lines, direction, numerators, denominators)
    return Chart(
        kind=kind,
        points=points,
        segments=tuple(segments),
        improvement_direction=direction,
        target=target,
        variation_icon=variation_icon(points),
        assurance_icon=assurance_icon(points, target, direction),
        rebase_at=tuple(sorted(set(rebase_at))),
        baseline_length=baseline_length,
        overdispersion_threshold=threshold,
        laney_recommended=any(
            s.overdispersion_ratio is not None and s.overdispersion_ratio > threshold for s in segments
        ),
    )


def _segment(
    kind: ChartKind,
    plan: SegmentPlan,
    numerators: Sequence[int],
    denominators: Sequence[int],
    values: Sequence[float | None],
) -> tuple[Segment, list[Lines | None]]:
    lines: list[Lines | None] = [None] * (plan.stop - plan.start)
    centre = _pooled(numerators, denominators, plan.baseline)
    ratio = None if centre is None else _sigma_z(values, denominators, plan.baseline, centre)
    segment = plan.segment(centre, overdispersion_ratio=ratio)
    if centre is None:
        return segment, lines
    degenerate = centre in (0.0, 1.0)
    widening = 1.0 if kind is ChartKind.P or degenerate else ratio
    for i in plan.present:
        if widening is None:
            lines[i - plan.start] = Lines(centre)
            continue
        sigma = math.sqrt(centre * (1 - centre) / denominators[i]) * widening
        lines[i - plan.start] = Lines(
            centre,
            upper_3sigma=min(1.0, centre + 3 * sigma),
            lower_3sigma=max(0.0, centre - 3 * sigma),
            upper_2sigma=min(1.0, centre + 2 * sigma),
            lower_2sigma=max(0.0, centre - 2 * sigma),
        )
    return segment, lines


def _pooled(numerators: Sequence[int], denominators: Sequence[int], periods: Sequence[int]) -> float | None:
    """sum(x) / sum(n) over ``periods``: not the mean of the proportions, so large periods weigh more."""
    total = sum(denominators[i] for i in periods)
    return None if total == 0 else sum(numerators[i] for i in periods) / total


def _sigma_z(
    values: Sequence[float | None], denominators: Sequence[int], baseline: Sequence[int], centre: float | None
) -> float | None:
    if centre is None or centre in (0.0, 1.0):
        return None  # every sigma_i is 0: nothing to standardise by
    z: list[float | None] = [None] * len(values)
    for i in baseline:
        value = values[i]
        if value is not None:
            z[i] = (value - centre) / math.sqrt(centre * (1 - centre) / denominators[i])
    ranges = adjacent_moving_ranges(z, baseline)
    return fmean(ranges) / D2 if ranges else None


def _proportions(numerators: Sequence[int], denominators: Sequence[int]) -> list[float | None]:
    return [x / n if n > 0 else None for x, n in zip(numerators, denominators, strict=True)]


def _check_counts(numerators: Sequence[int], denominators: Sequence[int]) -> None:
    if len(numerators) != len(denominators):
        raise InvalidInput(f"{len(numerators)} numerators but {len(denominators)} denominators")
    for i, (x, n) in enumerate(zip(numerators, denominators, strict=True)):
        if isinstance(x, bool) or isinstance(n, bool) or not isinstance(x, int) or not isinstance(n, int):
            raise InvalidInput(f"period {i}: numerator and denominator must be whole counts")
        if n < 0 or not 0 <= x <= n:
            raise InvalidInput(f"period {i}: need 0 <= numerator <= denominator; got {x} / {n}")
