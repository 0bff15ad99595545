"""Splitting a series into segments at the user's rebase points, choosing each baseline, building points.

Shared by the p, p' and XmR charts: they differ only in how a segment's centre and limits come from its
baseline. Rebasing is always the user's choice: ``rebase_candidates`` only proposes where (for instance
where a new care bundle version came into force); nothing here rebases by itself.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from service.errors import InvalidInput
from service.spc.icons import signal_type
from service.spc.model import TRIAL_BELOW_POINTS, ImprovementDirection, Point, Segment
from service.spc.rules import RuleInput, apply_rules


@dataclass(frozen=True)
class Lines:
    """The centre and limits drawn at one period; limits None when the baseline cannot give them."""

    centre: float
    upper_3sigma: float | None = None
    lower_3sigma: float | None = None
    upper_2sigma: float | None = None
    lower_2sigma: float | None = None


@dataclass(frozen=True)
class SegmentPlan:
    """A segment's periods, those with a value, and those of its baseline (all in period order)."""

    index: int
    start: int
    stop: int
    present: tuple[int, ...]
    baseline: tuple[int, ...]

    def segment(
        self,
        centre: float | None,
        *,
        mean_moving_range: float | None = None,
        overdispersion_ratio: float | None = None,
    ) -> Segment:
        """The segment this plan makes, with its centre and spread; trial under ``TRIAL_BELOW_POINTS``."""
        return Segment(
            index=self.index,
            start=self.start,
            stop=self.stop,
            baseline_points=len(self.baseline),
            trial=len(self.baseline) < TRIAL_BELOW_POINTS,
            centre=centre,
            mean_moving_range=mean_moving_range,
            overdispersion_ratio=overdispersion_ratio,
        )


def rebase_candidates(labels: Sequence[Hashable]) -> tuple[int, ...]:
    """Indexes where the per-period label changes (e.g. the care bundle version in force): candidates only.

    The result can be offered to the user and, if chosen, passed back as ``rebase_at``; a chart is never
    rebased because a label changed. MDC advises rebasing only after an understood, sustained signal.
    """
    return tuple(i for i in range(1, len(labels)) if labels[i] != labels[i - 1])


def check_options(periods: int, rebase_at: Sequence[int], baseline_length: int | None) -> tuple[int, ...]:
    """The rebase points sorted and de-duplicated; InvalidInput for ones outside 1..periods-1."""
    points = tuple(sorted(set(rebase_at)))
    bad = [i for i in points if not 0 < i < periods]
    if bad:
        raise InvalidInput(f"rebase points must be period indexes from 1 to {periods - 1}; got {bad}")
    if baseline_length is not None and baseline_length < 1:
        raise InvalidInput(f"a fixed baseline needs at least one point; got {baseline_length}")
    return points


def plan_segments(
    has_value: Sequence[bool], rebase_at: Sequence[int], baseline_length: int | None
) -> list[SegmentPlan]:
    """Segments split at ``rebase_at``; each baseline is its first ``baseline_length`` points with a value.

    Without a fixed length the baseline is every point of the segment with a value. The length counts
    points, not periods, so gaps do not shorten a baseline.
    """
    bounds = [0, *check_options(len(has_value), rebase_at, baseline_length), len(has_value)]
    plans = []
    for index, (start, stop) in enumerate(zip(bounds, bounds[1:], strict=False)):
        present = tuple(i for i in range(start, stop) if has_value[i])
        baseline = present if baseline_length is None else present[:baseline_length]
        plans.append(SegmentPlan(index, start, stop, present, baseline))
    return plans


def adjacent_moving_ranges(values: Sequence[float | None], periods: Sequence[int]) -> list[float]:
    """|x_i - x_(i-1)| for each pair of neighbouring periods that are both in ``periods``.

    A gap drops the moving ranges on both sides of it, as NHSRplotthedots does (R's ``diff`` gives NA),
    rather than bridging periods that were not neighbours.
    """
    chosen = set(periods)
    ranges = []
    for i in periods:
        previous, current = values[i - 1] if i > 0 else None, values[i]
        if i - 1 in chosen and previous is not None and current is not None:
            ranges.append(abs(current - previous))
    return ranges


def build_points(
    values: Sequence[float | None],
    plans: Sequence[SegmentPlan],
    lines: Sequence[Lines | None],
    direction: ImprovementDirection,
    numerators: Sequence[int] | None = None,
    denominators: Sequence[int] | None = None,
) -> tuple[Point, ...]:
    """Points with their lines, and the rules applied segment by segment over the points with a value."""
    points: list[Point] = []
    for plan in plans:
        ruled, inputs = [], []
        for i in plan.present:
            value, line = values[i], lines[i]
            if value is not None and line is not None:
                ruled.append(i)
                inputs.append(
                    RuleInput(
                        value,
                        line.centre,
                        line.upper_3sigma,
                        line.lower_3sigma,
                        line.upper_2sigma,
                        line.lower_2sigma,
                    )
                )
        results = dict(zip(ruled, apply_rules(inputs), strict=True))
        baseline = set(plan.baseline)
        for i in range(plan.start, plan.stop):
            line, result = lines[i], results.get(i)
            side = None if result is None else result.side
            points.append(
                Point(
                    index=i,
                    segment=plan.index,
                    value=values[i],
                    numerator=None if numerators is None else numerators[i],
                    denominator=None if denominators is None else denominators[i],
                    centre=None if line is None else line.centre,
                    upper_3sigma=None if line is None else line.upper_3sigma,
                    lower_3sigma=None if line is None else line.lower_3sigma,
                    upper_2sigma=None if line is None else line.upper_2sigma,
                    lower_2sigma=None if line is None else line.lower_2sigma,
                    in_baseline=i in baseline,
                    rules=frozenset() if result is None else result.rules,
                    rule=None if result is None else result.rule,
                    side=side,
                    signal=None if side is None else signal_type(side, direction),
                )
            )
    return tuple(points)
