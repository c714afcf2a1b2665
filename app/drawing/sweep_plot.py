"""A sweep's speedup lines (app/drawing/sweeps.py) placed on a plot: axes, ticks and each mark's place in the
SVG's own units. Pure; templates/_sweep_plot.html draws it.

Both axes start at 0 and are linear, so the ideal min(workers, cores, tasks) is the diagonal until the
cores run out, then flat. The x axis ends at the sweep's largest worker count (from its params, so it
does not move as points finish); the y axis at the largest speedup or ideal so far, in whole steps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from app.drawing.result_words import number
from app.drawing.sweeps import IDEAL, Line

WIDTH, HEIGHT = 640, 360
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 52  # margins: tick labels and axis titles
COLOURS = 6  # static/style.css .sweep-c0 ... c5, then they repeat
SHAPES = ("circle", "square", "diamond")  # one per measured figure, so lines differ by more than colour


@dataclass(frozen=True)
class Tick:
    at: float  # x or y in SVG units
    label: str


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    workers: int
    value: float
    run_id: str
    words: str  # its <title>


@dataclass(frozen=True)
class Trace:
    label: str
    figure: str
    ideal: bool
    colour: int
    shape: str  # the marker of a measured line
    points: str  # the polyline's points
    dots: tuple[Dot, ...]


@dataclass(frozen=True)
class Plot:
    width: int
    height: int
    left: float
    right: float  # x of the plot area's right edge
    top: float
    bottom: float  # y of the plot area's bottom edge (speedup 0)
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    traces: tuple[Trace, ...]


def step_for(top: float) -> float:
    """A tick step giving at most about eight ticks up to `top`: 0.5, 1, 2, 5, 10, ..."""
    for step in (0.5, 1, 2, 5):
        if top / step <= 8:
            return step
    power: int = 10 ** math.ceil(math.log10(top / 8))  # top > 40 here: a positive power of ten, an int
    return power


def layout(found: Sequence[Line], workers: Sequence[int]) -> Plot | None:
    """Place `found` against the sweep's worker counts `workers`; None when there is nothing to place."""
    if not found or not workers:
        return None
    x_max = max(workers)
    highest = max([1.0] + [m.value for line in found for m in line.marks])
    step = step_for(highest)
    y_max = math.ceil(highest / step) * step
    right, bottom = WIDTH - RIGHT, HEIGHT - BOTTOM

    def x_at(w: float) -> float:
        return round(LEFT + (right - LEFT) * w / x_max, 1)

    def y_at(v: float) -> float:
        return round(bottom - (bottom - TOP) * v / y_max, 1)

    measured = list(dict.fromkeys(line.figure for line in found if line.figure != IDEAL))
    traces = []
    for i, line in enumerate(found):
        shape = "" if line.figure == IDEAL else SHAPES[measured.index(line.figure) % len(SHAPES)]
        dots = tuple(
            Dot(
                x_at(m.workers),
                y_at(m.value),
                m.workers,
                m.value,
                m.run_id,
                f"{line.label}: {number(m.value)}× at workers={m.workers} (run {m.run_id})",
            )
            for m in line.marks
        )
        traces.append(
            Trace(
                line.label,
                line.figure,
                line.figure == IDEAL,
                i % COLOURS,
                shape,
                " ".join(f"{d.x},{d.y}" for d in dots),
                dots,
            )
        )
    y_ticks = tuple(Tick(y_at(i * step), f"{i * step:g}") for i in range(int(round(y_max / step)) + 1))
    x_ticks = tuple(Tick(x_at(w), str(w)) for w in sorted(set(workers)))
    return Plot(WIDTH, HEIGHT, LEFT, right, TOP, bottom, (Tick(x_at(0), "0"),) + x_ticks, y_ticks, tuple(traces))
