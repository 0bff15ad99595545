"""p and p' charts against published or independently computed values; each case names where its numbers
come from.

- Montgomery, Introduction to Statistical Quality Control (6th ed. 2009, Example 7.1; 2nd ed. 1991 pp.
  152-155): frozen orange-juice cans, 30 samples of n = 50, centre 0.2313, UCL 0.4102, LCL 0.0524, samples
  15 and 23 beyond the upper limit (new cardboard stock; an inexperienced operator). The counts are
  those the R package qcc ships as ``orangejuice`` (github.com/cran/qcc, commit
  11b6ecef027c315ed547e4749949ee3a7eed502c, qcc 2.7, data/orangejuice.txt.gz and man/orangejuice.Rd,
  which cites the book and names the causes of samples 15 and 23).
- Varying n: 36 monthly proportions with denominators 40 to 84, limits computed by qicharts2 0.8.1
  (R 4.5.1) and stored by the PowerBI-SPC project (github.com/AUS-DOH-Safety-and-Quality/PowerBI-SPC,
  commit 662780f48d8675eb1e7b05d8c9656b827f1414b4, test/fixtures/golden/p/basic.qicharts2.json, generated
  by test/fixtures/golden/generators/generate_golden.R); rounded there to 4 d.p.
- Laney p': 20 periods with denominators near 280,000, limits from that project's own R calculation of
  Laney's method (same commit, test/fixtures/golden/pp/basic.qicharts2.json); rounded there to 6 d.p.
  This one is an independent implementation, not a published table.
"""

from __future__ import annotations

import random

import pytest

from service.errors import InvalidInput
from service.spc import (
    LANEY_THRESHOLD,
    ChartKind,
    ImprovementDirection,
    Rule,
    Side,
    SignalType,
    overdispersion_ratio,
    p_chart,
    p_prime_chart,
)

# qcc 2.7 data/orangejuice.txt.gz, column D, samples 1-30 (trial) then 31-54 (after the machine adjustment).
ORANGE_JUICE_TRIAL = [12, 15, 8, 10, 4, 7, 16, 9, 14, 10, 5, 6, 17, 12, 22, 8, 10, 5, 13, 11]
ORANGE_JUICE_TRIAL += [20, 18, 24, 15, 9, 12, 7, 13, 9, 6]
ORANGE_JUICE_AFTER = [9, 6, 12, 5, 6, 4, 6, 3, 7, 6, 2, 4, 3, 6, 5, 4, 8, 5, 6, 7, 5, 6, 3, 5]

# PowerBI-SPC 662780f4, test/fixtures/golden/p/basic.qicharts2.json: inputs and expected ul99/ul95/ll99.
VARYING_N_NUMERATORS = [14, 12, 15, 8, 16, 11, 12, 14, 16, 17, 5, 11, 13, 10, 14, 5, 12, 10, 11, 5, 10, 8]
VARYING_N_NUMERATORS += [11, 12, 11, 18, 18, 21, 14, 15, 18, 22, 17, 16, 20, 15]
VARYING_N_DENOMINATORS = [52, 64, 70, 60, 67, 69, 67, 54, 79, 59, 49, 61, 41, 51, 56, 43, 57, 48, 69, 41]
VARYING_N_DENOMINATORS += [40, 46, 59, 62, 57, 65, 75, 70, 76, 69, 64, 67, 84, 67, 69, 78]
VARYING_N_CENTRE = 0.2163
VARYING_N_UCL = [0.3876, 0.3707, 0.364, 0.3758, 0.3672, 0.365, 0.3672, 0.3844, 0.3553, 0.3771, 0.3928]
VARYING_N_UCL += [0.3745, 0.4092, 0.3893, 0.3814, 0.4047, 0.3799, 0.3946, 0.365, 0.4092, 0.4116, 0.3984]
VARYING_N_UCL += [0.3771, 0.3732, 0.3799, 0.3695, 0.359, 0.364, 0.358, 0.365, 0.3707, 0.3672, 0.3511]
VARYING_N_UCL += [0.3672, 0.365, 0.3562]
VARYING_N_2SIGMA_UPPER = [0.3305, 0.3193, 0.3148, 0.3226, 0.3169, 0.3155, 0.3169, 0.3284, 0.309, 0.3235]
VARYING_N_2SIGMA_UPPER += [0.334, 0.3218, 0.3449, 0.3316, 0.3264, 0.3419, 0.3254, 0.3352, 0.3155, 0.3449]
VARYING_N_2SIGMA_UPPER += [0.3465, 0.3377, 0.3235, 0.3209, 0.3254, 0.3185, 0.3114, 0.3148, 0.3108, 0.3155]
VARYING_N_2SIGMA_UPPER += [0.3193, 0.3169, 0.3062, 0.3169, 0.3155, 0.3096]
VARYING_N_LCL = [0.045, 0.0619, 0.0687, 0.0569, 0.0654, 0.0676, 0.0654, 0.0482, 0.0774, 0.0555, 0.0399]
VARYING_N_LCL += [0.0582, 0.0234, 0.0434, 0.0513, 0.028, 0.0527, 0.038, 0.0676, 0.0234, 0.021, 0.0342]
VARYING_N_LCL += [0.0555, 0.0595, 0.0527, 0.0631, 0.0737, 0.0687, 0.0746, 0.0676, 0.0619, 0.0654, 0.0816]
VARYING_N_LCL += [0.0654, 0.0676, 0.0765]

