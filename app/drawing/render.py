"""Which HTML to send for a run: a full render first, then small deltas. Pure over plain data.

A View remembers how far a stream of frames has drawn a run (how many lanes, spans, marks,
arrows and counter steps). Each delta appends what is new and redraws the few things that
change in place: the open spans, the last step of each counter series, the status. When the
run outgrows its time axis, or finishes (the axis then shrinks to fit), the whole timeline is
drawn again. The same fragment templates serve the first render and every delta. (The templates'
environment: app/drawing/environment.py; the zoom bar: app/drawing/zoom_bar.py; the Compare view's
timelines: app/drawing/compare_timelines.py.)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from jinja2 import Environment

from app.drawing import legend, output
from app.drawing.bytecode import listings, switches_only_at_calls_and_jumps
from app.drawing.placement import (
    Axis,
    Box,
    Step,
    group_id,
    place_arrow,
    place_cpu,
    place_mark,
    place_span,
    place_step,
    series_top,
    ticks,
)
from app.drawing.window import Window, overlapping
from app.drawing.zoom_bar import ZoomBar
from app.model.scale import MIN_SCALE_NS, scale_for
from app.model.timeline import Lane, Mark, Series, Span, Timeline

if TYPE_CHECKING:
    from app.model.runs import Run


@dataclass
class View:
    """How far a stream of frames has drawn a run."""

    scale_ns: int = MIN_SCALE_NS
    final: bool = False  # drawn on the snug axis of a finished run
    lanes: int = 0
    spans: int = 0
    cpu: int = 0  # on-CPU spans
    marks: int = 0
    arrows: int = 0
    series: int = 0
    steps: dict[int, int] = field(default_factory=dict)  # by series: finished steps drawn
    tops: dict[int, float] = field(default_factory=dict)  # by series: the value its track's top stands for
    bytecode: bool = False  # the Bytecode view has been sent
    prints: int = 0  # printed lines listed in the output pane
    prints_more: int = 0  # printed lines past the pane's cap, as last said
    legend_drawn: set[str] = field(default_factory=set)  # legend keys of the finished shapes drawn
    legend: frozenset[str] = frozenset()  # the legend as last sent: those and what was open then


@dataclass(frozen=True)
class SeriesRow:
    """A counter series as drawn: its finished steps and the last one, held until now."""

    index: int
    name: str
    top: float
    steps: list[Step]
    open: Step


class Renderer:
    def __init__(self, env: Environment, clock: Callable[[], int] = time.monotonic_ns) -> None:
        self.env = env
        self.clock = clock

    def _now(self, timeline: Timeline, finished: bool) -> int:
        return timeline.last_ns if finished else max(timeline.last_ns, self.clock())

    @staticmethod
    def _row(series: Series, drawn: int, top: float, axis: Axis, now: int) -> SeriesRow:
        steps = [place_step(series, i, axis, top, now) for i in range(drawn)]
        return SeriesRow(series.index, series.name, top, steps, place_step(series, drawn, axis, top, now))

    @staticmethod
    def _grouped(spans: list[Span], marks: list[Mark], cpu: list[Span], axis: Axis) -> dict[str, list[Box]]:
        """Spans, marks and on-CPU spans placed, by the SVG group (lane and layer) they go into."""
        placed = (
            [(s.lane, place_span(s, axis)) for s in spans]
            + [(m.lane, place_mark(m, axis)) for m in marks]
            + [(s.lane, place_cpu(s, axis)) for s in cpu]
        )
        groups: dict[str, list[Box]] = {}
        for lane, box in placed:
            groups.setdefault(group_id(lane, box.layer), []).append(box)
        return groups

    @staticmethod
    def _open(timeline: Timeline, lanes: list[Lane], axis: Axis, now: int, live: bool = True) -> dict[int, list[Box]]:
        """What changes in place, by lane. open_spans() lists the lane's open spans first, then its
        pending merges: while the run goes on, the open ones are drawn live (fading at now)."""
        return {
            lane.index: [place_cpu(s, axis) for s in timeline.open_cpu(lane)]
            + [
                replace(place_span(s, axis), live=live and i < len(lane.stack))
                for i, s in enumerate(timeline.open_spans(lane, now))
            ]
            + [place_mark(m, axis) for m in timeline.pending_marks(lane)]
            for lane in lanes
        }

    @staticmethod
    def _legend(run: Run, view: View) -> frozenset[str]:
        """The legend now: what the view has drawn, and what is open."""
        return frozenset(view.legend_drawn | legend.open_now(run.timeline, run.finished))

    def _common(self, run: Run, now: int) -> dict[str, Any]:
        timeline = run.timeline
        return {
            "run": run,
            "runner_pid": (timeline.header or {}).get("pid"),
            "elapsed_ms": (now - timeline.t0_ns) / 1e6 if timeline.t0_ns else 0.0,
        }

    @staticmethod
    def _bytecode(run: Run) -> dict[str, Any]:
        return {
            "bytecode": listings(run.timeline.header),
            "switch_points": switches_only_at_calls_and_jumps(run.python),
            "gil_enabled": bool((run.timeline.header or {}).get("gil_enabled", True)),
        }

    def context(self, run: Run, view: View) -> dict[str, Any]:
        """Everything drawn as of `view`, with the open parts as of now: what a timeline template is rendered with."""
        timeline = run.timeline
        now = self._now(timeline, run.finished)
        axis = Axis(timeline.t0_ns or now, view.scale_ns)
        lanes = timeline.lanes[: view.lanes]
        return {
            **self._common(run, now),
            **self._bytecode(run),
            "lanes": lanes,
            "spans": self._grouped(
                timeline.spans[: view.spans], timeline.marks[: view.marks], timeline.cpu_spans[: view.cpu], axis
            ),
            "open": self._open(timeline, lanes, axis, now, not run.finished),
            "arrows": [place_arrow(a, axis) for a in timeline.arrows[: view.arrows]],
            "output": output.lines(timeline, 0, view.prints),
            "prints_more": view.prints_more,
            "legend": legend.entries(view.legend),
            "scale_ms": view.scale_ns / 1e6,
            "series": [
                self._row(s, view.steps[s.index], view.tops[s.index], axis, now) for s in timeline.series[: view.series]
            ],
            "ticks": ticks(view.scale_ns),
            "zoom": ZoomBar(run.id, 0, view.scale_ns, view.scale_ns, zoomed=False),
        }

    def window_parts(self, run: Run, timeline: Timeline, window: Window, note: str = "") -> dict[str, Any]:
        """Context for the run page zoomed into `window`, drawn from `timeline` (the window's own,
        app/drawing/window.py, or the run's): only what reaches into the window, cut at its edges."""
        own = run.timeline
        now = self._now(own, run.finished)
        t0 = own.t0_ns or now
        axis = Axis.window(t0, window.from_ns, window.to_ns)
        lo, hi = axis.lo, axis.hi
        lanes = timeline.lanes
        opened = {
            lane.index: [place_cpu(s, axis) for s in overlapping(timeline.open_cpu(lane), lo, hi)]
            + [place_span(s, axis) for s in overlapping(timeline.open_spans(lane, now), lo, hi)]
            + [place_mark(m, axis) for m in overlapping(timeline.pending_marks(lane), lo, hi)]
            for lane in lanes
        }
        series = []
        for s in timeline.series:
            if not s.samples:
                continue
            steps = [
                place_step(s, i, axis, series_top(s), now)
                for i in range(len(s.samples))
                if (s.samples[i + 1][0] if i + 1 < len(s.samples) else max(now, s.samples[i][0])) >= lo
                and s.samples[i][0] <= hi
            ]
            if steps:
                series.append(SeriesRow(s.index, s.name, series_top(s), steps[:-1], steps[-1]))
        whole = scale_for((now - t0) if own.t0_ns else 0, finished=run.finished)
        spans, marks = overlapping(timeline.spans, lo, hi), overlapping(timeline.marks, lo, hi)
        cpu, arrows = overlapping(timeline.cpu_spans, lo, hi), overlapping(timeline.arrows, lo, hi)
        # The output pane lists the whole run's prints (a click marks those in the window); the
        # legend, what the window draws.
        keys = legend.drawn(spans, marks, cpu, arrows) | legend.open_now(timeline, run.finished)
        return {
            **self._common(run, now),
            **self._bytecode(run),
            "lanes": lanes,
            "spans": self._grouped(spans, marks, cpu, axis),
            "open": opened,
            "arrows": [place_arrow(a, axis) for a in arrows],
            "output": output.lines(own, 0, len(own.prints)),
            "prints_more": own.prints_more,
            "legend": legend.entries(keys),
            "scale_ms": whole / 1e6,
            "series": series,
            "ticks": ticks(window.scale_ns, window.from_ns),
            "zoom": ZoomBar(run.id, window.from_ns, window.to_ns, whole, zoomed=True, note=note),
        }

    def catch_up(self, run: Run, view: View) -> None:
        """Move the view to everything the run has now, on an axis that fits it."""
        timeline = run.timeline
        now = self._now(timeline, run.finished)
        elapsed = now - (timeline.t0_ns or now)
        if run.finished:
            view.scale_ns, view.final = scale_for(elapsed, finished=True), True
        else:
            view.scale_ns = max(view.scale_ns, scale_for(elapsed))
        view.lanes, view.spans, view.marks = len(timeline.lanes), len(timeline.spans), len(timeline.marks)
        view.cpu, view.arrows, view.series = len(timeline.cpu_spans), len(timeline.arrows), len(timeline.series)
        for series in timeline.series:
            view.steps[series.index] = len(series.samples) - 1
            view.tops[series.index] = series_top(series)
        view.bytecode = bool(timeline.header)
        view.prints, view.prints_more = len(timeline.prints), timeline.prints_more
        view.legend_drawn = legend.drawn(timeline.spans, timeline.marks, timeline.cpu_spans, timeline.arrows)
        view.legend = self._legend(run, view)

    def page_parts(self, run: Run, view: View) -> dict[str, Any]:
        """Context for the run page: as of `view` while the run goes on (its socket sends the rest
        after that), all of it once the run is over (no socket then, and `view` may lag a frame)."""
        if run.finished:
            view = self.caught_up(run)
        return self.context(run, view)

    def caught_up(self, run: Run) -> View:
        """A fresh view of everything the run has now, on an axis that fits it."""
        view = View()
        self.catch_up(run, view)
        return view

    def full(self, run: Run, view: View) -> str:
        """Everything, as out-of-band swaps: the first message on a socket, or after a rescale."""
        return self.env.get_template("_full.html").render(**self.context(run, view), oob=True)

    def _needs_full(self, run: Run, view: View, now: int) -> bool:
        t0 = run.timeline.t0_ns
        if t0 is None:
            return False
        if run.finished:
            return not view.final
        return scale_for(now - t0) > view.scale_ns

    def delta(self, run: Run, view: View) -> str:
        """What changed since `view` (which it then advances), or everything if the axis must change."""
        timeline = run.timeline
        now = self._now(timeline, run.finished)
        if self._needs_full(run, view, now):
            self.catch_up(run, view)
            return self.full(run, view)
        axis = Axis(timeline.t0_ns or now, view.scale_ns)
        appended = self._grouped(
            timeline.spans[view.spans :], timeline.marks[view.marks :], timeline.cpu_spans[view.cpu :], axis
        )
        new_series, redrawn, steps, open_steps = self._series_delta(timeline, view, axis, now)
        # The header (with any bytecode) comes once, first; the Bytecode view is sent with it.
        bytecode = self._bytecode(run) if timeline.header and not view.bytecode else {}
        view.legend_drawn |= legend.drawn(
            timeline.spans[view.spans :],
            timeline.marks[view.marks :],
            timeline.cpu_spans[view.cpu :],
            timeline.arrows[view.arrows :],
        )
        legend_now = self._legend(run, view)
        html = self.env.get_template("_delta.html").render(
            **self._common(run, now),
            **bytecode,
            new_lanes=timeline.lanes[view.lanes :],
            spans={},
            appended=appended,
            open=self._open(timeline, timeline.lanes, axis, now, not run.finished),
            lanes=timeline.lanes,
            new_output=output.lines(timeline, view.prints),
            prints_more=timeline.prints_more if timeline.prints_more != view.prints_more else None,
            legend=legend.entries(legend_now) if legend_now != view.legend else None,
            arrows=[place_arrow(a, axis) for a in timeline.arrows[view.arrows :]],
            new_series=new_series,
            redrawn_series=redrawn,
            appended_steps=steps,
            open_steps=open_steps,
            send_bytecode=bool(bytecode.get("bytecode")),
        )
        view.lanes, view.spans, view.marks = len(timeline.lanes), len(timeline.spans), len(timeline.marks)
        view.cpu, view.arrows = len(timeline.cpu_spans), len(timeline.arrows)
        view.bytecode = view.bytecode or bool(timeline.header)
        view.prints, view.prints_more, view.legend = len(timeline.prints), timeline.prints_more, legend_now
        return html

    def _series_delta(
        self,
        timeline: Timeline,
        view: View,
        axis: Axis,
        now: int,
    ) -> tuple[list[SeriesRow], list[SeriesRow], dict[int, list[Step]], dict[int, Step]]:
        """Per series: a new row, a redrawn row (its top had to grow), or new steps and the open one."""
        new_rows: list[SeriesRow] = []
        redrawn: list[SeriesRow] = []
        appended: dict[int, list[Step]] = {}
        open_steps: dict[int, Step] = {}
        for series in timeline.series:
            i, last = series.index, len(series.samples) - 1
            top = series_top(series)
            if i >= view.series or top > view.tops[i]:
                (new_rows if i >= view.series else redrawn).append(self._row(series, last, top, axis, now))
            else:
                appended[i] = [place_step(series, k, axis, top, now) for k in range(view.steps[i], last)]
                open_steps[i] = place_step(series, last, axis, top, now)
            view.steps[i], view.tops[i] = last, top
        view.series = len(timeline.series)
        return new_rows, redrawn, appended, open_steps
