"""The four Making Data Count special-cause rules, in their precedence order.

Sources: NHS England "Making Data Count" as summarised in ../shared/clinical/README.md section 4, and
NHSRplotthedots (github.com/nhs-r-community/NHSRplotthedots, commit 050b07d7, R/ptd_calculate_point_type.R
and R/ptd_spc_standard.R), read for how edge cases are settled:

1. ``OUTSIDE_LIMITS``: a point strictly beyond a 3-sigma limit (a point on the limit is inside).
2. ``TREND``: 7 consecutive points each strictly higher (or each strictly lower) than the one before,
   i.e. 6 changes in one direction; an equal consecutive value breaks the trend (NHSRplotthedots takes
   ``sign(diff(y))``, which is 0 for ties). All 7 points are flagged; a point where a rising trend meets a
   falling one takes the direction of the later trend (NHSRplotthedots: "use right side").
3. ``TWO_OF_THREE``: within 3 consecutive points, 2 or more strictly beyond the 2-sigma line on the same
   side ("close to or beyond a limit"); the points beyond that line are flagged, the third is not.
4. ``SHIFT``: 7 or more consecutive points strictly above (or strictly below) the centre line; a point
   on the centre line breaks the run. Every point of the run is flagged.

Two choices differ from NHSRplotthedots, following the README's wording and the Western Electric rule it
comes from: rule 3 counts points beyond the 3-sigma limit as "close to or beyond" (NHSRplotthedots counts
only points between the 2- and 3-sigma lines), and does not ask the third point of the window to be on the
same side of the mean (NHSRplotthedots does).

The rules run within one segment over its points with a value, in period order: gaps are skipped,
neither counted nor breaking a run, because a period without data says nothing about the process.
Each point is reported under the highest-precedence rule it belongs to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from service.spc.model import RULE_PRECEDENCE, Rule, Side

#: Points in a trend or shift (MDC; README section 4).
RUN_LENGTH = 7


@dataclass(frozen=True)
class RuleInput:
    """One point with a value, with the lines the rules compare it against (limits may be unknown)."""

    value: float
    centre: float
    upper_3sigma: float | None = None
    lower_3sigma: float | None = None
    upper_2sigma: float | None = None
    lower_2sigma: float | None = None


@dataclass(frozen=True)
class RuleResult:
    """Every rule a point belongs to, and the rule and side it is reported under (None: common cause)."""

    rules: frozenset[Rule] = frozenset()
    rule: Rule | None = None
    side: Side | None = None


def outside_limits(points: Sequence[RuleInput]) -> list[Side | None]:
    """Rule 1: the side of each point strictly beyond a 3-sigma limit."""
    sides: list[Side | None] = []
    for point in points:
        if point.upper_3sigma is not None and point.value > point.upper_3sigma:
            sides.append(Side.HIGH)
        elif point.lower_3sigma is not None and point.value < point.lower_3sigma:
            sides.append(Side.LOW)
        else:
            sides.append(None)
    return sides


def trend(values: Sequence[float], length: int = RUN_LENGTH) -> list[Side | None]:
    """Rule 2: points in ``length`` consecutive strictly rising (HIGH) or falling (LOW) values."""
    sides: list[Side | None] = [None] * len(values)
    for start in range(len(values) - length + 1):
        window = values[start : start + length]
        changes = [later - earlier for earlier, later in zip(window, window[1:], strict=False)]
        side = Side.HIGH if all(c > 0 for c in changes) else Side.LOW if all(c < 0 for c in changes) else None
        if side is not None:
            # Later windows overwrite earlier ones: the turning point takes the later trend's direction.
            sides[start : start + length] = [side] * length
    return sides


def two_of_three(points: Sequence[RuleInput]) -> list[Side | None]:
    """Rule 3: points beyond a 2-sigma line with another beyond the same line within 3 consecutive points."""
    sides: list[Side | None] = [None] * len(points)
    high = [p.upper_2sigma is not None and p.value > p.upper_2sigma for p in points]
    low = [p.lower_2sigma is not None and p.value < p.lower_2sigma for p in points]
    for beyond, side in ((high, Side.HIGH), (low, Side.LOW)):
        for start in range(len(points) - 2):
            window = range(start, start + 3)
            if sum(beyond[i] for i in window) >= 2:
                for i in window:
                    if beyond[i]:
                        sides[i] = side
    return sides


def shift(points: Sequence[RuleInput], length: int = RUN_LENGTH) -> list[Side | None]:
    """Rule 4: points in a run of ``length`` or more strictly on one side of the centre line."""
    signs = [Side.HIGH if p.value > p.centre else Side.LOW if p.value < p.centre else None for p in points]
    sides: list[Side | None] = [None] * len(points)
    run_start = 0
    for i in range(1, len(signs) + 1):
        if i == len(signs) or signs[i] != signs[run_start]:
            if signs[run_start] is not None and i - run_start >= length:
                sides[run_start:i] = [signs[run_start]] * (i - run_start)
            run_start = i
    return sides


def apply_rules(points: Sequence[RuleInput]) -> list[RuleResult]:
    """All four rules over one segment's points with a value (in period order, gaps removed)."""
    by_rule = {
        Rule.OUTSIDE_LIMITS: outside_limits(points),
        Rule.TREND: trend([p.value for p in points]),
        Rule.TWO_OF_THREE: two_of_three(points),
        Rule.SHIFT: shift(points),
    }
    results = []
    for i in range(len(points)):
        fired = [(rule, side) for rule in RULE_PRECEDENCE if (side := by_rule[rule][i]) is not None]
        if fired:
            results.append(RuleResult(frozenset(rule for rule, _ in fired), fired[0][0], fired[0][1]))
        else:
            results.append(RuleResult())
    return results
