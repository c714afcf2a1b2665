"""A run's stored events as a Chrome Trace Event Format file, for Perfetto (ui.perfetto.dev). Pure.

The events are folded by the same Timeline the page draws from, without coalescing (every span,
print, notify and on-CPU interval apart), then written out as trace events:

- one process per pid of the run, one thread track per lane, named by `M` events (lanes keep
  the page's order through `thread_sort_index`);
- the recorder's spans as complete events (`X`), `ts` and `dur` in microseconds from the run's
  start. Durations on one thread must nest: a span that overlaps another without nesting in it
  (two threads recording under one label, a span cut when its process died) goes to an overflow
  track of its lane, "… (overlapping)";
- prints, notifies and other marks as thread-scoped instants (`i`, `"s": "t"`);
- each notify → woken arrow as a flow: `s` on the notifier's track, `f` with `"bp": "e"` on the
  woken's, with the same `id`;
- the kernel's on-CPU intervals (`oncpu` events) as `X` events on a track of their own per lane,
  "… · on a CPU", so they never have to nest with the recorder's spans;
- counters (queue depth, permits in use) as `C` events.

The caller bounds what it reads (app/web/api.py, TRACE_EVENTS_MAX): a Timeline without coalescing
keeps every span, so it must not be fed a million events.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, NotRequired, TypedDict

from app.model.events import Event
from app.model.timeline import ON_CPU as ON_CPU_CATEGORY
from app.model.timeline import Lane, Span, Timeline

ONCPU_NAME = "on a CPU"
FLOW_NAME = "notify → woken"
SORT_STEP = 100  # a lane's tracks sort together: lane, its overflow tracks, then its on-CPU track


class TraceEvent(TypedDict):
    """A trace event: `ph` says which (M names a process or thread, X a complete span, i an instant, s and f a
    flow's start and end, C a counter's sample); `ts` and `dur` in microseconds."""

    ph: Literal["M", "X", "i", "s", "f", "C"]
    name: str
    cat: NotRequired[str]
    id: NotRequired[int]  # a flow's: its s and f share it
    bp: NotRequired[Literal["e"]]  # a flow's end binds to the enclosing slice
    ts: NotRequired[float]
    dur: NotRequired[float]
    pid: int
    tid: int
    s: NotRequired[Literal["t", "g"]]  # an instant's scope: its thread, or global
    args: NotRequired[dict[str, Any]]


class Trace(TypedDict):
    """The trace file's document."""

    displayTimeUnit: Literal["ms"]
    traceEvents: list[TraceEvent]
    # The run's facts (the caller's `other`: app/web/api.py) and what its timeline knows beside its events.
    otherData: dict[str, Any]


def us(ns: int, t0: int) -> float:
    """Nanoseconds on the run's clock as microseconds from its start (exact to the nanosecond)."""
    return (ns - t0) / 1000


@dataclass
class TraceBuilder:
    """Events in, page by page (`feed`); the trace out once (`finish`)."""

    t0_ns: int | None = None  # the run's start; None: its earliest event
    timeline: Timeline = field(default_factory=lambda: Timeline(coalesce=False))
    read: int = 0  # events fed

    def feed(self, events: list[Event]) -> None:
        self.timeline.apply_all(events)
        self.read += len(events)

    def finish(
        self,
        end_ns: int | None = None,
        why: str = "never ended",
        truncated: str = "",
        other: dict[str, Any] | None = None,
    ) -> Trace:
        """The trace as a JSON-ready dict. Spans still open are cut at `end_ns` (or the last event)
        for the reason `why`; `truncated`, if given, says why the trace stops before the run did."""
        timeline = self.timeline
        timeline.close(end_ns, why)
        t0 = self.t0_ns if self.t0_ns is not None else (timeline.t0_ns or 0)
        return _Writer(timeline, t0).write(truncated, other or {})


def trace_of(
    events: Iterable[Event],
    t0_ns: int | None = None,
    end_ns: int | None = None,
    why: str = "never ended",
    other: dict[str, Any] | None = None,
) -> Trace:
    """The whole trace of `events` at once (for tests and scripts)."""
    builder = TraceBuilder(t0_ns)
    builder.feed(list(events))
    return builder.finish(end_ns, why, other=other)


def tracks_for(spans: list[Span]) -> list[list[Span]]:
    """`spans` of one lane dealt onto as few tracks as keep every track's spans nested.

    Sorted by start (the longer first at equal starts), each span goes onto the first track where it
    nests in the span still open there, or starts after it ended.
    """
    tracks: list[list[Span]] = []
    open_ends: list[list[int]] = []  # per track: the ends of the spans open there, innermost last
    for span in sorted(spans, key=lambda s: (s.start_ns, -s.end_ns, s.depth)):
        for track, ends in zip(tracks, open_ends):
            while ends and ends[-1] <= span.start_ns:
                ends.pop()
            if not ends or span.end_ns <= ends[-1]:
                track.append(span)
                ends.append(span.end_ns)
                break
        else:
            tracks.append([span])
            open_ends.append([span.end_ns])
    return tracks


