"""What an SPC chart is made of: the vocabularies (enums) and the frozen results callers read.

Defined once here so the reporting API, the CSV export, the HTML chart and the ``MeasureReport`` mapping
all speak the same words. Values of the enums are the strings those outputs use.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

#: Fewer baseline points than this and the limits are "trial": NHS Making Data Count (MDC) asks for at least
#: 12 points before limits are fixed (../shared/clinical/README.md section 4); NHSRplotthedots warns on
#: "n < 12" for the same reason (R/ptd_add_short_group_warnings.R).
TRIAL_BELOW_POINTS = 12


class ChartKind(StrEnum):
    """Which chart the caller chose. The module never switches from one to another by itself."""

    P = "p"
    P_PRIME = "p_prime"
    XMR = "xmr"


class ImprovementDirection(StrEnum):
    """Which way is better. NEUTRAL: no direction, so signals are neither improvement nor concern."""

    INCREASE = "increase"
    DECREASE = "decrease"
    NEUTRAL = "neutral"


class Rule(StrEnum):
    """The four MDC special-cause rules; ``RULE_PRECEDENCE`` gives their order (section 4 of the README)."""

    OUTSIDE_LIMITS = "outside_limits"
    TREND = "trend"
    TWO_OF_THREE = "two_of_three"
    SHIFT = "shift"


#: Highest precedence first: a point that belongs to several signals is reported under the first of these.
RULE_PRECEDENCE: tuple[Rule, ...] = (Rule.OUTSIDE_LIMITS, Rule.TREND, Rule.TWO_OF_THREE, Rule.SHIFT)


class Side(StrEnum):
    """Where a signal points: above the centre or increasing (HIGH), below or decreasing (LOW)."""

    HIGH = "high"
    LOW = "low"


class SignalType(StrEnum):
    """A flagged point read against the improvement direction."""

    IMPROVEMENT = "improvement"
    CONCERN = "concern"
    NEUTRAL = "neutral"


class VariationIcon(StrEnum):
    """The MDC variation icon of a chart: that of its last point with a value."""

    COMMON_CAUSE = "common_cause"
    IMPROVEMENT_HIGH = "improvement_high"
    IMPROVEMENT_LOW = "improvement_low"
    CONCERN_HIGH = "concern_high"
    CONCERN_LOW = "concern_low"
    NEUTRAL_HIGH = "neutral_high"
    NEUTRAL_LOW = "neutral_low"


class AssuranceIcon(StrEnum):
    """The MDC assurance icon: can the process be relied on to meet the target?"""

    PASS = "pass"
    FAIL = "fail"
    INCONSISTENT = "inconsistent"
    NONE = "none"


@dataclass(frozen=True)
class Point:
    """One period of the chart.

    A gap (a p-chart period with denominator 0, or an XmR period with no value) has ``value`` None, no
    centre and no limits, and is never counted by any rule. ``upper_2sigma``/``lower_2sigma`` bound the MDC
    "close to limit" zone: a value beyond them but inside the 3-sigma limits is close to a limit. Limits are
    None when the segment's baseline cannot give them (an XmR baseline of one point has no moving range).
    ``rules`` holds every rule the point belongs to; ``rule`` and ``side`` are those of the highest-precedence
    one, and ``signal`` reads that side against the improvement direction.
    """

    index: int
    segment: int
    value: float | None
    numerator: int | None = None
    denominator: int | None = None
    centre: float | None = None
    upper_3sigma: float | None = None
    lower_3sigma: float | None = None
    upper_2sigma: float | None = None
    lower_2sigma: float | None = None
    in_baseline: bool = False
    rules: frozenset[Rule] = frozenset()
    rule: Rule | None = None
    side: Side | None = None
    signal: SignalType | None = None

    @property
    def is_gap(self) -> bool:
        return self.value is None

    @property
    def special_cause(self) -> bool:
        return self.rule is not None


@dataclass(frozen=True)
class Segment:
    """Periods ``start`` (inclusive) to ``stop`` (exclusive), with limits from their own baseline.

    A chart is split into segments at the rebase points the user chose. The baseline is the first
    ``baseline_points`` points with a value (all of them unless a fixed baseline length was asked for);
    ``trial`` is true when that is fewer than ``TRIAL_BELOW_POINTS``. ``mean_moving_range`` is set for XmR
    charts; ``overdispersion_ratio`` (Laney's sigma_z) for p and p' charts, None when it cannot be computed.
    """

    index: int
    start: int
    stop: int
    baseline_points: int
    trial: bool
    centre: float | None
    mean_moving_range: float | None = None
    overdispersion_ratio: float | None = None


@dataclass(frozen=True)
class Chart:
    """A computed chart: its points, its segments, its icons, and the options it was computed with.

    ``laney_recommended`` is only ever advice: true on a p or p' chart when a segment's over-dispersion
    ratio exceeds ``overdispersion_threshold`` (on a p-chart: offer a p' chart; on a p' chart: the data
    still call for one); the caller decides which chart to draw. Always False on XmR charts.
    ``screen_moving_ranges`` is None except on XmR charts.
    """

    kind: ChartKind
    points: tuple[Point, ...]
    segments: tuple[Segment, ...]
    improvement_direction: ImprovementDirection
    target: float | None
    variation_icon: VariationIcon | None
    assurance_icon: AssuranceIcon
    rebase_at: tuple[int, ...] = ()
    baseline_length: int | None = None
    screen_moving_ranges: bool | None = None
    overdispersion_threshold: float | None = None
    laney_recommended: bool = False

    @property
    def trial(self) -> bool:
        """True when any segment's limits are trial limits."""
        return any(segment.trial for segment in self.segments)
