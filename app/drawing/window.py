"""A zoomed window of a run: its bounds, and its events folded again at the window's resolution. Pure.

The run's own timeline (app/model/timeline.py) merges whatever its whole axis cannot show apart: on a
2 s run, anything closer than 4 ms. Zoomed into 3 ms of it, those merged shapes would be all
there is to see. So a window is drawn from the run's stored events folded again by a
WindowTimeline: the same folding at a fixed resolution of 1/RESOLUTION of the window (spans,
marks and on-CPU bins alike), keeping only the shapes that reach into the window, so it holds a
few RESOLUTIONs of shapes per lane whatever the run's length.

It need not read the whole log either. A RowIndex, built once per run in one pass over its
stored rows, knows each row's earliest and latest time and which spans each lane had open
before it (a checkpoint). A window then folds only the rows that can hold something in it,
starting from the checkpoint before them. What it takes from the run's own timeline instead:
the lanes, the value each counter held into the window, the arrows (pairing a notify with its
woken needs what came before), and the end of a span still open past the rows it read.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from app.model.events import Event
from app.model.scale import RESOLUTION
from app.model.timeline import Arrow, Lane, Mark, Series, Span, Timeline

MAX_MS = 1e9  # the latest a window may end, in ms since the run's start (some 11.6 days)
MIN_WIDTH_NS = 1_000  # the narrowest window: 1 µs (its resolution is then 2 ns)


@dataclass(frozen=True)
class Window:
    """[from_ns, to_ns) since the run's start."""

    from_ns: int
    to_ns: int

    @classmethod
    def of_ms(cls, from_ms: float, to_ms: float) -> Window:
        return cls(round(from_ms * 1e6), round(to_ms * 1e6))

    @property
    def scale_ns(self) -> int:
        return self.to_ns - self.from_ns


