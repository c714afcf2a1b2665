"""A lane's on-CPU turns cut into the timeline's bins, as drawn (app/model/cpu_bins.py). Pure.

tests/model/test_oncpu.py folds turns through the whole timeline; these feed the bins directly, so each
span drawn can be checked whole: its bounds, how much of it was busy, its CPU and how its last turn ended.
"""

from __future__ import annotations

from app.model.cpu_bins import MIXED_CPUS, CpuBins

T0 = 1_000_000_007  # a clock reading: bins are counted from the run's start, not from 0
RES = 100

Drawn = tuple[int, int, int, int, str]
Turn = tuple[int, int, int, str]  # start and end from T0, CPU, how it ended


def fed(*turns: Turn, res: int = RES) -> tuple[CpuBins, list[Drawn]]:
    bins, out = CpuBins(), list[Drawn]()
    for start, end, cpu, how in turns:
        bins.add(T0 + start, T0 + end, T0, res, out, cpu, how)
    return bins, out


def at(*spans: Drawn) -> list[Drawn]:
    """Spans given from T0, as drawn."""
    return [(T0 + start, T0 + end, busy, cpu, how) for start, end, busy, cpu, how in spans]


def closed(bins: CpuBins, out: list[Drawn]) -> list[Drawn]:
    """What is drawn once the lane's turns are over: the open bin closed, the run of full bins drawn."""
    bins.close_bin(out)
    bins.flush_run(out)
    return out


def test_a_turn_within_one_bin_draws_that_bin_as_busy_as_the_turn_and_how_it_ended():
    bins, out = fed((10, 30, 1, "preempted"))
    assert out == [] and bins.pending() == at((0, 100, 20, 1, ""))
    assert closed(bins, out) == at((0, 100, 20, 1, "preempted"))


def test_turns_filling_whole_bins_join_in_one_span_drawn_once_they_stop():
    bins, out = fed((0, 300, 2, "slept"))
    assert out == [] and bins.pending() == at((0, 300, 300, 2, ""))
    assert closed(bins, out) == at((0, 300, 300, 2, "slept"))


def test_a_turn_over_whole_bins_and_part_of_one_draws_both_the_part_keeps_how_it_ended():
    bins, out = fed((0, 250, 1, "slept"))
    assert bins.pending() == at((0, 200, 200, 1, ""), (200, 300, 50, 1, ""))
    assert closed(bins, out) == at((0, 200, 200, 1, ""), (200, 300, 50, 1, "slept"))


def test_a_turn_starting_within_a_bin_fills_its_rest_then_whole_bins():
    bins, out = fed((50, 250, 3, "preempted"))
    assert out == at((0, 100, 50, 3, "preempted"))  # the first bin, half busy, can no longer change
    assert bins.pending() == at((100, 200, 100, 3, ""), (200, 300, 50, 3, ""))
    assert closed(bins, out) == at((0, 100, 50, 3, "preempted"), (100, 200, 100, 3, ""), (200, 300, 50, 3, "preempted"))


def test_a_bin_busy_all_but_the_samplers_rounding_counts_as_full_and_joins_the_next():
    bins, out = fed((0, 60, 1, ""), (62, 100, 1, ""), (100, 200, 1, "slept"))  # 98 of 100 ns, then a whole bin
    assert closed(bins, out) == at((0, 200, 200, 1, "slept"))


def test_a_bin_busy_less_than_that_is_drawn_apart_as_busy_as_it_was():
    bins, out = fed((0, 60, 1, ""), (63, 100, 1, "preempted"), (100, 200, 1, "slept"))  # 97 of 100 ns
    assert closed(bins, out) == at((0, 100, 97, 1, "preempted"), (100, 200, 100, 1, "slept"))


