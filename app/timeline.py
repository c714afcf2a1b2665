"""Fold a run's events into lanes of spans: the state a Gantt chart is drawn from. Pure.

Lists only grow (lanes, finished spans, marks, arrows, counter series and their samples), so
a renderer can remember how far it got and draw only what is new; the open spans (and the
last step of each series) are the one part that changes in place.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.events import Event


@dataclass(frozen=True, slots=True)
class Span:
    lane: int
    name: str
    category: str
    start_ns: int
    end_ns: int
    depth: int = 0
    cut: str = ""  # why it never ended ("killed at exit", ...), empty if it did


@dataclass(frozen=True, slots=True)
class Mark:
    lane: int
    ts_ns: int
    name: str
    category: str


@dataclass(frozen=True, slots=True)
class Arrow:
    """A notify on one lane and the wait it ended on another (a `woken` instant)."""

    from_lane: int
    from_ns: int
    to_lane: int
    to_ns: int


@dataclass
class Series:
    """A counter's samples (queue depth, permits in use), in arrival order."""

    index: int
    name: str
    samples: list[tuple[int, float]] = field(default_factory=list)


@dataclass
class Lane:
    index: int
    worker: str
    pid: int | None = None
    thread: str = ""
    stack: list[tuple[str, str, int]] = field(default_factory=list)  # open spans: name, category, start


@dataclass
class Timeline:
    t0_ns: int | None = None
    last_ns: int = 0
    lanes: list[Lane] = field(default_factory=list)
    by_worker: dict[str, Lane] = field(default_factory=dict)
    spans: list[Span] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    notifies: list[Mark] = field(default_factory=list)
    arrows: list[Arrow] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)
    by_name: dict[str, Series] = field(default_factory=dict)
    header: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    failure: dict[str, Any] | None = None
    output: list[str] = field(default_factory=list)

    def lane(self, worker: str) -> Lane:
        lane = self.by_worker.get(worker)
        if lane is None:
            lane = Lane(len(self.lanes), worker)
            self.lanes.append(lane)
            self.by_worker[worker] = lane
        return lane

    def apply(self, event: Event) -> None:
        ts = event.ts_ns
        if self.t0_ns is None or ts < self.t0_ns:
            self.t0_ns = ts
        self.last_ns = max(self.last_ns, ts)
        kind = event.kind
        if kind == "output":
            self.output.append(event.name)
            return
        lane = self.lane(event.worker)
        if kind == "begin":
            lane.stack.append((event.name, event.category, ts))
        elif kind == "end":
            if lane.stack:
                name, category, start = lane.stack.pop()
                self.spans.append(Span(lane.index, name, category, start, ts, len(lane.stack)))
        elif kind == "instant":
            self._mark(Mark(lane.index, ts, event.name, event.category))
        elif kind == "counter":
            self._sample(event.name, ts, event.value)
        elif kind == "lane":
            lane.pid = event.value.get("pid")
            lane.thread = event.value.get("thread", "")
        elif kind == "header":
            self.header = event.value
        elif kind == "result":
            self.result = event.value
        elif kind == "failure":
            self.failure = event.value

    def _mark(self, mark: Mark) -> None:
        self.marks.append(mark)
        if mark.category == "notify":
            self.notifies.append(mark)
        elif mark.category == "woken":
            # Whoever notified last before this wait returned (on another lane) woke it. A
            # notify_all wakes several waiters, so one notify can start several arrows.
            notify = next((n for n in reversed(self.notifies) if n.ts_ns <= mark.ts_ns and n.lane != mark.lane), None)
            if notify is not None:
                self.arrows.append(Arrow(notify.lane, notify.ts_ns, mark.lane, mark.ts_ns))

    def _sample(self, name: str, ts: int, value: Any) -> None:
        try:
            number = float(value)
        except (TypeError, ValueError):
            return  # not a number: nothing to draw
        series = self.by_name.get(name)
        if series is None:
            series = Series(len(self.series), name)
            self.series.append(series)
            self.by_name[name] = series
        series.samples.append((ts, number))

    def close(self, end_ns: int | None = None, why: str = "never ended") -> None:
        """The run is over: whatever is still open was cut off at `end_ns`, for the reason `why`."""
        end = max(end_ns or 0, self.last_ns)
        for lane in self.lanes:
            while lane.stack:
                name, category, start = lane.stack.pop()
                self.spans.append(Span(lane.index, name, category, start, end, len(lane.stack), cut=why))
        self.last_ns = end

    def open_spans(self, lane: Lane, now_ns: int) -> list[Span]:
        return [
            Span(lane.index, name, category, start, max(now_ns, start), depth)
            for depth, (name, category, start) in enumerate(lane.stack)
        ]
