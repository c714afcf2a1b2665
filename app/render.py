"""HTML for runs: the full timeline and the small fragments that update it. Pure over plain data.

Spans are placed in percent of the time scale, so the browser needs no script to draw them.
The scale is a nice round duration that grows with the run (1-2-5 steps); when a run outgrows
its scale, the whole timeline is drawn again at the next one (a handful of times per run).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.timeline import Lane, Span, Timeline

if TYPE_CHECKING:
    from app.runs import Run

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
MIN_SCALE_NS = 100_000_000  # 100 ms
LANE_HEIGHT = 28
# Categories the recorder uses, with the words the legend shows for them.
CATEGORIES = {
    "run": "running",
    "cpu": "computing (a task)",
    "hold": "holding a lock",
    "wait": "waiting / blocked",
    "sleep": "sleeping / I/O",
    "io": "I/O",
}
LABELLED = {"cpu", "io", "sleep"}  # spans long enough to be worth a visible label


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    env.globals.update(categories=CATEGORIES, lane_height=LANE_HEIGHT)
    return env


def scale_for(elapsed_ns: int) -> int:
    """The smallest 1-2-5 step of at least MIN_SCALE_NS that fits `elapsed_ns` with 5% to spare."""
    step = MIN_SCALE_NS
    while True:
        for factor in (1, 2, 5):
            if step * factor >= elapsed_ns * 1.05:
                return step * factor
        step *= 10


def ticks(scale_ns: int) -> list[tuple[float, str]]:
    """About five axis ticks: (percent, label in ms or s)."""
    step = scale_ns // 5
    out = []
    for i in range(6):
        t = i * step
        label = f"{t / 1e9:g} s" if scale_ns >= 5_000_000_000 else f"{t / 1e6:g} ms"
        out.append((round(100 * t / scale_ns, 3), label))
    return out


@dataclass
class View:
    """How far a stream of frames has drawn a run: counts of lanes, spans and marks sent."""

    scale_ns: int = MIN_SCALE_NS
    lanes: int = 0
    spans: int = 0
    marks: int = 0
    status: str = ""


@dataclass(frozen=True)
class Box:
    """A span or mark placed on the chart: percent x and width, pixel y and height."""

    x: float
    w: float
    y: int
    h: int
    name: str
    category: str
    tip: str
    labelled: bool
    cut: bool = False


class Renderer:
    def __init__(self, env: Environment, clock=time.monotonic_ns):
        self.env = env
        self.clock = clock

    def _now(self, timeline: Timeline, finished: bool) -> int:
        return timeline.last_ns if finished else max(timeline.last_ns, self.clock())

    def place(self, span: Span, t0: int, scale: int) -> Box:
        x = 100 * (span.start_ns - t0) / scale
        w = max(100 * (span.end_ns - span.start_ns) / scale, 0.08)
        depth = min(span.depth, 3)
        ms = (span.end_ns - span.start_ns) / 1e6
        tip = f"{span.name} · {(span.start_ns - t0) / 1e6:.2f}–{(span.end_ns - t0) / 1e6:.2f} ms ({ms:.2f} ms)"
        if span.cut:
            tip += " · never ended (cut off when the run ended)"
        return Box(round(x, 3), round(w, 3), 3 + 4 * depth, LANE_HEIGHT - 6 - 8 * depth, span.name,
                   span.category, tip, span.category in LABELLED, span.cut)

    def mark_boxes(self, timeline: Timeline, marks: list, scale: int) -> list[Box]:
        t0 = timeline.t0_ns or 0
        return [
            Box(round(100 * (m.ts_ns - t0) / scale, 3), 0.15, 1, LANE_HEIGHT - 2, m.name, m.category,
                f"{m.name} · {(m.ts_ns - t0) / 1e6:.2f} ms", False)
            for m in marks
        ]

    def _context(self, run: Run, view: View) -> dict[str, Any]:
        timeline = run.timeline
        finished = run.finished
        now = self._now(timeline, finished)
        t0 = timeline.t0_ns or now
        scale = view.scale_ns
        lanes = timeline.lanes[: view.lanes]
        spans: dict[int, list[Box]] = {lane.index: [] for lane in lanes}
        for span in timeline.spans[: view.spans]:
            spans[span.lane].append(self.place(span, t0, scale))
        for box, mark in zip(self.mark_boxes(timeline, timeline.marks[: view.marks], scale), timeline.marks):
            spans[mark.lane].append(box)
        return {
            "run": run,
            "lanes": lanes,
            "spans": spans,
            "open": self._open_boxes(timeline, lanes, now, t0, scale),
            "ticks": ticks(scale),
            "elapsed_ms": (now - t0) / 1e6 if timeline.t0_ns else 0.0,
        }

    def _open_boxes(self, timeline: Timeline, lanes: list[Lane], now: int, t0: int, scale: int) -> dict[int, list[Box]]:
        return {lane.index: [self.place(s, t0, scale) for s in timeline.open_spans(lane, now)] for lane in lanes}

    def catch_up(self, run: Run, view: View) -> None:
        """Move the view to everything the run has now, at a scale that fits it."""
        timeline = run.timeline
        now = self._now(timeline, run.finished)
        view.scale_ns = max(view.scale_ns, scale_for(now - (timeline.t0_ns or now)))
        view.lanes, view.spans, view.marks = len(timeline.lanes), len(timeline.spans), len(timeline.marks)
        view.status = run.status

    def page_parts(self, run: Run, view: View) -> dict[str, Any]:
        """Context for templates that draw the whole timeline as of `view`."""
        return self._context(run, view)

    def full(self, run: Run, view: View) -> str:
        """Everything, as out-of-band swaps: the first message on a socket, or after a rescale."""
        return self.env.get_template("_full.html").render(**self._context(run, view), oob=True)

    def delta(self, run: Run, view: View) -> str:
        """What changed since `view` (which it then advances), or everything if the scale must grow."""
        timeline = run.timeline
        now = self._now(timeline, run.finished)
        if timeline.t0_ns is not None and scale_for(now - timeline.t0_ns) > view.scale_ns:
            self.catch_up(run, view)
            return self.full(run, view)
        t0 = timeline.t0_ns or now
        scale = view.scale_ns
        new_lanes = timeline.lanes[view.lanes:]
        appended: dict[int, list[Box]] = {}
        for span in timeline.spans[view.spans:]:
            appended.setdefault(span.lane, []).append(self.place(span, t0, scale))
        new_marks = timeline.marks[view.marks:]
        for box, mark in zip(self.mark_boxes(timeline, new_marks, scale), new_marks):
            appended.setdefault(mark.lane, []).append(box)
        lanes = timeline.lanes
        html = self.env.get_template("_delta.html").render(
            run=run,
            new_lanes=new_lanes,
            spans={},
            appended=appended,
            open=self._open_boxes(timeline, lanes, now, t0, scale),
            lanes=lanes,
            elapsed_ms=(now - t0) / 1e6 if timeline.t0_ns else 0.0,
            status_changed=view.status != run.status,
        )
        view.lanes, view.spans, view.marks = len(lanes), len(timeline.spans), len(timeline.marks)
        view.status = run.status
        return html
