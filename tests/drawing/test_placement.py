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
    SPAN_HEIGHT,
    ArrowLine,
    Axis,
    Box,
    Step,
    digits_for,
    place_arrow,
    place_cpu,
    place_mark,
    place_span,
    place_step,
    series_top,
    ticks,
)
from app.model.scale import MIN_SCALE_NS, MIN_WIDTH, scale_for
from app.model.timeline import ON_CPU, Arrow, Mark, Series, Span

MS = 1_000_000
AXIS = Axis(t0=1000 * MS, scale_ns=100 * MS)  # the full width is 100 ms: 1 ms is 1%


@pytest.mark.parametrize(
    ("elapsed_ms", "growing_ms", "finished_ms"),
    [
        (10, 100, 12),
        (96, 200, 100),
        (130, 200, 150),
        (210, 500, 250),
        (2_100, 5_000, 2_500),
        (7_100, 10_000, 8_000),
    ],
)
def test_axis_grows_in_1_2_5_steps_and_fits_snugly_once_finished(elapsed_ms, growing_ms, finished_ms):
    assert scale_for(elapsed_ms * MS) == growing_ms * MS
    assert scale_for(elapsed_ms * MS, finished=True) == finished_ms * MS
    assert scale_for(0) == MIN_SCALE_NS


@pytest.mark.parametrize(
    ("scale_ms", "labels"),
    [
        (100, ["0 ms", "20 ms", "40 ms", "60 ms", "80 ms", "100 ms"]),
        (1_500, ["0 ms", "500 ms", "1000 ms", "1500 ms"]),
        (8_000, ["0 s", "2 s", "4 s", "6 s", "8 s"]),
    ],
)
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


# -- each shape as drawn: where, how big, what it says, and what its details panel says ------


def at(ms: float) -> int:
    return AXIS.t0 + round(ms * MS)


def test_a_span_is_drawn_where_it_is_labelled_and_its_tip_and_details_say_when():
    assert place_span(Span(3, "fib(30)", "cpu", at(10.25), at(30.5)), AXIS) == Box(
        x=10.25,
        w=20.25,
        y=2,
        h=SPAN_HEIGHT,
        name="fib(30)",
        category="cpu",
        tip="fib(30) · 10.25–30.50 ms (20.25 ms)",
        labelled=True,
        cut="",
        layer=0,
        title="fib(30)",
        start_ms="10.25",
        end_ms="30.50",
    )


def test_a_nested_span_is_drawn_inside_the_one_around_it_three_levels_deep_at_most():
    boxes = [place_span(Span(0, "s", "run", at(10), at(20), depth=d), AXIS) for d in range(6)]
    assert [(b.y, b.h, b.layer) for b in boxes] == [
        (2, SPAN_HEIGHT, 0),
        (5, SPAN_HEIGHT - 6, 1),
        (8, SPAN_HEIGHT - 12, 2),
        (11, SPAN_HEIGHT - 18, 3),
        (11, SPAN_HEIGHT - 18, 3),
        (11, SPAN_HEIGHT - 18, 3),
    ]


def test_merged_spans_say_how_many_and_their_total_time_and_are_labelled_by_count_where_that_fits():
    wide = place_span(Span(0, "step, …", "run", at(10), at(22.5), count=4, busy_ns=1_500_000), AXIS)
    assert wide == Box(
        x=10,
        w=12.5,
        y=2,
        h=SPAN_HEIGHT,
        name="4× step, …",
        category="run",
        tip="4 spans (step, …), total 1.500 ms · 10.00–22.50 ms",
        labelled=True,
        layer=0,
        title="4 spans (step, …)",
        start_ms="10.00",
        end_ms="22.50",
    )
    two = place_span(Span(0, "tick", "run", at(10), at(20), count=2, busy_ns=2 * 1234), AXIS)
    assert (two.name, two.labelled, two.title) == ("2× tick", True, "2 spans (tick)")
    assert two.tip == "2 spans (tick), total 0.002 ms · 10.00–20.00 ms"


def test_a_cut_span_says_why_after_its_times():
    box = place_span(Span(1, "sleep(60)", "sleep", at(90), at(100), cut="killed at exit"), AXIS)
    assert box.tip == "sleep(60) · 90.00–100.00 ms (10.00 ms) · killed at exit"
    assert (box.name, box.cut) == ("sleep(60)", "killed at exit")  # the reason does not fit in 10%