# PowerBI-SPC 662780f4, test/fixtures/golden/pp/basic.qicharts2.json: inputs, targets, ul99 and ll99.
LANEY_NUMERATORS = [266501, 264225, 276532, 281461, 269071, 261215, 270409, 279778, 270483, 270320]
LANEY_NUMERATORS += [267923, 271478, 255353, 256820, 261835, 259144, 255910, 260863, 264465, 260989]
LANEY_DENOMINATORS = [280443, 276823, 291681, 296155, 282343, 275888, 283867, 295251, 284468, 282529]
LANEY_DENOMINATORS += [279618, 283932, 266629, 268091, 276803, 271578, 266005, 273520, 278574, 273772]
LANEY_CENTRE = 0.9529
LANEY_UCL = [0.96567, 0.965753, 0.965421, 0.965326, 0.965627, 0.965775, 0.965593, 0.965345, 0.965579]
LANEY_UCL += [0.965623, 0.965689, 0.965591, 0.965996, 0.965961, 0.965753, 0.965877, 0.966012, 0.96583]
LANEY_UCL += [0.965713, 0.965824]
LANEY_LCL = [0.94013, 0.940046, 0.940378, 0.940473, 0.940173, 0.940025, 0.940207, 0.940454, 0.94022]
LANEY_LCL += [0.940177, 0.940111, 0.940208, 0.939803, 0.939839, 0.940046, 0.939923, 0.939788, 0.939969]
LANEY_LCL += [0.940087, 0.939975]


def test_orange_juice_trial_limits_match_montgomery() -> None:
    chart = p_chart(ORANGE_JUICE_TRIAL, [50] * 30)

    assert chart.kind is ChartKind.P
    for point in chart.points:
        assert point.centre == pytest.approx(0.2313, abs=5e-5)
        assert point.upper_3sigma == pytest.approx(0.4102, abs=5e-5)
        assert point.lower_3sigma == pytest.approx(0.0524, abs=5e-5)
    assert not chart.trial
    assert chart.segments[0].baseline_points == 30


def test_orange_juice_samples_15_and_23_are_beyond_the_upper_limit() -> None:
    chart = p_chart(ORANGE_JUICE_TRIAL, [50] * 30, improvement_direction=ImprovementDirection.DECREASE)

    beyond = [p.index + 1 for p in chart.points if p.rule is Rule.OUTSIDE_LIMITS]
    assert beyond == [15, 23]
    assert {chart.points[i].signal for i in (14, 22)} == {
        SignalType.CONCERN
    }  # nonconforming: lower is better


def test_orange_juice_fixed_trial_limits_show_the_improvement_after_the_adjustment() -> None:
    """Montgomery extends limits from the trial samples to samples 31-54, which run below the centre."""
    chart = p_chart(
        ORANGE_JUICE_TRIAL + ORANGE_JUICE_AFTER,
        [50] * 54,
        baseline_length=30,
        improvement_direction=ImprovementDirection.DECREASE,
    )

    assert chart.points[53].centre == pytest.approx(0.2313, abs=5e-5)
    assert not chart.points[30].in_baseline
    shift = [p.index + 1 for p in chart.points if Rule.SHIFT in p.rules]
    assert shift == list(range(34, 55))  # sample 33 (12/50 = 0.24) is above the centre
    assert {chart.points[i].signal for i in range(33, 54)} == {SignalType.IMPROVEMENT}
    assert [p.index + 1 for p in chart.points if p.rule is Rule.OUTSIDE_LIMITS] == [15, 23, 41]
    assert chart.variation_icon is not None
    assert chart.variation_icon.value == "improvement_low"


def test_orange_juice_is_not_offered_a_laney_chart() -> None:
    """n = 50 with two assignable causes: sigma_z 1.66, over-dispersed but below the threshold (a choice)."""
    chart = p_chart(ORANGE_JUICE_TRIAL, [50] * 30)

    assert chart.segments[0].overdispersion_ratio == pytest.approx(1.6609, abs=1e-4)
    assert not chart.laney_recommended
    assert chart.overdispersion_threshold == LANEY_THRESHOLD


