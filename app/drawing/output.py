"""The output pane: what a run printed, line by line, with when and who. Pure.

Every printed line is listed, also those the timeline merged into one mark because they came
too close together to draw apart: the timeline keeps them apart for this pane (Timeline.prints,
the first PRINTS_KEPT of them, then only their number).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.model.timeline import Timeline

LANE_COLOURS = 8  # lane swatches cycle through this many colours (style.css: .l-0 … .l-7)
RAW_OUTPUT = "output"  # the worker shown for raw text on the event pipe (no lane printed it)


@dataclass(frozen=True)
class Line:
    """A printed line as listed: its time since the run's start, who printed it, and what."""

    number: int  # its place in the run's output, from 0
    ms: float  # since the run's first event
    lane: int | None  # None: raw output, no lane's print
    worker: str
    text: str

    @property
    def colour(self) -> str:
        """The lane's colour class (the same as its swatch), or the neutral one for raw output."""
        return "l-out" if self.lane is None else f"l-{self.lane % LANE_COLOURS}"

    @property
    def when(self) -> str:
        return f"{self.ms:.1f} ms"


def lines(timeline: Timeline, start: int = 0, end: int | None = None) -> list[Line]:
    """The printed lines `start` to `end` (by default: to the last kept)."""
    t0 = timeline.t0_ns or 0
    out = []
    for number, printed in enumerate(timeline.prints[start:end], start):
        worker = RAW_OUTPUT if printed.lane is None else timeline.lanes[printed.lane].worker
        out.append(Line(number, round((printed.ts_ns - t0) / 1e6, 3), printed.lane, worker, printed.text))
    return out


def lane_colour(index: int) -> str:
    """The colour class of lane `index`: its swatch, and its lines in the output pane."""
    return f"l-{index % LANE_COLOURS}"