class _Writer:
    def __init__(self, timeline: Timeline, t0: int):
        self.timeline, self.t0 = timeline, t0
        header = timeline.header or {}
        pid = header.get("pid")
        self.runner_pid = pid if isinstance(pid, int) else 1
        self.out: list[TraceEvent] = []
        self.next_tid = len(timeline.lanes) + 1  # lane i is tid i + 1; extra tracks are numbered after
        self.cpu_tid: dict[int, int] = {}

    def pid(self, lane: Lane) -> int:
        return lane.pid if isinstance(lane.pid, int) else self.runner_pid

    def thread(self, pid: int, tid: int, name: str, sort: int) -> None:
        self.out.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": {"name": name}})
        self.out.append({"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": tid, "args": {"sort_index": sort}})

    def write(self, truncated: str, other: dict[str, Any]) -> Trace:
        timeline, out, t0 = self.timeline, self.out, self.t0
        self.processes()
        by_lane: dict[int, list[Span]] = {}
        for span in timeline.spans:
            by_lane.setdefault(span.lane, []).append(span)
        for lane in timeline.lanes:
            pid = self.pid(lane)
            label = lane.worker + (f" (tid {lane.tid})" if lane.tid else "")
            self.thread(pid, lane.index + 1, label, lane.index * SORT_STEP)
            for k, track in enumerate(tracks_for(by_lane.get(lane.index, []))):
                tid = lane.index + 1
                if k:
                    tid, self.next_tid = self.next_tid, self.next_tid + 1
                    self.thread(pid, tid, f"{lane.worker} (overlapping {k})", lane.index * SORT_STEP + k)
                for s in track:
                    event: TraceEvent = {
                        "ph": "X",
                        "name": s.name,
                        "cat": s.category or "run",
                        "ts": us(s.start_ns, t0),
                        "dur": (s.end_ns - s.start_ns) / 1000,
                        "pid": pid,
                        "tid": tid,
                    }
                    if s.cut:
                        event["args"] = {"cut": s.cut}
                    out.append(event)
        self.on_cpu()
        lanes = timeline.lanes
        for m in timeline.marks:
            lane = lanes[m.lane]
            out.append(
                {
                    "ph": "i",
                    "name": m.name,
                    "cat": m.category or "mark",
                    "ts": us(m.ts_ns, t0),
                    "pid": self.pid(lane),
                    "tid": lane.index + 1,
                    "s": "t",
                }
            )
        for i, a in enumerate(timeline.arrows, 1):
            start, end = lanes[a.from_lane], lanes[a.to_lane]
            out.append(
                {
                    "ph": "s",
                    "name": FLOW_NAME,
                    "cat": "notify",
                    "id": i,
                    "ts": us(a.from_ns, t0),
                    "pid": self.pid(start),
                    "tid": start.index + 1,
                }
            )
            out.append(
                {
                    "ph": "f",
                    "bp": "e",
                    "name": FLOW_NAME,
                    "cat": "notify",
                    "id": i,
                    "ts": us(a.to_ns, t0),
                    "pid": self.pid(end),
                    "tid": end.index + 1,
                }
            )
        for series in timeline.series:
            for ts, value in series.samples:
                out.append(
                    {
                        "ph": "C",
                        "name": series.name,
                        "ts": us(ts, t0),
                        "pid": self.runner_pid,
                        "tid": 0,
                        "args": {"value": value},
                    }
                )
        if truncated:
            out.append(
                {
                    "ph": "i",
                    "name": truncated,
                    "cat": "trace",
                    "ts": us(timeline.last_ns, t0),
                    "pid": self.runner_pid,
                    "tid": 0,
                    "s": "g",
                }
            )
        meta: dict[str, Any] = {
            **other,
            "deaths": [d.words() for d in timeline.deaths],
            "unlaned_cpu_ms": timeline.unlaned_ns / 1e6,
            "service_cpu_ms": {role: ns / 1e6 for role, ns in timeline.service_ns.items()},
        }
        if timeline.output:
            meta["output"] = timeline.output[:100]
        if truncated:
            meta["truncated"] = truncated
        return {"displayTimeUnit": "ms", "traceEvents": out, "otherData": meta}

    def processes(self) -> None:
        names: dict[int, list[str]] = {self.runner_pid: []}
        for lane in self.timeline.lanes:
            names.setdefault(self.pid(lane), []).append(lane.worker)
        for order, (pid, workers) in enumerate(names.items()):
            role = "runner" if pid == self.runner_pid else ", ".join(workers[:3]) + (", …" if len(workers) > 3 else "")
            self.out.append(
                {"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": f"{role} (pid {pid})"}}
            )
            self.out.append(
                {"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0, "args": {"sort_index": order}}
            )

    def on_cpu(self) -> None:
        """The kernel's on-CPU intervals, each lane's on its own track (one thread's never overlap)."""
        spans: dict[int, list[Span]] = {}
        for s in self.timeline.cpu_spans:
            if s.category == ON_CPU_CATEGORY:  # not a gap of lost records: unknown, not a turn
                spans.setdefault(s.lane, []).append(s)
        for index, lane_spans in spans.items():
            lane = self.timeline.lanes[index]
            pid = self.pid(lane)
            for k, track in enumerate(tracks_for(lane_spans)):
                tid, self.next_tid = self.next_tid, self.next_tid + 1
                suffix = f" (overlapping {k})" if k else ""
                self.thread(pid, tid, f"{lane.worker} · {ONCPU_NAME}{suffix}", index * SORT_STEP + SORT_STEP - 10 + k)
                for s in track:
                    self.out.append(
                        {
                            "ph": "X",
                            "name": ONCPU_NAME,
                            "cat": "oncpu",
                            "ts": us(s.start_ns, self.t0),
                            "dur": (s.end_ns - s.start_ns) / 1000,
                            "pid": pid,
                            "tid": tid,
                        }
                    )
