"""Properties any correct chart has, whatever the data.

- p-chart limits are symmetric about the centre unless clipped at 0 or 1.
- Reversing the improvement direction swaps improvement and concern on every flagged point and leaves the
  flags, rules and sides as they were.
- Mirroring the data (x -> n - x on a p-chart, x -> -x on an XmR chart) mirrors the lines and swaps the
  sides of every signal.
- Scaling XmR data by a positive constant scales the lines; adding a constant shifts them.

Floating point can move a value that sits exactly on a line to one side of it, so flag comparisons
after a transformation skip data with a value within a hair of any line.
"""

from __future__ import annotations

import math

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from service.spc import Chart, ImprovementDirection, Side, SignalType, p_chart, xmr_chart

EXAMPLES = settings(max_examples=150, deadline=None)
SWAPPED = {SignalType.IMPROVEMENT: SignalType.CONCERN, SignalType.CONCERN: SignalType.IMPROVEMENT}
OTHER_SIDE = {Side.HIGH: Side.LOW, Side.LOW: Side.HIGH, None: None}


@st.composite
def counts(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    denominators = draw(st.lists(st.integers(0, 400), min_size=1, max_size=40))
    numerators = [draw(st.integers(0, n)) for n in denominators]
    return numerators, denominators


rebases = st.lists(st.integers(1, 39), max_size=3)
xmr_values = st.lists(st.integers(-1000, 1000).map(float), min_size=2, max_size=40)


def _lines(chart: Chart) -> list[tuple[float | None, ...]]:
    return [(p.centre, p.upper_3sigma, p.lower_3sigma, p.upper_2sigma, p.lower_2sigma) for p in chart.points]


def _near_a_line(chart: Chart) -> bool:
    for point in chart.points:
        for line in (
            point.centre,
            point.upper_3sigma,
            point.lower_3sigma,
            point.upper_2sigma,
            point.lower_2sigma,
        ):
            if point.value is not None and line is not None and math.isclose(point.value, line, abs_tol=1e-9):
                return True
    return False


def _flags(chart: Chart) -> list[tuple[object, ...]]:
    return [(p.rules, p.rule, p.side) for p in chart.points]


@EXAMPLES
@given(counts(), st.data())
def test_p_chart_limits_are_symmetric_unless_clipped(
    data: tuple[list[int], list[int]], draw: st.DataObject
) -> None:
    numerators, denominators = data
    rebase_at = (
        draw.draw(st.lists(st.integers(1, len(numerators) - 1), max_size=2)) if len(numerators) > 1 else []
    )
    chart = p_chart(numerators, denominators, rebase_at=rebase_at)
    for p in chart.points:
        if p.is_gap:
            assert p.centre is None
            assert p.upper_3sigma is None
            assert not p.special_cause
            continue
        assert p.centre is not None
        assert p.upper_3sigma is not None
        assert p.lower_3sigma is not None
        assert p.upper_2sigma is not None
        assert p.lower_2sigma is not None
        assert 0 <= p.lower_3sigma <= p.lower_2sigma <= p.centre <= p.upper_2sigma <= p.upper_3sigma <= 1
        for upper, lower in ((p.upper_3sigma, p.lower_3sigma), (p.upper_2sigma, p.lower_2sigma)):
            if lower > 0 and upper < 1:
                assert math.isclose(upper - p.centre, p.centre - lower, rel_tol=1e-9, abs_tol=1e-12)


@EXAMPLES
@given(counts(), st.sampled_from([ImprovementDirection.INCREASE, ImprovementDirection.DECREASE]))
def test_reversing_the_direction_swaps_improvement_and_concern(
    data: tuple[list[int], list[int]], direction: ImprovementDirection
) -> None:
    reverse = (
        ImprovementDirection.DECREASE
        if direction is ImprovementDirection.INCREASE
        else ImprovementDirection.INCREASE
    )
    one, other = (p_chart(*data, improvement_direction=d) for d in (direction, reverse))
    neutral = p_chart(*data)

    assert _flags(one) == _flags(other) == _flags(neutral)
    for a, b, n in zip(one.points, other.points, neutral.points, strict=True):
        assert (a.signal is None) == (not a.special_cause)
        if a.signal is not None:
            assert b.signal is SWAPPED[a.signal]
            assert n.signal is SignalType.NEUTRAL


@EXAMPLES
@given(xmr_values, st.sampled_from([ImprovementDirection.INCREASE, ImprovementDirection.DECREASE]))
def test_reversing_the_direction_on_xmr(values: list[float], direction: ImprovementDirection) -> None:
    reverse = (
        ImprovementDirection.DECREASE
        if direction is ImprovementDirection.INCREASE
        else ImprovementDirection.INCREASE
    )
    one, other = (xmr_chart(values, improvement_direction=d) for d in (direction, reverse))
    assert _flags(one) == _flags(other)
    assert [SWAPPED.get(p.signal) if p.signal else None for p in one.points] == [
        p.signal for p in other.points
    ]


@EXAMPLES
@given(counts())
def test_mirrored_proportions_mirror_the_chart(data: tuple[list[int], list[int]]) -> None:
    numerators, denominators = data
    chart = p_chart(numerators, denominators)
    mirrored = p_chart([n - x for x, n in zip(numerators, denominators, strict=True)], denominators)
    assume(not _near_a_line(chart) and not _near_a_line(mirrored))

    for p, m in zip(chart.points, mirrored.points, strict=True):
        if p.centre is None or m.centre is None:
            assert p.centre is None
            assert m.centre is None
            continue
        assert math.isclose(m.centre, 1 - p.centre, abs_tol=1e-12)
        assert p.lower_3sigma is not None
        assert m.upper_3sigma is not None
        assert math.isclose(m.upper_3sigma, 1 - p.lower_3sigma, abs_tol=1e-12)
        assert (m.rules, m.rule, m.side) == (p.rules, p.rule, OTHER_SIDE[p.side])


@EXAMPLES
@given(xmr_values, rebases, st.booleans())
def test_negated_xmr_data_mirror_the_chart(values: list[float], rebase_at: list[int], screen: bool) -> None:
    rebase_at = [i for i in rebase_at if i < len(values)]
    chart = xmr_chart(values, rebase_at=rebase_at, screen_moving_ranges=screen)
    mirrored = xmr_chart([-v for v in values], rebase_at=rebase_at, screen_moving_ranges=screen)
    assume(not _near_a_line(chart) and not _near_a_line(mirrored))

    for p, m in zip(chart.points, mirrored.points, strict=True):
        assert (m.rules, m.rule, m.side) == (p.rules, p.rule, OTHER_SIDE[p.side])


@EXAMPLES
@given(xmr_values, st.floats(0.001, 1000), st.booleans())
def test_scaling_xmr_data_scales_the_lines(values: list[float], factor: float, screen: bool) -> None:
    chart = xmr_chart(values, screen_moving_ranges=screen)
    scaled = xmr_chart([v * factor for v in values], screen_moving_ranges=screen)

    for before, after in zip(_lines(chart), _lines(scaled), strict=True):
        for line, scaled_line in zip(before, after, strict=True):
            assert line is not None
            assert scaled_line is not None
            assert math.isclose(scaled_line, line * factor, rel_tol=1e-9, abs_tol=1e-9)
    assume(not _near_a_line(chart) and not _near_a_line(scaled))
    assert _flags(chart) == _flags(scaled)


@EXAMPLES
@given(xmr_values, st.floats(-1e4, 1e4), st.booleans())
def test_adding_a_constant_shifts_the_lines(values: list[float], offset: float, screen: bool) -> None:
    chart = xmr_chart(values, screen_moving_ranges=screen)
    shifted = xmr_chart([v + offset for v in values], screen_moving_ranges=screen)

    for before, after in zip(_lines(chart), _lines(shifted), strict=True):
        for line, shifted_line in zip(before, after, strict=True):
            assert line is not None
            assert shifted_line is not None
            assert math.isclose(shifted_line, line + offset, rel_tol=1e-9, abs_tol=1e-6)
    assume(not _near_a_line(chart) and not _near_a_line(shifted))
    assert _flags(chart) == _flags(shifted)
