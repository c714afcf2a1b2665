"""How long threads were on CPUs at the same time, from their on-CPU strips: what the strips prove."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.model.overlap import overlap
from app.model.timeline import ON_CPU, Span

MS = 1_000_000


def strip(lane: int, start_ms: float, end_ms: float, busy_ms: float | None = None) -> Span:
    busy = 0 if busy_ms is None else int(busy_ms * MS)
    return Span(lane, ON_CPU, ON_CPU, int(start_ms * MS), int(end_ms * MS), busy_ns=busy)


def together_ms(strips: list[Span], lanes: set[int], cores: int, window: tuple[int, int] | None = None) -> float:
    """The overlap's time together, ms: there is one (some of `lanes` have strips there)."""
    found = overlap(strips, lanes, cores, window)
    assert found is not None, "an overlap, the strips of these lanes being there"
    return found.together_ms


def test_intervals_side_by_side_overlap_where_they_meet():
    found = overlap([strip(0, 0, 10), strip(1, 4, 20)], {0, 1}, cores=2)
    assert found is not None and (found.together_ms, found.span_ms) == (6.0, 20.0)


def test_threads_taking_turns_never_overlap():
    turns = [strip(i % 2, 5 * i, 5 * i + 5) for i in range(10)]
    found = overlap(turns, {0, 1}, cores=2)
    assert found is not None and found.together_ms == 0.0


def test_two_half_busy_bins_prove_no_overlap_and_two_fuller_ones_prove_the_excess():
    assert together_ms([strip(0, 0, 10, 5), strip(1, 0, 10, 5)], {0, 1}, 2) == 0.0
    assert together_ms([strip(0, 0, 10, 8), strip(1, 0, 10, 7)], {0, 1}, 2) == 5.0


def test_on_one_core_nothing_overlaps_whatever_the_strips_say():
    assert together_ms([strip(0, 0, 10), strip(1, 0, 10)], {0, 1}, cores=1) == 0.0


def test_lanes_left_out_and_no_strips_count_for_nothing():
    assert together_ms([strip(0, 0, 10), strip(2, 0, 10)], {0, 1}, cores=2) == 0.0
    assert overlap([], {0, 1}, cores=2) is None


@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 50), st.integers(1, 20), st.integers(0, 100)), max_size=12),
    st.integers(1, 4),
)
def test_the_overlap_never_exceeds_what_any_pair_of_lanes_could_have_spent_together(raw, cores):
    strips = [strip(lane, start, start + width, width * pct / 100) for lane, start, width, pct in raw]
    found = overlap(strips, {0, 1, 2, 3}, cores)
    if found is None:
        assert not strips
        return
    assert 0 <= found.together_ms <= found.span_ms
    busy: dict[int, int] = {}
    for s in strips:
        busy[s.lane] = busy.get(s.lane, 0) + (s.busy_ns or s.end_ns - s.start_ns)
    # At each moment two lanes are on CPUs, one of them is not the busiest: at most the others' CPU time.
    ranked = sorted(busy.values(), reverse=True)
    assert found.together_ms * MS <= sum(ranked[1:]) + 0.05 * MS  # + the rounding to 0.1 ms
    if cores == 1:
        assert found.together_ms == 0


def test_within_a_window_only_the_busy_time_the_strips_must_hold_there_counts():
    # raw intervals are cut at the window; a half-busy bin cut to its last fifth must hold nothing there
    assert together_ms([strip(0, 0, 10), strip(1, 0, 10)], {0, 1}, 2, window=(4 * MS, 6 * MS)) == 2.0
    assert overlap([strip(0, 0, 10, 5), strip(1, 0, 10)], {0, 1}, 2, window=(8 * MS, 10 * MS)) is not None
    assert together_ms([strip(0, 0, 10, 5), strip(1, 0, 10)], {0, 1}, 2, window=(8 * MS, 10 * MS)) == 0.0
    assert together_ms([strip(0, 0, 10, 9), strip(1, 0, 10)], {0, 1}, 2, window=(8 * MS, 10 * MS)) == 1.0
    assert overlap([strip(0, 0, 10)], {0}, 2, window=(20 * MS, 30 * MS)) is None
