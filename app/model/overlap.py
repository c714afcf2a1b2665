"""How long a run's threads were on CPUs at the same time, read from their on-CPU strips. Pure.

A strip is a stretch of a lane's time holding `busy_ns` of CPU time (all of it when the strip is
an interval the kernel reported, part of it when the timeline merged a bin, app/model/timeline.py).
Where a bin is only partly busy the strip does not say when inside it the lane ran, so what is
computed is what the strips prove: a lower bound. Within a stretch where k lanes' strips meet, their
busy time that must fall inside it, beyond what one core could hold, was spent with two or more on
CPUs at once. Exact where the strips are exact (whole bins, raw intervals).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.model.timeline import Span

if TYPE_CHECKING:
    from app.model.documents import OverlapJson


@dataclass(frozen=True)
class Overlap:
    together_ms: float  # at least this long two or more of the lanes were on CPUs at once
    span_ms: float  # from the first strip's start to the last strip's end: the time they ran in

    def to_json(self) -> OverlapJson:
        return {"together_ms": self.together_ms, "span_ms": self.span_ms}


def clipped(strip: Span, start: int, end: int) -> Span | None:
    """The part of `strip` within [start, end), with the busy time it must hold there; None if none."""
    lo, hi = max(strip.start_ns, start), min(strip.end_ns, end)
    if hi <= lo:
        return None
    if (lo, hi) == (strip.start_ns, strip.end_ns):
        return strip
    width = strip.end_ns - strip.start_ns
    must = (strip.busy_ns or width) - (width - (hi - lo))  # what the rest of the strip cannot hold
    # (busy_ns 0 reads as "all of it": a part that need hold nothing is left out, it proves no overlap)
    return Span(strip.lane, strip.name, strip.category, lo, hi, busy_ns=must) if must > 0 else None


def overlap(
    strips: Iterable[Span], lanes: set[int], cores: int, window: tuple[int, int] | None = None
) -> Overlap | None:
    """The overlap of the strips of `lanes` on a machine of `cores` CPUs, within `window` (start, end) if
    given; None if they have none there."""
    mine = [s for s in strips if s.lane in lanes and s.end_ns > s.start_ns]
    if window is not None:
        mine = [c for s in mine if (c := clipped(s, *window)) is not None]
    if not mine:
        return None
    bounds = sorted({t for s in mine for t in (s.start_ns, s.end_ns)})
    mine.sort(key=lambda s: s.start_ns)
    together = 0.0
    active: list[Span] = []
    i = 0
    for lo, hi in zip(bounds, bounds[1:]):
        while i < len(mine) and mine[i].start_ns <= lo:
            active.append(mine[i])
            i += 1
        active = [s for s in active if s.end_ns > lo]
        if len(active) < 2:
            continue
        length = hi - lo
        per_lane: dict[int, float] = {}
        for s in active:
            width = s.end_ns - s.start_ns
            busy = s.busy_ns or width  # an interval as reported: busy all through
            # What of the strip's busy time must fall in [lo, hi): what the rest of the strip cannot hold.
            per_lane[s.lane] = per_lane.get(s.lane, 0.0) + max(0.0, busy - (width - length))
        busy_here = sum(min(float(length), b) for b in per_lane.values())
        most = min(len(per_lane), max(1, cores))
        if most >= 2 and busy_here > length:
            # busy_here <= (length - t2) + most * t2, where t2 is the time with two or more on CPUs.
            together += min(float(length), (busy_here - length) / (most - 1))
    return Overlap(round(together / 1e6, 1), round((bounds[-1] - bounds[0]) / 1e6, 1))
