"""Where things go on the chart: spans, marks, counter steps and notify arrows as shapes. Pure.

x is in percent of the time axis, so the browser lays the chart out at any width with no
script; y is in pixels, inside a lane's track (spans, marks), a series' track (steps), or the
stack of lanes (arrows, which cross lanes). The axis is a round duration that grows with the
run in 1-2-5 steps and fits it snugly once it is over; a series' track stands for a round value
that grows with its largest sample.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.model.cpu_bins import MIXED_CPUS
from app.model.scale import MIN_WIDTH, RESOLUTION, round_up
from app.model.timeline import LOST, ON_CPU, Arrow, Mark, Series, Span

LANE_HEIGHT = 34  # a lane's track: the recorder's spans above, the on-CPU strip below
CPU_STRIP = 8  # the on-CPU strip's full height, at the bottom of the track
SPAN_HEIGHT = LANE_HEIGHT - CPU_STRIP - 6  # a depth-0 span's height
ROW_HEIGHT = LANE_HEIGHT + 1  # a lane's track and its 1px bottom border (style.css sets .lane to it)
SERIES_HEIGHT = 22  # a counter series' track
# A label is drawn only where it fits whole: 11px monospace is some 6.6px a character, and a
# track is some 900px wide on a laptop, so a character takes about 0.75% of the axis.
CHAR_WIDTH = 0.75  # percent
LABEL_PADDING = 0.5  # percent
# Paint order within a lane: a nested span ends (and is drawn) before the span around it, so
# finished spans go into one layer per depth, deeper on top, and marks above them all. (Open
# spans are drawn beneath: anything finished that overlaps an open span is nested in it.)
MAX_DEPTH = 3
MARK_LAYER = MAX_DEPTH + 1
CPU_LAYER = MARK_LAYER + 1  # the on-CPU strip: below every span, so no overlap to order
LAYERS = CPU_LAYER + 1


def group_id(lane: int, layer: int) -> str:
    """The SVG group of a lane's track that holds one layer's shapes."""
    return f"g{lane}-{layer}"


def ticks(scale_ns: int, from_ns: int = 0) -> list[tuple[float, str]]:
    """Axis ticks at a round step, four to seven of them: (percent, label in ms or s).

    From `from_ns` (since the run's start: a zoomed window's left edge) over `scale_ns`; labels say
    the time since the run's start. A window narrower than 6 ms gets steps under a millisecond.
    """
    step = round(round_up(scale_ns / 6, 1_000_000 if scale_ns >= 6_000_000 else 1))
    in_seconds = scale_ns >= 2_000_000_000
    first = -(-from_ns // step) * step
    return [
        (
            round(100 * (t - from_ns) / scale_ns, 3),
            f"{t / 1e9:g} s"
            if in_seconds
            else f"{t / 1e6:.{digits_for(step)}f} ms"
            if step < 1_000_000
            else f"{t / 1e6:g} ms",
        )
        for t in range(first, from_ns + scale_ns + 1, step)
    ]


def digits_for(resolution_ns: int) -> int:
    """Decimals of a millisecond worth printing for times `resolution_ns` apart (2 at least)."""
    digits = 2
    while digits < 6 and resolution_ns < 10 ** (6 - digits):
        digits += 1
    return digits


def series_top(series: Series) -> float:
    """The value at the top of a series' track: a round number at least its largest sample."""
    return round_up(max((value for _, value in series.samples), default=0), 1)


