"""Where spans, marks, counter steps and arrows go on the chart: pure geometry."""
from __future__ import annotations

import pytest

from app.drawing.placement import (
    CPU_LAYER,
    CPU_STRIP,
    LANE_HEIGHT,
    MARK_LAYER,
    ROW_HEIGHT,
    SERIES_HEIGHT,
    Axis,
    place_arrow,
    place_cpu,
    place_mark,
    place_span,
    place_step,
    series_top,
    ticks,
)
from app.model.scale import MIN_SCALE_NS, scale_for
from app.model.timeline import ON_CPU, Arrow, Mark, Series, Span

MS = 1_000_000
AXIS = Axis(t0=1000 * MS, scale_ns=100 * MS)  # the full width is 100 ms: 1 ms is 1%


@pytest.mark.parametrize(("elapsed_ms", "growing_ms", "finished_ms"), [
    (10, 100, 12), (96, 200, 100), (130, 200, 150), (210, 500, 250), (2_100, 5_000, 2_500), (7_100, 10_000, 8_000),
])
def test_axis_grows_in_1_2_5_steps_and_fits_snugly_once_finished(elapsed_ms, growing_ms, finished_ms):
    assert scale_for(elapsed_ms * MS) == growing_ms * MS
    assert scale_for(elapsed_ms * MS, finished=True) == finished_ms * MS
    assert scale_for(0) == MIN_SCALE_NS


@pytest.mark.parametrize(("scale_ms", "labels"), [
    (100, ["0 ms", "20 ms", "40 ms", "60 ms", "80 ms", "100 ms"]),
    (1_500, ["0 ms", "500 ms", "1000 ms", "1500 ms"]),
    (8_000, ["0 s", "2 s", "4 s", "6 s", "8 s"]),
])
def test_ticks_are_round_and_span_the_axis(scale_ms, labels):
    marks = ticks(scale_ms * MS)
    assert [label for _, label in marks] == labels
    assert marks[0][0] == 0 and marks[-1][0] == 100


def test_span_is_placed_in_percent_of_the_axis_and_nested_ones_drawn_inside_and_above():
    outer = place_span(Span(0, "hold a", "hold", 1010 * MS, 1030 * MS), AXIS)
    inner = place_span(Span(0, "Lock.acquire b", "wait", 1020 * MS, 1030 * MS, depth=1), AXIS)
    assert (outer.x, outer.w) == (10, 20)
    assert outer.y < inner.y and inner.y + inner.h <= outer.y + outer.h
    assert inner.layer > outer.layer  # painted later: on top


def test_only_spans_wide_enough_for_their_whole_label_are_labelled():
    assert place_span(Span(0, "fib(30)", "cpu", 1000 * MS, 1010 * MS), AXIS).labelled
    assert not place_span(Span(0, "fib(20)", "cpu", 1000 * MS, 1003 * MS), AXIS).labelled
    assert not place_span(Span(0, "Lock.acquire lock", "wait", 1000 * MS, 1010 * MS), AXIS).labelled


@pytest.mark.parametrize("why", ["killed at exit", "never ended (the run hung)"])
def test_a_cut_span_says_why_in_its_label_and_tooltip(why):
    box = place_span(Span(2, "Lock.acquire a", "wait", 1000 * MS, 1050 * MS, cut=why), AXIS)
    assert box.cut == why
    assert why in box.tip and box.name == f"Lock.acquire a · {why}" and box.labelled


def test_a_cut_span_too_short_for_the_reason_keeps_its_name_and_the_reason_in_its_tooltip():
    box = place_span(Span(2, "Lock.acquire a", "wait", 1000 * MS, 1015 * MS, cut="killed at exit"), AXIS)
    assert box.name == "Lock.acquire a" and box.labelled
    assert "killed at exit" in box.tip


def test_marks_are_drawn_above_every_span_layer():
    assert place_mark(Mark(0, 1005 * MS, "notify", "notify"), AXIS).layer == MARK_LAYER


def test_a_counter_step_lasts_until_the_next_sample_and_its_height_is_its_share_of_the_top():
    series = Series(0, "queue depth", [(1010 * MS, 5.0), (1030 * MS, 10.0)])
    top = series_top(series)
    assert top == 10
    first = place_step(series, 0, AXIS, top, now_ns=1090 * MS)
    assert (first.x, first.w, first.value) == (10, 20, "5")
    assert first.y + first.h == SERIES_HEIGHT - 2  # standing on the baseline
    last = place_step(series, 1, AXIS, top, now_ns=1090 * MS)
    assert (last.x, last.w) == (30, 60)  # the last one is held until now
    assert last.h == 2 * first.h


def test_series_top_is_a_round_number_at_least_the_largest_sample():
    assert series_top(Series(0, "permits", [(0, 3.0)])) == 5
    assert series_top(Series(0, "permits", [(0, 0.0)])) == 1
    assert series_top(Series(0, "depth", [(0, 11.0), (1, 2.0)])) == 20


def test_an_arrow_runs_from_the_middle_of_the_notifying_lane_to_the_middle_of_the_woken_one():
    """The middle of the spans, that is: the on-CPU strip below them is not where a notify happens."""
    line = place_arrow(Arrow(from_lane=3, from_ns=1040 * MS, to_lane=1, to_ns=1041 * MS), AXIS)
    assert (line.x1, line.x2) == (40, 41)
    spans = place_span(Span(0, "wait", "wait", 1000 * MS, 1010 * MS), AXIS)
    middle = spans.y + spans.h // 2
    assert line.y1 == 3 * ROW_HEIGHT + middle
    assert line.y2 == 1 * ROW_HEIGHT + middle


def test_the_on_cpu_strip_sits_below_the_spans_as_high_as_the_share_of_time_on_a_cpu():
    span = place_span(Span(0, "fib(30)", "cpu", 1000 * MS, 1010 * MS), AXIS)
    full = place_cpu(Span(0, ON_CPU, ON_CPU, 1000 * MS, 1010 * MS), AXIS)
    half = place_cpu(Span(0, ON_CPU, ON_CPU, 1000 * MS, 1010 * MS, busy_ns=5 * MS), AXIS)
    assert full.y >= span.y + span.h and full.y + full.h <= LANE_HEIGHT
    assert full.h == CPU_STRIP and half.h == CPU_STRIP // 2
    assert full.y + full.h == half.y + half.h  # both grow from the bottom
    assert "50%" in half.tip and full.layer == half.layer == CPU_LAYER
