"""Hand-built series whose flags are known: rule precedence, edge cases, segments, baselines, icons."""

from __future__ import annotations

import pytest

from service.errors import InvalidInput
from service.spc import (
    RULE_PRECEDENCE,
    AssuranceIcon,
    ImprovementDirection,
    Rule,
    RuleInput,
    Side,
    SignalType,
    VariationIcon,
    apply_rules,
    p_chart,
    rebase_candidates,
    xmr_chart,
)

INCREASE, DECREASE, NEUTRAL = (
    ImprovementDirection.INCREASE,
    ImprovementDirection.DECREASE,
    ImprovementDirection.NEUTRAL,
)


def _flat(values: list[float]) -> list[RuleInput]:
    return [RuleInput(v, 0.0, 3.0, -3.0, 2.0, -2.0) for v in values]


def test_precedence_is_the_mdc_order() -> None:
    assert RULE_PRECEDENCE == (Rule.OUTSIDE_LIMITS, Rule.TREND, Rule.TWO_OF_THREE, Rule.SHIFT)


def test_a_point_is_reported_under_its_highest_precedence_rule() -> None:
    # Seven rising points above the centre, the last two beyond the 2-sigma line, the last beyond 3 sigma.
    results = apply_rules(_flat([0.2, 0.4, 0.6, 0.8, 1.0, 2.5, 3.5]))

    assert [r.rule for r in results] == [Rule.TREND] * 6 + [Rule.OUTSIDE_LIMITS]
    assert results[5].rules == {Rule.TREND, Rule.TWO_OF_THREE, Rule.SHIFT}
    assert results[6].rules == frozenset(Rule)
    assert {r.side for r in results} == {Side.HIGH}


def test_a_point_on_a_limit_is_inside() -> None:
    results = apply_rules(_flat([3.0, -3.0, 2.0, 0.5, 2.0]))
    assert [r.rule for r in results] == [None] * 5


def test_a_point_on_the_centre_breaks_a_shift() -> None:
    values = [1.0, 0.5] * 3 + [0.0] + [1.0]
    assert not any(Rule.SHIFT in r.rules for r in apply_rules(_flat(values)))
    values[6] = 1.0
    assert [i for i, r in enumerate(apply_rules(_flat(values))) if Rule.SHIFT in r.rules] == list(range(8))


def test_the_turning_point_of_two_trends_takes_the_later_direction() -> None:
    rising, falling = [0.1 * i for i in range(7)], [0.1 * i for i in range(5, -1, -1)]
    results = apply_rules(_flat(rising + falling))  # peak at index 6, in both trends

    assert all(Rule.TREND in r.rules for r in results)
    assert [r.side for r in results] == [Side.HIGH] * 6 + [Side.LOW] * 7


def test_two_of_three_low_side() -> None:
    results = apply_rules(_flat([-2.5, 0.5, -2.1, 0.5]))
    assert [(r.rule, r.side) for r in results] == [
        (Rule.TWO_OF_THREE, Side.LOW),
        (None, None),
        (Rule.TWO_OF_THREE, Side.LOW),
        (None, None),
    ]


def test_improvement_and_concern_follow_the_direction() -> None:
    values = [0.0, 0.1] * 6 + [10.0]
    up, down, neutral = (xmr_chart(values, improvement_direction=d) for d in (INCREASE, DECREASE, NEUTRAL))

    assert up.points[-1].signal is SignalType.IMPROVEMENT
    assert up.variation_icon is VariationIcon.IMPROVEMENT_HIGH
    assert down.points[-1].signal is SignalType.CONCERN
    assert down.variation_icon is VariationIcon.CONCERN_HIGH
    assert neutral.points[-1].signal is SignalType.NEUTRAL
    assert neutral.variation_icon is VariationIcon.NEUTRAL_HIGH
    low = xmr_chart([0.0, 0.1] * 6 + [-10.0], improvement_direction=DECREASE)
    assert low.variation_icon is VariationIcon.IMPROVEMENT_LOW
    assert xmr_chart([0.0, 0.1] * 6 + [-10.0], improvement_direction=INCREASE).variation_icon is (
        VariationIcon.CONCERN_LOW
    )
    assert xmr_chart([0.0, 0.1] * 6 + [-10.0]).variation_icon is VariationIcon.NEUTRAL_LOW


