"""XmR limits, flags and icons against NHSRplotthedots' own test expectations, ported as data.

Source: github.com/nhs-r-community/NHSRplotthedots at commit 050b07d7eacc011767532732f69b8fd7d6a28fd3
(version 0.2.2). Each case names the test file and snapshot it comes from. NHSRplotthedots screens
moving ranges by default (``screen_outliers = TRUE``), so these cases pass ``screen_moving_ranges=True``
unless the case says otherwise.

The series NHSRplotthedots tests with is R's ``set.seed(123); rnorm(20)`` (default RNG of R >= 3.6). Its
snapshots show only summaries, so the values are typed out below; they reproduce every statistic in
those snapshots (three means and five limits for the whole series, two means and four limits for its
halves) to the digits shown, which a mistyped value would not.
"""

from __future__ import annotations

import pytest

from service.spc import (
    AssuranceIcon,
    ImprovementDirection,
    Point,
    Rule,
    RuleInput,
    Side,
    VariationIcon,
    apply_rules,
    assurance_icon,
    xmr_chart,
)

RNORM_123 = [-0.56047565, -0.23017749, 1.55870831, 0.07050839, 0.12928774, 1.71506499, 0.46091621]
RNORM_123 += [-1.26506123, -0.68685285, -0.44566197, 1.22408180, 0.35981383, 0.40077145, 0.11068272]
RNORM_123 += [-0.55584113, 1.78691314, 0.49785048, -1.96661716, 0.70135590, -0.47279141]


def test_rnorm_series_limits_and_common_cause() -> None:
    """tests/testthat/_snaps/ptd_spc_standard.md (r1) and _snaps/ptd_spc.md (summary: 20 common cause)."""
    chart = xmr_chart(
        RNORM_123, screen_moving_ranges=True, improvement_direction=ImprovementDirection.INCREASE
    )

    point = chart.points[0]
    assert point.centre == pytest.approx(0.1416238, abs=5e-8)
    assert point.lower_3sigma == pytest.approx(-3.01138, abs=5e-6)
    assert point.upper_3sigma == pytest.approx(3.294627, abs=5e-7)
    assert not any(p.special_cause for p in chart.points)
    assert chart.variation_icon is VariationIcon.COMMON_CAUSE


def test_an_outlier_with_and_without_moving_range_screening() -> None:
    """tests/testthat/test-ptd_spc_standard.R, y[15] <- 10: snapshots r2 (screened) and r3 (not)."""
    values = list(RNORM_123)
    values[14] = 10

    screened = xmr_chart(values, screen_moving_ranges=True).points[0]
    unscreened = xmr_chart(values, screen_moving_ranges=False).points[0]

    assert screened.centre == pytest.approx(0.6694159, abs=5e-8)
    assert (screened.lower_3sigma, screened.upper_3sigma) == pytest.approx((-2.383666, 3.722497), abs=5e-7)
    assert (unscreened.lower_3sigma, unscreened.upper_3sigma) == pytest.approx(
        (-4.596625, 5.935457), abs=5e-7
    )


def test_the_default_keeps_every_moving_range_like_the_mdc_excel_tools() -> None:
    values = list(RNORM_123)
    values[14] = 10

    chart = xmr_chart(values)

    assert chart.screen_moving_ranges is False
    assert chart.points[0].upper_3sigma == pytest.approx(5.935457, abs=5e-7)


def test_halves_as_segments() -> None:
    """_snaps/ptd_spc.md, facets of 10 points: 0.0746 (-2.60, 2.75) and 0.209 (-3.28, 3.70), all common cause.

    NHSRplotthedots facets are separate charts; two segments of one chart compute the same limits.
    """
    chart = xmr_chart(RNORM_123, screen_moving_ranges=True, rebase_at=[10])

    first, second = chart.points[0], chart.points[10]
    assert (first.centre, first.lower_3sigma, first.upper_3sigma) == pytest.approx(
        (0.0746, -2.60, 2.75), abs=5e-3
    )
    assert (second.centre, second.lower_3sigma, second.upper_3sigma) == pytest.approx(
        (0.209, -3.28, 3.70), abs=5e-3
    )
    assert not any(p.special_cause for p in chart.points)
    # Fewer than 12 points: NHSRplotthedots warns of trial limits (R/ptd_add_short_group_warnings.R).
    assert [s.trial for s in chart.segments] == [True, True]


def test_two_close_points_on_opposite_sides_are_common_cause() -> None:
    """tests/testthat/test-ptd_spc_standard.R, 'only ... when they are on the same side of the mean'."""
    values = [1.0, -1.0] * 8
    values[14], values[15] = 5.5, -5.5

    chart = xmr_chart(values, screen_moving_ranges=True)

    # Screened mean moving range (13 x 2 + 6.5) / 14: 5.5 lies between the 2- and 3-sigma lines, -5.5 too.
    spread = 32.5 / 14
    assert chart.points[14].upper_2sigma == pytest.approx(2 * 2.66 / 3 * spread)
    assert chart.points[14].upper_3sigma == pytest.approx(2.66 * spread)
    assert 2 * 2.66 / 3 * spread < 5.5 < 2.66 * spread
    assert [p.special_cause for p in chart.points[-2:]] == [False, False]