def test_varying_denominators_match_qicharts2() -> None:
    chart = p_chart(VARYING_N_NUMERATORS, VARYING_N_DENOMINATORS)

    assert [p.centre for p in chart.points] == pytest.approx([VARYING_N_CENTRE] * 36, abs=5e-5)
    assert [p.upper_3sigma for p in chart.points] == pytest.approx(VARYING_N_UCL, abs=5e-5)
    assert [p.upper_2sigma for p in chart.points] == pytest.approx(VARYING_N_2SIGMA_UPPER, abs=5e-5)
    assert [p.lower_3sigma for p in chart.points] == pytest.approx(VARYING_N_LCL, abs=5e-5)
    assert [p.value for p in chart.points][:2] == pytest.approx([0.2692, 0.1875], abs=5e-5)


def test_laney_p_prime_matches_the_independent_r_calculation() -> None:
    chart = p_prime_chart(LANEY_NUMERATORS, LANEY_DENOMINATORS)

    assert chart.kind is ChartKind.P_PRIME
    assert chart.segments[0].centre == pytest.approx(LANEY_CENTRE, abs=5e-5)
    assert [p.upper_3sigma for p in chart.points] == pytest.approx(LANEY_UCL, abs=5e-7)
    assert [p.lower_3sigma for p in chart.points] == pytest.approx(LANEY_LCL, abs=5e-7)


def test_large_denominators_are_offered_laney_but_never_switched() -> None:
    chart = p_chart(LANEY_NUMERATORS, LANEY_DENOMINATORS)

    assert chart.kind is ChartKind.P
    assert chart.laney_recommended
    ratio = chart.segments[0].overdispersion_ratio
    assert ratio is not None
    assert ratio > 10
    assert overdispersion_ratio(LANEY_NUMERATORS, LANEY_DENOMINATORS) == pytest.approx(ratio)
    # On the binomial limits nearly every point is special cause; on p' limits none is beyond them.
    assert sum(p.rule is Rule.OUTSIDE_LIMITS for p in chart.points) > 10
    prime = p_prime_chart(LANEY_NUMERATORS, LANEY_DENOMINATORS)
    assert not any(p.rule is Rule.OUTSIDE_LIMITS for p in prime.points)


def test_binomial_data_are_rarely_offered_laney() -> None:
    """The threshold's rationale, checked: pure binomial series of 12 points stay under it (seeded)."""
    rng = random.Random(20020401)
    ratios = []
    for _ in range(300):
        counts = [sum(rng.random() < 0.2 for _ in range(50)) for _ in range(12)]
        ratios.append(overdispersion_ratio(counts, [50] * 12))
    assert all(r is not None for r in ratios)
    assert sum(r is not None and r > LANEY_THRESHOLD for r in ratios) <= 3  # at most 1 %


def test_zero_denominators_are_gaps_that_rules_skip() -> None:
    counts = [9, 9, 9, 9, 9, 9, 0, 9, 1, 1, 1, 1, 1]
    sizes = [10, 10, 10, 10, 10, 10, 0, 10, 10, 10, 10, 10, 10]

    chart = p_chart(counts, sizes)

    gap = chart.points[6]
    assert gap.is_gap
    assert gap.centre is None
    assert gap.upper_3sigma is None
    assert not gap.special_cause
    assert chart.segments[0].baseline_points == 12
    assert chart.segments[0].centre == pytest.approx((9 * 7 + 5) / 120)
    # Six points above, the gap, a seventh above: the run of 7 goes on across the gap.
    assert [p.index for p in chart.points if Rule.SHIFT in p.rules and p.side is Side.HIGH] == [
        0,
        1,
        2,
        3,
        4,
        5,
        7,
    ]


def test_limits_are_floored_at_0_and_capped_at_1() -> None:
    chart = p_chart([1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 1, 0], [20, 5, 40, 20, 5, 40, 20, 5, 40, 20, 5, 40])

    assert all(p.lower_3sigma == 0 and p.lower_2sigma is not None for p in chart.points)
    high = p_chart([19, 5, 39, 20, 5, 40, 19, 5, 40, 20, 4, 40], [20, 5, 40, 20, 5, 40, 20, 5, 40, 20, 5, 40])
    assert all(p.upper_3sigma == 1 for p in high.points)


def test_all_compliant_segment_has_limits_on_the_centre() -> None:
    chart = p_chart([10] * 12, [10] * 12)

    assert {(p.centre, p.upper_3sigma, p.lower_3sigma) for p in chart.points} == {(1.0, 1.0, 1.0)}
    assert chart.segments[0].overdispersion_ratio is None
    assert not any(p.special_cause for p in chart.points)


@pytest.mark.parametrize(
    ("numerators", "denominators"),
    [([1, 2], [2]), ([3], [2]), ([-1], [2]), ([1], [-1]), ([1.5], [2]), ([True], [2])],
)
def test_bad_counts_are_refused(numerators: list[int], denominators: list[int]) -> None:
    with pytest.raises(InvalidInput):
        p_chart(numerators, denominators)


def test_a_target_outside_0_to_1_is_refused() -> None:
    with pytest.raises(InvalidInput, match="proportion"):
        p_chart([1], [2], target=95)