@dataclass
class WindowTimeline(Timeline):
    """A Timeline of one window: a fixed resolution, and only what reaches into [lo, hi]."""

    lo: int = 0  # the window, on the runner's clock
    hi: int = 0

    @classmethod
    def of(
        cls, run: Timeline, window: Window, stacks: dict[str, tuple[tuple[str, str, int], ...]] | None = None
    ) -> WindowTimeline:
        """A window of `run` (its folded timeline), to fold from a checkpoint's open spans (`stacks`)."""
        t0 = run.t0_ns or 0
        timeline = cls(lo=t0 + window.from_ns, hi=t0 + window.to_ns)
        timeline.t0_ns = t0  # the run's, not the first event this fold sees: the same times since the start
        stacks = stacks or {}
        for old in run.lanes:  # the same lanes in the same order, so the same ids on the page
            lane = timeline.lane(old.worker)
            lane.pid, lane.tid, lane.thread, lane.ended = old.pid, old.tid, old.thread, old.ended
            lane.stack = list(stacks.get(old.worker, ()))
            if old.tid is not None:
                timeline.by_tid[old.tid] = lane
        timeline.service = dict(run.service)
        for old_series in run.series:  # each with the value it held into the window, if any
            held = [(ts, value) for ts, value in old_series.samples if ts < timeline.lo][-1:]
            series = Series(old_series.index, old_series.name, held)
            timeline.series.append(series)
            timeline.by_name[old_series.name] = series
        timeline.arrows = overlapping(run.arrows, timeline.lo, timeline.hi)
        return timeline

    def __post_init__(self) -> None:
        self.resolution_ns = max(1, (self.hi - self.lo) // RESOLUTION)
        self._until_ns = 1 << 62  # the axis never grows: the window is the axis

    def _finish(self, lane: Lane, name: str, category: str, start: int, end: int, depth: int) -> None:
        if end >= self.lo and start <= self.hi:
            super()._finish(lane, name, category, start, end, depth)

    def _mark(self, lane: Lane, ts: int, name: str, category: str) -> None:
        if self.lo <= ts <= self.hi:
            super()._mark(lane, ts, name, category)

    def _on_cpu(self, lane: Lane, start: int, end: int, cpu: int = -1, how: str = "") -> None:
        # Cut to the window, so its bins (at the window's resolution) start where it starts.
        super()._on_cpu(lane, max(start, self.lo), min(end, self.hi), cpu, how if end <= self.hi else "")

    def _pair(self, lane: int, ts: int, name: str, category: str, key: Any) -> None:
        pass  # the arrows are the run's (see `of`): who woke whom may lie before the rows folded here

    def _sample(self, name: str, ts: int, value: Any) -> None:
        series = self.by_name.get(name)
        if ts > self.hi and series is not None and series.samples and series.samples[-1][0] > self.hi:
            return  # one sample past the window ends the last step in it; later ones draw nothing
        super()._sample(name, ts, value)
        series = self.by_name[name]
        if ts < self.lo and len(series.samples) > 1:
            del series.samples[:-1]  # before the window only the value held into it matters

    def _kernel(self, event: Event) -> None:
        if event.kind != "machine":  # the CPU budget's samples: the run's own timeline has them
            super()._kernel(event)

    def fold(self, events: Iterable[Event]) -> None:
        self.apply_all(events)
        self.output.clear()

    def settle(self, run: Timeline, finished: bool, why: str) -> None:
        """After the rows that can hold anything in the window: spans still open end where the run's
        timeline says they did (one that long was never merged there); in a finished run whatever is
        left ends with it. Then only what reaches into the window is kept."""
        exact = (
            {(s.lane, s.depth, s.start_ns): s for s in run.spans if s.count == 1}
            if any(lane.stack for lane in self.lanes)
            else {}
        )
        for lane in self.lanes:
            still_open: list[tuple[str, str, int]] = []
            for depth in reversed(range(len(lane.stack))):  # innermost first, as they end
                name, category, start = lane.stack[depth]
                if start > self.hi:
                    continue  # begun after the window: nothing of it to draw
                known = exact.get((lane.index, depth, start))
                if known is None:
                    still_open.insert(0, (name, category, start))  # a live run's, or cut by close() below
                elif known.cut:
                    self.spans.append(Span(lane.index, name, category, start, known.end_ns, depth, cut=known.cut))
                else:
                    self._finish(lane, name, category, start, known.end_ns, depth)
            lane.stack = still_open
        if finished:
            self.close(run.last_ns, why)
        self.spans = overlapping(self.spans, self.lo, self.hi)
        self.cpu_spans = overlapping(self.cpu_spans, self.lo, self.hi)
        self.marks = overlapping(self.marks, self.lo, self.hi)
        self.series = [s for s in self.series if s.samples]


Shape = TypeVar("Shape", Span, Mark, Arrow)


def bounds(shape: Span | Mark | Arrow) -> tuple[int, int]:
    if isinstance(shape, Span):
        return shape.start_ns, shape.end_ns
    if isinstance(shape, Mark):
        return shape.ts_ns, max(shape.ts_ns, shape.last_ns)
    return min(shape.from_ns, shape.to_ns), max(shape.from_ns, shape.to_ns)


def overlapping(shapes: list[Shape], lo: int, hi: int) -> list[Shape]:
    """The shapes that reach into [lo, hi]."""
    out = []
    for shape in shapes:
        start, end = bounds(shape)
        if end >= lo and start <= hi:
            out.append(shape)
    return out


@dataclass
class RowIndex:
    """What a window needs to know about a run's stored rows before reading any: per row (in the
    order stored) its first seq, its events' earliest and latest times (an on-CPU interval's end
    counts), how many events, and each lane's open spans before it."""

    first_seqs: list[int] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    checkpoints: list[dict[str, tuple[tuple[str, str, int], ...]]] = field(default_factory=list)
    prefix_max: list[int] = field(default_factory=list)  # the latest time in this row and every earlier one
    mins: list[int] = field(default_factory=list)
    stacks: dict[str, list[tuple[str, str, int]]] = field(default_factory=dict)  # after the last row
    events: int = 0

    def add(self, first_seq: int, events: list[Event]) -> None:
        if not events:
            return
        self.first_seqs.append(first_seq)
        self.counts.append(len(events))
        self.events += len(events)
        self.checkpoints.append({worker: tuple(stack) for worker, stack in self.stacks.items() if stack})
        low, high = events[0].ts_ns, self.prefix_max[-1] if self.prefix_max else events[0].ts_ns
        stacks = self.stacks
        for kind, ts, worker, name, category, value in events:
            if ts < low:
                low = ts
            if ts > high:
                high = ts
            if kind == "begin":
                stacks.setdefault(worker, []).append((name, category, ts))
            elif kind == "end":
                stack = stacks.get(worker)
                if stack:
                    stack.pop()
            elif kind == "oncpu" and value[1] > high:
                high = value[1]
        self.prefix_max.append(high)
        self.mins.append(low)

    def rows_for(self, lo: int, hi: int, slack: int) -> tuple[int, int]:
        """The rows [first, last) to fold for [lo, hi]: every row before `first` ends before lo;
        every row from `last` on starts after hi + slack (a span begun by hi and shorter than
        `slack` has ended by then; a longer one the run's timeline kept whole)."""
        first = bisect_left(self.prefix_max, lo)
        suffix_min, low = [], 1 << 62
        for value in reversed(self.mins):
            low = min(low, value)
            suffix_min.append(low)
        suffix_min.reverse()
        last = bisect_right(suffix_min, hi + slack)
        return first, max(first, last)