def _flat(values: list[float]) -> list[RuleInput]:
    """Centre 0, 2-sigma lines at +/-2, 3-sigma limits at +/-3."""
    return [RuleInput(v, 0.0, 3.0, -3.0, 2.0, -2.0) for v in values]


@pytest.mark.parametrize(
    ("values", "flagged", "side"),
    [
        # tests/testthat/test-ptd_calculate_point_type.R, ptd_seven_point_trend and ptd_part_of_seven_trend
        ([1, 2, 3, 4, 5, 6], [], None),
        ([1, 2, 3, 3, 4, 5, 6], [], None),  # a tie breaks the trend
        ([1, 2, 3, 4, 5, 6, 7], list(range(7)), Side.HIGH),
        ([2, 1, 2, 3, 4, 5, 6, 7, 3], list(range(1, 8)), Side.HIGH),
        ([7, 6, 5, 4, 3, 2, 1], list(range(7)), Side.LOW),
        ([2, 7, 6, 5, 4, 3, 2, 1, 3], list(range(1, 8)), Side.LOW),
    ],
)
def test_trend_cases(values: list[float], flagged: list[int], side: Side | None) -> None:
    # Scaled into the 2-sigma band around a centre of 4 so that no other rule fires.
    inputs = [RuleInput(0.1 * v, 0.4, 3.0, -3.0, 2.0, -2.0) for v in values]
    results = apply_rules(inputs)
    assert [i for i, r in enumerate(results) if Rule.TREND in r.rules] == flagged
    assert {results[i].side for i in flagged} <= {side}


@pytest.mark.parametrize(
    ("sides", "flagged"),
    [
        # ptd_seven_point_one_side_mean then ptd_part_of_seven_trend
        ([1] * 6, []),
        ([1] * 6 + [-1], []),
        ([1] * 8 + [-1], list(range(8))),
        ([-1] * 8 + [1], list(range(8))),
    ],
)
def test_shift_cases(sides: list[int], flagged: list[int]) -> None:
    # Alternate 0.5 and 1.5 (times the side) so there is no trend.
    values = [s * (0.5 + i % 2) for i, s in enumerate(sides)]
    results = apply_rules(_flat(values))
    assert [i for i, r in enumerate(results) if Rule.SHIFT in r.rules] == flagged


@pytest.mark.parametrize(
    ("close", "flagged"),
    [
        # ptd_two_in_three and ptd_part_of_two_in_three, all points on one side of the mean
        ([1, 0, 1], [0, 2]),
        ([0, 1, 1], [1, 2]),
        ([1, 1, 0], [0, 1]),
        ([0, 0, 1, 0, 1, 0, 0], [2, 4]),
        ([0, 0, 1, 1, 0, 0, 0], [2, 3]),
        ([1, 0, 0, 1], []),
        ([1, 0, 0, 1, 1], [3, 4]),
    ],
)
def test_two_of_three_cases(close: list[int], flagged: list[int]) -> None:
    # Close points at 2.5 (between the 2- and 3-sigma lines), the others at 1.0 and 0.5 (no trend, no shift).
    values = [2.5 if c else 1.0 - 0.5 * (i % 2) for i, c in enumerate(close)]
    results = apply_rules(_flat(values))
    assert [i for i, r in enumerate(results) if Rule.TWO_OF_THREE in r.rules] == flagged


def test_two_of_three_does_not_ask_the_third_point_to_be_on_the_same_side() -> None:
    """A documented difference from NHSRplotthedots (test-ptd_calculate_point_type.R, "... opposite sides
    of the mean"), which flags nothing for close = (1, 0, 1) with the middle point below the mean. The
    README's rule ("2 of 3 consecutive points close to or beyond a limit on the same side", the Western
    Electric rule) flags both close points."""
    results = apply_rules(_flat([2.5, -1.0, 2.5]))
    assert [r.rule for r in results] == [Rule.TWO_OF_THREE, None, Rule.TWO_OF_THREE]


def _last(lower: float, upper: float) -> list[Point]:
    return [Point(index=0, segment=0, value=(lower + upper) / 2, upper_3sigma=upper, lower_3sigma=lower)]


@pytest.mark.parametrize(
    ("lower", "upper", "increase", "decrease"),
    [
        # tests/testthat/test-ptd_calculate_assurance_type.R: target 4 against (lpl, upl)
        (1, 3, AssuranceIcon.FAIL, AssuranceIcon.PASS),
        (5, 7, AssuranceIcon.PASS, AssuranceIcon.FAIL),
        (1, 5, AssuranceIcon.INCONSISTENT, AssuranceIcon.INCONSISTENT),
    ],
)
def test_assurance_cases(
    lower: float, upper: float, increase: AssuranceIcon, decrease: AssuranceIcon
) -> None:
    points = _last(lower, upper)
    assert assurance_icon(points, 4, ImprovementDirection.INCREASE) is increase
    assert assurance_icon(points, 4, ImprovementDirection.DECREASE) is decrease
    assert assurance_icon(points, 4, ImprovementDirection.NEUTRAL) is AssuranceIcon.NONE
    assert assurance_icon(points, None, ImprovementDirection.INCREASE) is AssuranceIcon.NONE
