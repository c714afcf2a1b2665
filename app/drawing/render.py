"""Which HTML to send for a run: a full render first, then small deltas. Pure over plain data.

A View remembers how far a stream of frames has drawn a run (how many lanes, spans, marks,
arrows and counter steps). Each delta appends what is new and redraws the few things that
change in place: the open spans, the last step of each counter series, the status. When the
run outgrows its time axis, or finishes (the axis then shrinks to fit), the whole timeline is
drawn again. The same fragment templates serve the first render and every delta.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from app import ROOT
from app.drawing import legend, output
from app.drawing.bytecode import listings, switches_only_at_calls_and_jumps
from app.drawing.code import view_of as code_view
from app.drawing.placement import (
    LANE_HEIGHT,
    LAYERS,
    ROW_HEIGHT,
    SERIES_HEIGHT,
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
from app.drawing.result_words import words_for
from app.drawing.sweeps import worker_choices
from app.drawing.table import tables as timeline_tables
from app.drawing.window import Window, overlapping
from app.model.conditions import describe as describe_conditions
from app.model.conditions import fallback_words
from app.model.cpu import sentences as cpu_sentences
from app.model.scale import MIN_FINISHED_SCALE_NS, MIN_SCALE_NS, scale_for
from app.model.timeline import Lane, Mark, Series, Span, Timeline

if TYPE_CHECKING:
    from app.model.runs import Run

TEMPLATES = ROOT / "templates"


def environment() -> Environment:
    # auto_reload off: templates do not change under a running server, and checking their files'
    # mtimes on every render cost a few percent of a busy frame loop.
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), auto_reload=False)
    env.globals.update(lane_height=LANE_HEIGHT, row_height=ROW_HEIGHT,
                       series_height=SERIES_HEIGHT, layers=LAYERS, group_id=group_id,
                       describe_conditions=describe_conditions, cpu_sentences=cpu_sentences,
                       oncpu_fallback=fallback_words,
                       lane_colour=output.lane_colour, result_words=words_for)
    env.globals.update(code_view=code_view)  # an experiment's code as the pages show it (app/drawing/code.py)
    env.globals.update(timeline_tables=timeline_tables)  # the timeline as text (app/drawing/table.py)
    env.globals.update(sweep_choices=worker_choices)  # the experiment page's "Sweep workers" (app/drawing/sweeps.py)
    return env


def warm_up(env: Environment) -> None:
    """Compile every template now, not on the first page or frame a user waits for (some 0.1 s)."""
    for name in env.list_templates(filter_func=lambda name: name.endswith(".html")):
        env.get_template(name)


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


def ms_param(ns: int) -> str:
    """A time as a URL's from_ms/to_ms: ms, to the ns, without trailing zeros."""
    return f"{ns / 1e6:.6f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class ZoomBar:
    """Where the drawn window sits in the whole run, and the windows its links lead to."""

    run_id: str
    from_ns: int
    to_ns: int
    run_ns: int  # the whole run's axis
    zoomed: bool
    note: str = ""  # why a zoomed window is drawn coarser than its resolution, if it is

    @property
    def overview(self) -> tuple[float, float]:
        """The window in the overview strip: x and width in percent of the whole run's axis."""
        whole = max(self.run_ns, self.to_ns)
        return round(100 * self.from_ns / whole, 3), round(max(0.5, 100 * (self.to_ns - self.from_ns) / whole), 3)

    def url(self, from_ns: int, to_ns: int) -> str:
        from_ns, to_ns = max(0, from_ns), min(to_ns, 10 ** 15)
        if from_ns <= 0 and to_ns >= self.run_ns:
            return f"/runs/{self.run_id}"
        return f"/runs/{self.run_id}?from_ms={ms_param(from_ns)}&to_ms={ms_param(to_ns)}"

    def links(self) -> dict[str, str]:
        """Zoom in and out about the middle, and pan by half the window: plain links, no script needed."""
        width, middle = self.to_ns - self.from_ns, (self.from_ns + self.to_ns) // 2
        wider = min(2 * width, max(self.run_ns, self.to_ns))
        start = min(max(0, middle - wider // 2), max(self.run_ns, self.to_ns) - wider)
        return {
            "in": self.url(middle - width // 4, middle - width // 4 + max(width // 2, 1_000)),
            "out": self.url(start, start + wider),
            "earlier": self.url(max(0, self.from_ns - width // 2), max(0, self.from_ns - width // 2) + width),
            "later": self.url(self.from_ns + width // 2, self.to_ns + width // 2),
        }

    @property
    def range_words(self) -> str:
        return f"{ms_param(self.from_ns)}–{ms_param(self.to_ns)} ms"


@dataclass(frozen=True)
class Extent:
    """A compared run's length on the axis the Compare view's runs share."""

    elapsed_ns: int
    scale_ns: int  # the shared axis: the longest compared run's

    @property
    def percent(self) -> float:
        return round(100 * self.elapsed_ns / self.scale_ns, 3)

    @property
    def words(self) -> str:
        return f"{self.elapsed_ns / 1e6:.1f} ms"


@dataclass(frozen=True)
class Compared:
    """One run of the Compare view: its timeline drawn on the shared axis, or None while it goes on."""

    run: Run
    timeline: Markup | None
    extent: Extent | None
    so_far_ms: float | None = None  # a run still going: how long it has gone so far


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
        placed = ([(s.lane, place_span(s, axis)) for s in spans] + [(m.lane, place_mark(m, axis)) for m in marks]
                  + [(s.lane, place_cpu(s, axis)) for s in cpu])
        groups: dict[str, list[Box]] = {}
        for lane, box in placed:
            groups.setdefault(group_id(lane, box.layer), []).append(box)
        return groups

    @staticmethod
    def _open(timeline: Timeline, lanes: list[Lane], axis: Axis, now: int, live: bool = True) -> dict[int, list[Box]]:
        """What changes in place, by lane. open_spans() lists the lane's open spans first, then its
        pending merges: while the run goes on, the open ones are drawn live (fading at now)."""
        return {lane.index: [place_cpu(s, axis) for s in timeline.open_cpu(lane)]
                + [replace(place_span(s, axis), live=live and i < len(lane.stack))
                   for i, s in enumerate(timeline.open_spans(lane, now))]
                + [place_mark(m, axis) for m in timeline.pending_marks(lane)] for lane in lanes}

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
        return {"bytecode": listings(run.timeline.header), "switch_points": switches_only_at_calls_and_jumps(run.python),
                "gil_enabled": bool((run.timeline.header or {}).get("gil_enabled", True))}

    def _context(self, run: Run, view: View) -> dict[str, Any]:
        """Everything drawn as of `view`, with the open parts as of now."""
        timeline = run.timeline
        now = self._now(timeline, run.finished)
        axis = Axis(timeline.t0_ns or now, view.scale_ns)
        lanes = timeline.lanes[: view.lanes]
        return {
            **self._common(run, now),
            **self._bytecode(run),
            "lanes": lanes,
            "spans": self._grouped(timeline.spans[: view.spans], timeline.marks[: view.marks],
                                   timeline.cpu_spans[: view.cpu], axis),
            "open": self._open(timeline, lanes, axis, now, not run.finished),
            "arrows": [place_arrow(a, axis) for a in timeline.arrows[: view.arrows]],
            "output": output.lines(timeline, 0, view.prints),
            "prints_more": view.prints_more,
            "legend": legend.entries(view.legend),
            "scale_ms": view.scale_ns / 1e6,
            "series": [self._row(s, view.steps[s.index], view.tops[s.index], axis, now)
                       for s in timeline.series[: view.series]],
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
        opened = {lane.index: [place_cpu(s, axis) for s in overlapping(timeline.open_cpu(lane), lo, hi)]
                  + [place_span(s, axis) for s in overlapping(timeline.open_spans(lane, now), lo, hi)]
                  + [place_mark(m, axis) for m in overlapping(timeline.pending_marks(lane), lo, hi)] for lane in lanes}
        series = []
        for s in timeline.series:
            if not s.samples:
                continue
            steps = [place_step(s, i, axis, series_top(s), now) for i in range(len(s.samples))
                     if (s.samples[i + 1][0] if i + 1 < len(s.samples) else max(now, s.samples[i][0])) >= lo
                     and s.samples[i][0] <= hi]
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
        return self._context(run, view)

    def caught_up(self, run: Run) -> View:
        """A fresh view of everything the run has now, on an axis that fits it."""
        view = View()
        self.catch_up(run, view)
        return view

    def compare(self, runs: list[Run]) -> tuple[list[Compared], list[legend.Entry], int]:
        """The Compare view's timelines: every finished run drawn whole (as its own page draws it) on
        one axis, the longest run's, so the same time is the same width in each. A run still going is
        not drawn (its axis would still grow): None, until it ends. Also the legend they need together,
        and the shared axis."""
        views = {run.id: self.caught_up(run) for run in runs if run.finished}
        scale = max((view.scale_ns for view in views.values()), default=MIN_FINISHED_SCALE_NS)
        template = self.env.get_template("_timeline.html")
        keys: set[str] = set()
        compared = []
        for i, run in enumerate(runs):
            view = views.get(run.id)
            if view is None:
                t0 = run.timeline.t0_ns
                compared.append(Compared(run, None, None, (self.clock() - t0) / 1e6 if t0 is not None else None))
                continue
            view.scale_ns = scale
            keys |= view.legend
            timeline = run.timeline
            extent = Extent(timeline.last_ns - timeline.t0_ns if timeline.t0_ns is not None else 0, scale)
            html = template.render(**self._context(run, view), ids=f"c{i}-", extent=extent)
            compared.append(Compared(run, Markup(html), extent))
        return compared, legend.entries(keys), scale

    def full(self, run: Run, view: View) -> str:
        """Everything, as out-of-band swaps: the first message on a socket, or after a rescale."""
        return self.env.get_template("_full.html").render(**self._context(run, view), oob=True)

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
        appended = self._grouped(timeline.spans[view.spans:], timeline.marks[view.marks:],
                                 timeline.cpu_spans[view.cpu:], axis)
        new_series, redrawn, steps, open_steps = self._series_delta(timeline, view, axis, now)
        # The header (with any bytecode) comes once, first; the Bytecode view is sent with it.
        bytecode = self._bytecode(run) if timeline.header and not view.bytecode else {}
        view.legend_drawn |= legend.drawn(timeline.spans[view.spans:], timeline.marks[view.marks:],
                                          timeline.cpu_spans[view.cpu:], timeline.arrows[view.arrows:])
        legend_now = self._legend(run, view)
        html = self.env.get_template("_delta.html").render(
            **self._common(run, now),
            **bytecode,
            new_lanes=timeline.lanes[view.lanes:],
            spans={},
            appended=appended,
            open=self._open(timeline, timeline.lanes, axis, now, not run.finished),
            lanes=timeline.lanes,
            new_output=output.lines(timeline, view.prints),
            prints_more=timeline.prints_more if timeline.prints_more != view.prints_more else None,
            legend=legend.entries(legend_now) if legend_now != view.legend else None,
            arrows=[place_arrow(a, axis) for a in timeline.arrows[view.arrows:]],
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
        self, timeline: Timeline, view: View, axis: Axis, now: int,
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
