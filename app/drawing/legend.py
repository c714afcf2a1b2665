"""The legend a run needs: one entry per kind of shape its timeline draws, and no other. Pure.

Each colour on the chart means one thing (style.css): a span's fill is what its worker did, a
tick is an instant, the strip under the spans is the kernel's on-CPU measure. The legend lists
only what this run has drawn so far (and what is open now), so a student reads a short list.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from app.model.timeline import LOST, ON_CPU, Arrow, Mark, Span, Timeline

OPEN = "open"  # a span still going: drawn fading at the live edge
CUT = "cut"  # a span that never ended
ARROW = "arrow"  # notify → the wait it ended


@dataclass(frozen=True)
class Entry:
    key: str
    shape: str  # how the swatch is drawn: box, outline, strip, tick, arrow, cut, open
    words: str


# In the order the legend lists them. Spans first (what a worker did), then the rest.
ENTRIES = (
    Entry("phase", "outline", "a phase of main's code (an outline: what main did meanwhile is drawn inside)"),
    Entry("run", "box", "running code"),
    Entry("cpu", "box", "computing (a CPU-bound task)"),
    Entry("hold", "box", "holding a lock"),
    Entry("wait", "box", "waiting / blocked"),
    Entry("sleep", "box", "sleeping"),
    Entry("io", "box", "I/O"),
    Entry(OPEN, "open", "still going: the end fades at now"),
    Entry(CUT, "cut", "cut: never ended (its process was killed or exited under it, or the run was stopped)"),
    Entry(ON_CPU, "strip", "on a CPU, as the kernel measured it (the strip under the spans; a gap: not on a CPU)"),
    Entry(LOST, "strip", "switch records lost: who was on a CPU then is unknown (the kernel's buffer was full)"),
    Entry("print", "tick", "a print (listed under Output)"),
    Entry("mark", "tick", "an event (hover for its text)"),
    Entry("result", "tick", "a result received"),
    Entry("end", "tick", "a process ended or was killed"),
    Entry("notify", "tick", "a notify or a put, and the wait it ended (a wake-up or a get)"),
    Entry(ARROW, "arrow", "notify → the wait it ended"),
)
KNOWN = {entry.key for entry in ENTRIES}
SAME_AS = {"woken": "notify"}  # drawn in the same colour: one meaning, one entry


def drawn(spans: Iterable[Span], marks: Iterable[Mark], cpu: Iterable[Span], arrows: Iterable[Arrow]) -> set[str]:
    """The legend keys finished shapes need: spans' and marks' categories, cuts, the strip, arrows."""
    keys: set[str] = set()
    for span in spans:
        keys.add(span.category)
        if span.cut:
            keys.add(CUT)
    keys.update(mark.category for mark in marks)
    for span in cpu:
        keys.add(span.category)  # ON_CPU, or LOST: a gap where the kernel dropped switch records
    if any(True for _ in arrows):
        keys.add(ARROW)
    return keys


def open_now(timeline: Timeline, finished: bool) -> set[str]:
    """The keys of what changes in place: open spans, merges and marks still pending, bins being filled."""
    keys: set[str] = set()
    for lane in timeline.lanes:
        if lane.stack and not finished:
            keys.add(OPEN)
        keys.update(category for _, category, _ in lane.stack)
        keys.update(bucket.category for bucket in lane.pending.values())
        if lane.pending_mark is not None:
            keys.add(lane.pending_mark.category)
        if lane.cpu.pending():
            keys.add(ON_CPU)
    return keys


def entries(keys: AbstractSet[str]) -> list[Entry]:
    """The legend for `keys`, in the legend's order; a category it does not know is listed by its name."""
    keys = {SAME_AS.get(key, key) for key in keys}
    known = [entry for entry in ENTRIES if entry.key in keys]
    return known + [Entry(key, "box", key) for key in sorted(keys - KNOWN)]