def test_variation_icon_is_the_last_point_with_a_value() -> None:
    chart = xmr_chart([0.0, 0.1] * 6 + [10.0, None])
    assert chart.points[-1].is_gap
    assert chart.variation_icon is VariationIcon.NEUTRAL_HIGH
    assert xmr_chart([None, None]).variation_icon is None
    assert xmr_chart([0.0, 0.1] * 7).variation_icon is VariationIcon.COMMON_CAUSE


def test_assurance_on_a_p_chart_uses_the_last_points_limits() -> None:
    # p = 0.5; the last period has n = 10000, so its limits hug the centre; earlier ones (n = 4) are wide.
    chart = p_chart([2] * 11 + [5000], [4] * 11 + [10000], improvement_direction=INCREASE, target=0.6)

    assert chart.points[0].upper_3sigma == 1.0  # 0.6 lies inside the n = 4 limits
    assert chart.assurance_icon is AssuranceIcon.FAIL
    assert p_chart([2] * 11 + [5000], [4] * 11 + [10000], target=0.6).assurance_icon is AssuranceIcon.NONE


def test_segments_compute_their_own_limits_and_rules() -> None:
    values = [1.0, 2.0] * 6 + [11.0, 12.0] * 6

    plain = xmr_chart(values, improvement_direction=INCREASE)
    rebased = xmr_chart(values, improvement_direction=INCREASE, rebase_at=[12])

    assert any(p.special_cause for p in plain.points)
    assert [s.centre for s in rebased.segments] == [1.5, 11.5]
    assert [(s.start, s.stop, s.baseline_points, s.trial) for s in rebased.segments] == [
        (0, 12, 12, False),
        (12, 24, 12, False),
    ]
    assert [p.segment for p in rebased.points] == [0] * 12 + [1] * 12
    assert not any(p.special_cause for p in rebased.points)
    assert rebased.rebase_at == (12,)


def test_a_fixed_baseline_uses_the_first_points_only() -> None:
    values: list[float | None] = [1.0, 2.0, None] + [1.0, 2.0] * 5 + [5.0] * 3

    chart = xmr_chart(values, baseline_length=12)

    segment = chart.segments[0]
    assert segment.baseline_points == 12
    assert not segment.trial
    assert segment.centre == 1.5
    assert [p.in_baseline for p in chart.points] == [True, True, False] + [True] * 10 + [False] * 3
    # Moving ranges next to the gap are dropped: 10 ranges (all of 1) from the 12 baseline points.
    assert segment.mean_moving_range == 1.0
    assert all(p.rule is Rule.OUTSIDE_LIMITS for p in chart.points[-3:])


def test_fewer_than_12_baseline_points_are_trial() -> None:
    assert xmr_chart([1.0, 2.0] * 5 + [None, 1.0]).trial  # 11 points with a value
    assert not xmr_chart([1.0, 2.0] * 6).trial
    assert xmr_chart([1.0, 2.0] * 10, baseline_length=8).segments[0].trial


def test_a_single_point_segment_has_a_centre_but_no_limits() -> None:
    chart = xmr_chart([1.0, 2.0, 3.0], rebase_at=[2])
    last = chart.points[2]
    assert last.centre == 3.0
    assert last.upper_3sigma is None
    assert not last.special_cause


def test_rebase_candidates_are_where_the_label_changes() -> None:
    versions = ["1.0.0", "1.0.0", "1.1.0", "1.1.0", "1.1.0", "2.0.0"]
    assert rebase_candidates(versions) == (2, 5)
    assert rebase_candidates([]) == ()
    # Only proposed: a chart given no rebase points has one segment whatever the labels say.
    assert len(xmr_chart([1.0] * 6).segments) == 1


@pytest.mark.parametrize("rebase_at", [[0], [6], [-1]])
def test_rebase_points_must_be_inside_the_series(rebase_at: list[int]) -> None:
    with pytest.raises(InvalidInput, match="rebase"):
        xmr_chart([1.0] * 6, rebase_at=rebase_at)


def test_bad_xmr_input_is_refused() -> None:
    with pytest.raises(InvalidInput):
        xmr_chart([1.0, float("nan")])
    with pytest.raises(InvalidInput):
        xmr_chart([1.0, 2.0], baseline_length=0)
    with pytest.raises(InvalidInput):
        xmr_chart([1.0, 2.0], target=float("inf"))