def test_a_label_is_drawn_when_the_box_holds_it_exactly_and_not_when_it_falls_short():
    # six characters: 6 × 0.75 % + 0.5 % padding = 5 % of the axis
    assert place_span(Span(0, "abcdef", "run", at(0), at(5)), AXIS).name == "abcdef"
    assert place_span(Span(0, "abcdef", "run", at(0), at(4.9)), AXIS).name == ""


def test_a_mark_is_a_thin_line_at_its_moment_above_the_spans():
    assert place_mark(Mark(2, at(5.5), "notify", "notify"), AXIS) == Box(
        x=5.5,
        w=0.15,
        y=1,
        h=LANE_HEIGHT - CPU_STRIP - 3,
        name="notify",
        category="notify",
        tip="notify · 5.50 ms",
        labelled=False,
        layer=MARK_LAYER,
        title="notify",
        start_ms="5.50",
        end_ms="5.50",
    )


def test_merged_marks_say_how_many_the_first_ones_name_and_from_when_to_when():
    box = place_mark(Mark(0, at(5.5), "print 0", "print", count=2, last_ns=at(6.25)), AXIS)
    assert (box.x, box.name, box.category) == (5.5, "print 0", "print")
    assert box.tip == "2 marks, the first print 0 · 5.50–6.25 ms"
    assert (box.title, box.start_ms, box.end_ms) == ("2 marks, the first print 0", "5.50", "6.25")


def test_the_on_cpu_strip_says_on_a_cpu_when_at_least_98_percent_of_it_was():
    full = place_cpu(Span(0, ON_CPU, ON_CPU, at(10), at(20)), AXIS)
    assert full == Box(
        x=10,
        w=10,
        y=LANE_HEIGHT - 1 - CPU_STRIP,
        h=CPU_STRIP,
        name="",
        category=ON_CPU,
        tip="on a CPU · 10.00–20.00 ms (10.00 ms)",
        labelled=False,
        layer=CPU_LAYER,
        title="on a CPU",
        start_ms="10.00",
        end_ms="20.00",
    )
    almost = place_cpu(Span(0, ON_CPU, ON_CPU, at(10), at(20), busy_ns=9_800_000), AXIS)
    assert (almost.h, almost.title, almost.tip) == (CPU_STRIP, "on a CPU", full.tip)
    over = place_cpu(Span(0, ON_CPU, ON_CPU, at(10), at(20), busy_ns=12_000_000), AXIS)  # the sampler's rounding
    assert (over.h, over.title) == (CPU_STRIP, "on a CPU")


def test_a_strip_partly_on_a_cpu_says_its_share_and_is_one_pixel_high_at_least():
    quarter = place_cpu(Span(0, ON_CPU, ON_CPU, at(10), at(20), busy_ns=2_500_000), AXIS)
    assert (quarter.y, quarter.h, quarter.title) == (LANE_HEIGHT - 1 - 2, 2, "on a CPU 25%")
    assert quarter.tip == "on a CPU 25% of 10.00–20.00 ms (2.50 of 10.00 ms)"
    sliver = place_cpu(Span(0, ON_CPU, ON_CPU, at(10), at(20), busy_ns=100_000), AXIS)
    assert (sliver.h, sliver.title) == (1, "on a CPU 1%")


def test_a_counter_step_says_its_value_and_when_and_a_negative_value_stands_on_the_baseline():
    series = Series(0, "items waiting", [(at(10), 1.0), (at(30), 2.0), (at(50), -2.0)])
    first, middle, last = (place_step(series, i, AXIS, top=2, now_ns=at(40)) for i in range(3))
    assert first == Step(x=10, w=20, y=SERIES_HEIGHT - 2 - 9, h=9, value="1", tip="items waiting = 1 · 10.00–30.00 ms")
    assert (middle.x, middle.w, middle.h) == (30, 20, SERIES_HEIGHT - 4)  # until the next sample, the top
    assert (last.x, last.w, last.h, last.value) == (50, MIN_WIDTH, 0, "-2")  # now is before it: just a sliver