def test_a_bin_keeps_the_cpu_its_turns_ran_on_or_says_they_ran_on_several():
    bins, out = fed((0, 10, 1, ""), (20, 30, 1, ""), (110, 120, 0, ""), (130, 140, 1, ""))
    assert closed(bins, out) == at((0, 100, 20, 1, ""), (100, 200, 20, MIXED_CPUS, ""))


def test_whole_bins_in_a_row_keep_their_cpu_or_say_they_ran_on_several():
    bins, out = fed((0, 100, 1, ""), (100, 200, 1, "slept"))
    assert closed(bins, out) == at((0, 200, 200, 1, "slept"))
    bins, out = fed((0, 100, 1, ""), (100, 200, 2, "slept"))
    assert closed(bins, out) == at((0, 200, 200, MIXED_CPUS, "slept"))


def test_full_bins_apart_are_drawn_apart():
    bins, out = fed((0, 100, 1, "a"), (200, 300, 1, "b"))
    assert closed(bins, out) == at((0, 100, 100, 1, "a"), (200, 300, 100, 1, "b"))


def test_a_partly_busy_bin_draws_the_full_ones_before_it_first():
    bins, out = fed((0, 200, 1, "a"), (210, 220, 1, "b"), (400, 410, 2, "c"))
    assert out == at((0, 200, 200, 1, "a"), (200, 300, 10, 1, "b"))
    assert closed(bins, out)[2:] == at((400, 500, 10, 2, "c"))


def test_when_the_axis_grows_the_next_bin_starts_where_the_last_one_drawn_ended():
    bins, out = fed((10, 20, 1, "a"))
    bins.add(T0 + 150, T0 + 160, T0, 300, out, 1, "b")  # the resolution is now 300 ns: this bin began at 0
    assert out == at((0, 100, 10, 1, "a"))
    assert bins.pending() == at((100, 300, 10, 1, ""))
    bins.add(T0 + 300, T0 + 900, T0, 300, out, 1, "c")
    assert closed(bins, out) == at((0, 100, 10, 1, "a"), (100, 300, 10, 1, "b"), (300, 900, 600, 1, "c"))


def test_a_turn_from_where_the_last_bin_ended_over_the_rest_of_a_grown_bin_is_drawn_full():
    bins, out = fed((0, 100, 1, "a"))  # full: the next bin starts at 100
    bins.add(T0 + 100, T0 + 300, T0, 300, out, 1, "b")  # covers [100, 300), the rest of the grown bin [0, 300)
    assert closed(bins, out) == at((0, 300, 300, 1, "b"))


def test_nothing_is_pending_before_a_turn_or_after_all_is_drawn():
    bins = CpuBins()
    assert bins.pending() == []
    bins, out = fed((0, 150, 1, ""))
    closed(bins, out)
    assert bins.pending() == []


def test_a_bin_nearly_full_drawn_last_keeps_its_cpu_and_how_its_last_turn_ended():
    bins, out = fed((0, 60, 3, "slept"), (62, 100, 3, "preempted"))
    assert closed(bins, out) == at((0, 100, 100, 3, "preempted"))  # drawn full: 98 ns is the sampler's rounding


def test_a_run_whose_clock_started_at_zero_is_binned_from_zero():
    """Bins count from the run's start wherever the clock stood then, 0 included (as the timeline's tests feed)."""
    bins, out = CpuBins(), list[Drawn]()
    bins.add(0, 30, 0, RES, out, 1, "slept")
    assert bins.pending() == [(0, 100, 30, 1, "")]
    bins.add(100, 300, 0, RES, out, 1, "preempted")
    assert out == [(0, 100, 30, 1, "slept")]
    assert closed(bins, out) == [(0, 100, 30, 1, "slept"), (100, 300, 200, 1, "preempted")]


def test_a_turn_given_without_its_cpu_or_how_it_ended_is_drawn_as_unknown():
    bins, out = CpuBins(), list[Drawn]()
    bins.add(T0 + 10, T0 + 20, T0, RES, out)
    assert closed(bins, out) == at((0, 100, 10, -1, ""))
