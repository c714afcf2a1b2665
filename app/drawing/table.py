"""The timeline as text: each lane's spans and events as rows of a table, for screen readers and keyboards. Pure.

The chart is SVG a screen reader cannot read; this is its text alternative, server-rendered from
the same Timeline (coalesced as drawn: a merged span is one row, "N spans, total T"). Bounded
for huge runs: at most ROWS_PER_LANE rows per lane (the earliest) and ROWS_MAX in all, each lane
saying how many more it has; trace.json has every one of them.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from app.model.timeline import ON_CPU, Mark, Span, Timeline

ROWS_PER_LANE = 60
ROWS_MAX = 600
# What a span's or a mark's category means, in the legend's words.
KINDS = {
    "run": "running",
    "cpu": "computing",
    "hold": "holding a lock",
    "wait": "waiting / blocked",
    "sleep": "sleeping / I/O",
    "io": "I/O",
    "print": "print",
    "mark": "event",
    "notify": "notify",
    "woken": "woken by a notify",
    "result": "result",
    "end": "process ended",
}


@dataclass(frozen=True)
class Row:
    start_ms: float
    end_ms: float | None  # None: an instant
    what: str
    kind: str
    note: str = ""  # cut, merged, still open


@dataclass(frozen=True)
class LaneTable:
    worker: str
    pid: int | None
    cpu_ms: float  # on a CPU, as the kernel counted it
    rows: tuple[Row, ...]
    more: int  # rows left out (the bound)
    ended: str = ""


def _span_row(span: Span, t0: int, open_: bool = False) -> Row:
    note = span.cut
    what = span.name
    if span.count > 1:
        what = f"{span.count} spans ({span.name})"
        note = f"merged: too short to draw apart, {span.busy_ns / 1e6:.3f} ms in all"
    elif open_:
        note = "still going"
    return Row(
        (span.start_ns - t0) / 1e6, (span.end_ns - t0) / 1e6, what, KINDS.get(span.category, span.category), note
    )


def _mark_row(mark: Mark, t0: int) -> Row:
    what = mark.name if mark.count == 1 else f"{mark.count} × {mark.name}"
    note = "" if mark.count == 1 else f"until {(mark.last_ns - t0) / 1e6:.3f} ms"
    return Row((mark.ts_ns - t0) / 1e6, None, what, KINDS.get(mark.category, mark.category), note)


def tables(timeline: Timeline, now_ns: int | None = None) -> list[LaneTable]:
    """Each lane's rows in time order (spans and marks, open spans up to `now_ns`), bounded."""
    t0 = timeline.t0_ns or 0
    now = max(now_ns or 0, timeline.last_ns)
    spans: dict[int, list[Span]] = {}
    for span in timeline.spans:
        if span.category != ON_CPU:
            spans.setdefault(span.lane, []).append(span)
    marks: dict[int, list[Mark]] = {}
    for mark in timeline.marks:
        marks.setdefault(mark.lane, []).append(mark)
    out: list[LaneTable] = []
    budget = ROWS_MAX
    for lane in timeline.lanes:
        rows = [_span_row(s, t0) for s in spans.get(lane.index, ())]
        rows += [_span_row(s, t0, open_=not s.count > 1) for s in timeline.open_spans(lane, now)]
        rows += [_mark_row(m, t0) for m in marks.get(lane.index, []) + timeline.pending_marks(lane)]
        keep = min(ROWS_PER_LANE, budget, len(rows))
        budget -= keep
        shown = heapq.nsmallest(keep, rows, key=lambda r: (r.start_ms, r.end_ms is None))
        out.append(LaneTable(lane.worker, lane.pid, lane.cpu_ns / 1e6, tuple(shown), len(rows) - keep, lane.ended))
    return out
