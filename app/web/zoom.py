"""Zoomed windows of runs: a window's timeline from the stored events, with the work bounded.

The folding itself is pure (app/drawing/window.py); this is its edge: reading rows from the run store,
decoding and folding them off the event loop, one fold at a time for the whole server (so a
class opening the same shared window costs one fold, and a big run's zoom never takes both
cores), and remembering the last few. A window is folded again only when the run's own
timeline is coarser than the window's resolution; otherwise, or when the work would exceed its
bound (a log past the store's bound, too many events to index, or too many in the window's
rows), the window is drawn from the run's own timeline, and the page says so.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import TYPE_CHECKING

from app.drawing.window import RowIndex, Window, WindowTimeline
from app.model.runs import cut_why
from app.model.scale import RESOLUTION
from app.model.timeline import Timeline
from app.storage.wire import unpack_events

if TYPE_CHECKING:
    from app.model.runs import Run
    from app.storage.seams import RunStorage

# Measured here (benchmarks-like flood, a loaded 2-core machine): indexing reads ~0.5 M events/s,
# folding a window's rows ~0.25 M events/s. So at most some 4 s to index a run, once, and ~1 s a window.
MAX_INDEX_EVENTS = 2_000_000
MAX_WINDOW_EVENTS = 250_000
ROWS_PER_READ = 64  # a few hundred thousand events decoded at most at once
KEEP_INDEXES = 8  # runs
KEEP_WINDOWS = 16  # finished runs' windows (a live run's change with every event)


def _index_rows(index: RowIndex, rows: list[tuple[int, bytes]]) -> None:
    for first_seq, blob in rows:
        index.add(first_seq, [event for _, event in unpack_events(blob, first_seq)])


def _fold_rows(timeline: WindowTimeline, rows: list[tuple[int, bytes]]) -> None:
    for first_seq, blob in rows:
        timeline.fold([event for _, event in unpack_events(blob, first_seq)])


class Zoom:
    def __init__(
        self, store: RunStorage, max_index_events: int = MAX_INDEX_EVENTS, max_window_events: int = MAX_WINDOW_EVENTS
    ):
        self.store = store
        self.max_index_events = max_index_events
        self.max_window_events = max_window_events
        self._indexes: OrderedDict[str, RowIndex] = OrderedDict()
        self._windows: OrderedDict[tuple[str, Window], WindowTimeline] = OrderedDict()
        self._lock = asyncio.Lock()

    async def timeline(self, run: Run, window: Window) -> tuple[Timeline, str]:
        """The timeline to draw `window` of `run` from, and why it is the run's own one, if that matters."""
        own = run.timeline
        if own.t0_ns is None or window.scale_ns // RESOLUTION >= own.resolution_ns:
            return own, ""  # nothing drawn yet, or the run's own folding is already as fine as the window's
        coarse = f"drawn at the whole run's resolution ({own.resolution_ns / 1e6:g} ms)"
        if run.truncated:
            return own, f"{coarse}: its stored log stops after {run.truncated.after_events} events"
        if run.received > self.max_index_events:
            return own, f"{coarse}: its {run.received} events are more than a zoom reads ({self.max_index_events})"
        key = (run.id, window)
        async with self._lock:
            if key in self._windows:
                self._windows.move_to_end(key)
                return self._windows[key], ""
            index = await self._index(run)
            first, last = index.rows_for(own.t0_ns + window.from_ns, own.t0_ns + window.to_ns, own.resolution_ns)
            events = sum(index.counts[first:last])
            if events > self.max_window_events:
                return (
                    own,
                    f"{coarse}: this window spans {events} events, more than a zoom folds "
                    f"({self.max_window_events}); zoom in further for every detail",
                )
            stacks = index.checkpoints[first] if first < len(index.checkpoints) else index.stacks
            timeline = WindowTimeline.of(own, window, {w: tuple(s) for w, s in stacks.items()})
            if first < last:
                rows = await self.store.rows(run.id, index.first_seqs[first], index.first_seqs[last - 1], last - first)
                await asyncio.to_thread(_fold_rows, timeline, rows)
            timeline.settle(own, run.finished, cut_why(run.status))
            if run.finished:
                self._windows[key] = timeline
                while len(self._windows) > KEEP_WINDOWS:
                    self._windows.popitem(last=False)
        return timeline, ""

    async def _index(self, run: Run) -> RowIndex:
        """The run's row index, extended with the rows stored since it was last asked for."""
        index = self._indexes.pop(run.id, None) or RowIndex()
        self._indexes[run.id] = index
        while len(self._indexes) > KEEP_INDEXES:
            self._indexes.popitem(last=False)
        after = index.first_seqs[-1] + 1 if index.first_seqs else 0
        while True:
            rows = await self.store.rows(run.id, after, 1 << 62, ROWS_PER_READ)
            if not rows:
                return index
            await asyncio.to_thread(_index_rows, index, rows)
            after = rows[-1][0] + 1