@dataclass(frozen=True)
class Axis:
    t0: int  # the run's first event
    scale_ns: int  # the time the full width stands for
    from_ns: int = 0  # since t0, where the left edge is (a zoomed window's start)
    digits: int = 2  # decimals of the times in tips and details (more in a narrow window)

    @classmethod
    def window(cls, t0: int, from_ns: int, to_ns: int) -> Axis:
        """The axis of a zoomed window: [from_ns, to_ns) since t0 across the full width."""
        return cls(t0, to_ns - from_ns, from_ns, digits_for((to_ns - from_ns) // RESOLUTION))

    @property
    def lo(self) -> int:
        return self.t0 + self.from_ns

    @property
    def hi(self) -> int:
        return self.t0 + self.from_ns + self.scale_ns

    def x(self, ts: int) -> float:
        return round(100 * (ts - self.lo) / self.scale_ns, 3)

    def width(self, start: int, end: int) -> float:
        return round(max(100 * (end - start) / self.scale_ns, MIN_WIDTH), 3)

    def extent(self, start: int, end: int) -> tuple[float, float]:
        """x and width of [start, end] cut to the axis: a shape reaching past an edge of a window
        is drawn up to it (its tip and details still say where it really starts and ends)."""
        start, end = max(start, self.lo), min(end, self.hi)
        return self.x(start), self.width(start, max(start, end))

    def ms(self, ts: int) -> str:
        return f"{(ts - self.t0) / 1e6:.{self.digits}f}"


@dataclass(frozen=True)
class Box:
    """A span or mark placed in a lane: percent x and width, pixel y and height."""

    x: float
    w: float
    y: int
    h: int
    name: str  # the visible label, if labelled
    category: str
    tip: str
    labelled: bool
    cut: str = ""
    layer: int = 0
    # For the details panel (static/zoom.js): what it is, and when, in ms since the run's start.
    title: str = ""
    start_ms: str = ""
    end_ms: str = ""
    live: bool = False  # an open span at the live edge: drawn fading at now


@dataclass(frozen=True)
class Step:
    """One value of a counter series, held until its next sample: a bar in the series' track."""

    x: float
    w: float
    y: int
    h: int
    value: str
    tip: str


@dataclass(frozen=True)
class ArrowLine:
    """A notify → woken arrow: percent x, pixel y from the top of the first lane."""

    x1: float
    y1: int
    x2: float
    y2: int
    # For the details panel: the lanes (indexes) and times (ms since the run's start) of both ends.
    from_lane: int = 0
    to_lane: int = 0
    from_ms: str = ""
    to_ms: str = ""


def fits(text: str, width: float) -> bool:
    """Whether `text` fits whole in a box `width` percent of the axis wide."""
    return width >= CHAR_WIDTH * len(text) + LABEL_PADDING


def place_span(span: Span, axis: Axis) -> Box:
    depth = min(span.depth, MAX_DEPTH)
    if span.count > 1:  # merged: too short to draw apart
        tip = (
            f"{span.count} spans ({span.name}), total {span.busy_ns / 1e6:.3f} ms · "
            f"{axis.ms(span.start_ns)}–{axis.ms(span.end_ns)} ms"
        )
    else:
        tip = (
            f"{span.name} · {axis.ms(span.start_ns)}–{axis.ms(span.end_ns)} ms "
            f"({(span.end_ns - span.start_ns) / 1e6:.2f} ms)"
        )
    if span.cut:
        tip += f" · {span.cut}"
    x, width = axis.extent(span.start_ns, span.end_ns)
    # Why a span was cut is worth saying on the chart; if it does not fit, the name alone may.
    labels = [f"{span.name} · {span.cut}", span.name] if span.cut else [span.name]
    if span.count > 1:
        labels = [f"{span.count}× {span.name}"]
    label = next((text for text in labels if fits(text, width)), "")
    title = f"{span.count} spans ({span.name})" if span.count > 1 else span.name
    return Box(
        x,
        width,
        2 + 3 * depth,
        SPAN_HEIGHT - 6 * depth,
        label,
        span.category,
        tip,
        bool(label),
        span.cut,
        depth,
        title,
        axis.ms(span.start_ns),
        axis.ms(span.end_ns),
    )


def where_and_how(span: Span) -> str:
    """The CPU a turn ran on and how it ended, in words (from the kernel's switch records; "" from /proc)."""
    words = []
    if span.cpu >= 0:
        words.append(f"on CPU {span.cpu}")
    elif span.cpu == MIXED_CPUS:
        words.append("on several CPUs")
    if span.how == "p":
        words.append("then preempted (the kernel took the CPU)")
    elif span.how == "v":
        words.append("then gave the CPU up (a wait)")
    return ", ".join(words)


def place_cpu(span: Span, axis: Axis) -> Box:
    """An on-CPU span: a strip at the bottom of the lane, as high as the share of it the lane was on a CPU."""
    x, width = axis.extent(span.start_ns, span.end_ns)
    if span.category == LOST:  # records the kernel dropped: unknown, drawn full height and hatched
        tip = f"unknown {axis.ms(span.start_ns)}–{axis.ms(span.end_ns)} ms: {span.cut}"
        return Box(
            x,
            width,
            LANE_HEIGHT - 1 - CPU_STRIP,
            CPU_STRIP,
            "",
            LOST,
            tip,
            False,
            layer=CPU_LAYER,
            title="switch records lost",
            start_ms=axis.ms(span.start_ns),
            end_ms=axis.ms(span.end_ns),
        )
    length = span.end_ns - span.start_ns
    share = min(1.0, span.busy_ns / length) if length and span.busy_ns else 1.0
    if share >= 0.98:
        tip = f"on a CPU · {axis.ms(span.start_ns)}–{axis.ms(span.end_ns)} ms ({length / 1e6:.2f} ms)"
    else:
        tip = (
            f"on a CPU {share:.0%} of {axis.ms(span.start_ns)}–{axis.ms(span.end_ns)} ms "
            f"({span.busy_ns / 1e6:.2f} of {length / 1e6:.2f} ms)"
        )
    h = max(1, round(CPU_STRIP * share))
    title = "on a CPU" if share >= 0.98 else f"on a CPU {share:.0%}"
    where = where_and_how(span)
    if where:
        tip, title = f"{tip} · {where}", f"{title}, {where}"
    return Box(
        x,
        width,
        LANE_HEIGHT - 1 - h,
        h,
        "",
        ON_CPU,
        tip,
        False,
        layer=CPU_LAYER,
        title=title,
        start_ms=axis.ms(span.start_ns),
        end_ms=axis.ms(span.end_ns),
    )


def place_mark(mark: Mark, axis: Axis) -> Box:
    tip = f"{mark.name} · {axis.ms(mark.ts_ns)} ms"
    if mark.count > 1:  # merged: too close to draw apart
        tip = f"{mark.count} marks, the first {mark.name} · {axis.ms(mark.ts_ns)}–{axis.ms(mark.last_ns)} ms"
    last = mark.last_ns if mark.count > 1 else mark.ts_ns
    return Box(
        axis.x(mark.ts_ns),
        0.15,
        1,
        LANE_HEIGHT - CPU_STRIP - 3,
        mark.name,
        mark.category,
        tip,
        False,
        layer=MARK_LAYER,
        title=f"{mark.count} marks, the first {mark.name}" if mark.count > 1 else mark.name,
        start_ms=axis.ms(mark.ts_ns),
        end_ms=axis.ms(last),
    )


def place_step(series: Series, index: int, axis: Axis, top: float, now_ns: int) -> Step:
    """Sample `index` of `series`, drawn until the next sample (or `now_ns` for the last one)."""
    start, value = series.samples[index]
    end = series.samples[index + 1][0] if index + 1 < len(series.samples) else max(now_ns, start)
    h = round((SERIES_HEIGHT - 4) * max(value, 0) / top)
    text = f"{value:g}"
    tip = f"{series.name} = {text} · {axis.ms(start)}–{axis.ms(end)} ms"
    return Step(*axis.extent(start, end), SERIES_HEIGHT - 2 - h, h, text, tip)


def place_arrow(arrow: Arrow, axis: Axis) -> ArrowLine:
    middle = 2 + SPAN_HEIGHT // 2  # the middle of a depth-0 span
    return ArrowLine(
        axis.x(arrow.from_ns),
        arrow.from_lane * ROW_HEIGHT + middle,
        axis.x(arrow.to_ns),
        arrow.to_lane * ROW_HEIGHT + middle,
        arrow.from_lane,
        arrow.to_lane,
        axis.ms(arrow.from_ns),
        axis.ms(arrow.to_ns),
    )