def test_an_arrow_carries_its_lanes_and_times_for_the_details_panel():
    line = place_arrow(Arrow(from_lane=0, from_ns=at(40.5), to_lane=2, to_ns=at(41)), AXIS)
    middle = 2 + SPAN_HEIGHT // 2
    assert line == ArrowLine(
        x1=40.5, y1=middle, x2=41, y2=2 * ROW_HEIGHT + middle, from_lane=0, to_lane=2, from_ms="40.50", to_ms="41.00"
    )


def test_positions_are_rounded_to_a_thousandth_of_a_percent():
    third = at(1 / 3)
    assert AXIS.x(third) == 0.333 and AXIS.width(AXIS.t0, third) == 0.333
    assert AXIS.width(third, third) == MIN_WIDTH  # an instant span is still drawn


def test_times_and_lengths_in_tips_are_in_ms_even_a_minute_in():
    minutes = Axis(t0=AXIS.t0, scale_ns=120_000 * MS)
    assert place_mark(Mark(0, at(60_000.004), "late", "print"), minutes).tip == "late · 60000.00 ms"
    assert (
        place_span(Span(0, "sleep(60)", "sleep", at(0), at(60_000)), minutes).tip
        == "sleep(60) · 0.00–60000.00 ms (60000.00 ms)"
    )
    assert (
        place_span(Span(0, "step", "run", at(0), at(90_000), count=9, busy_ns=60_000 * MS), minutes).tip
        == "9 spans (step), total 60000.000 ms · 0.00–90000.00 ms"
    )
    assert (
        place_cpu(Span(0, ON_CPU, ON_CPU, at(0), at(60_000)), minutes).tip
        == "on a CPU · 0.00–60000.00 ms (60000.00 ms)"
    )
    assert (
        place_cpu(Span(0, ON_CPU, ON_CPU, at(0), at(60_000), busy_ns=30_000 * MS), minutes).tip
        == "on a CPU 50% of 0.00–60000.00 ms (30000.00 of 60000.00 ms)"
    )


def test_a_zoomed_windows_axis_starts_at_its_left_edge_with_finer_times_the_narrower_it_is():
    window = Axis.window(AXIS.t0, 2 * MS, 3_500_000)  # 1.5 ms wide: 3 µs a resolution step
    assert window == Axis(AXIS.t0, 1_500_000, 2 * MS, 3)
    box = place_span(Span(0, "step", "run", at(2.75), at(3.125)), window)
    assert (box.x, box.w, box.start_ms, box.end_ms) == (50, 25, "2.750", "3.125")
    assert Axis.window(AXIS.t0, 0, 6 * MS).digits == 2


@pytest.mark.parametrize(
    ("resolution_ns", "digits"),
    [(10_000, 2), (9_999, 3), (1_000, 3), (999, 4), (100, 4), (99, 5), (10, 5), (9, 6), (0, 6)],
)
def test_times_get_as_many_decimals_of_a_ms_as_the_resolution_can_tell_apart(resolution_ns, digits):
    assert digits_for(resolution_ns) == digits


@pytest.mark.parametrize(
    ("from_ms", "scale_ms", "labels", "xs"),
    [
        (
            1.2,
            3,
            ["1.50 ms", "2.00 ms", "2.50 ms", "3.00 ms", "3.50 ms", "4.00 ms"],
            [10.0, 26.667, 43.333, 60.0, 76.667, 93.333],
        ),
        (0, 6, ["0 ms", "1 ms", "2 ms", "3 ms", "4 ms", "5 ms", "6 ms"], None),
        (0, 6.5, ["0 ms", "2 ms", "4 ms", "6 ms"], None),
        (0, 2_000, ["0 s", "0.5 s", "1 s", "1.5 s", "2 s"], None),
        (1_000, 1_999, ["1000 ms", "1500 ms", "2000 ms", "2500 ms"], None),
        (60_000, 2, ["60000.00 ms", "60000.50 ms", "60001.00 ms", "60001.50 ms", "60002.00 ms"], None),
    ],
)
def test_a_windows_ticks_are_round_times_since_the_runs_start_from_its_left_edge(from_ms, scale_ms, labels, xs):
    marks = ticks(round(scale_ms * MS), round(from_ms * MS))
    assert [label for _, label in marks] == labels
    if xs is not None:
        assert [x for x, _ in marks] == xs


def test_a_series_with_no_sample_yet_stands_for_one():
    assert series_top(Series(0, "depth")) == 1
