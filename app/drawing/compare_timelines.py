"""The Compare view's timelines: each finished run drawn whole, as its own page draws it, on one axis
shared by all (the longest run's), so the same time is the same width in each. Pure over plain data. (The
table of the runs side by side: app/drawing/compare.py.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from markupsafe import Markup

from app.drawing import legend
from app.drawing.render import Renderer
from app.model.scale import MIN_FINISHED_SCALE_NS

if TYPE_CHECKING:
    from app.model.runs import Run


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


def compare_timelines(renderer: Renderer, runs: list[Run]) -> tuple[list[Compared], list[legend.Entry], int]:
    """The Compare view's timelines: every finished run drawn whole (as its own page draws it) on
    one axis, the longest run's, so the same time is the same width in each. A run still going is
    not drawn (its axis would still grow): None, until it ends. Also the legend they need together,
    and the shared axis."""
    views = {run.id: renderer.caught_up(run) for run in runs if run.finished}
    scale = max((view.scale_ns for view in views.values()), default=MIN_FINISHED_SCALE_NS)
    template = renderer.env.get_template("_timeline.html")
    keys: set[str] = set()
    compared = []
    for i, run in enumerate(runs):
        view = views.get(run.id)
        if view is None:
            t0 = run.timeline.t0_ns
            compared.append(Compared(run, None, None, (renderer.clock() - t0) / 1e6 if t0 is not None else None))
            continue
        view.scale_ns = scale
        keys |= view.legend
        timeline = run.timeline
        extent = Extent(timeline.last_ns - timeline.t0_ns if timeline.t0_ns is not None else 0, scale)
        html = template.render(**renderer.context(run, view), ids=f"c{i}-", extent=extent)
        compared.append(Compared(run, Markup(html), extent))
    return compared, legend.entries(keys), scale
