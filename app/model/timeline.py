"""Fold a run's events into lanes of spans: the state a Gantt chart is drawn from. Pure.

Lists only grow (lanes, finished spans, marks, arrows, counter series and their samples), so
a renderer can remember how far it got and draw only what is new; the open spans, the pending
buckets below (and the last step of each series) are the one part that changes in place.

Coalescing keeps what is drawn bounded whatever the event count. Shapes closer together than
the axis can show apart (app/model/scale.py: 1/RESOLUTION of the axis the run has grown to so far) are
merged: short spans on a lane and depth go into a pending bucket, which is appended as one span
("N spans, total T") once it is wide enough to see, or when a span that does not fit comes; marks
likewise; a counter sample that close to the previous one replaces its value. A lane then holds
at most a few RESOLUTIONs of shapes per step of the axis. The resolution depends on the events
alone (their timestamps), never on the wall clock, so replaying a stored log draws the same.

Arrows join a `notify` instant to the `woken` one it caused, paired by what happened, not by the
order events arrive in: two processes' events reach the server as their recorders flush them, so a
consumer's `got 'Item-2'` may come before the producer's `put 'Item-2'`. A notify and a woken that
carry a key (the item a Queue handed over) pair with each other only, whichever comes first; one
without waits for a partner that comes later. Pairing too depends on the events alone.
"""
from __future__ import annotations

import signal
from bisect import bisect_right, insort
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from app.model.events import TORN, Event
from app.model.scale import resolution_for

ON_CPU = "oncpu"  # the category (and name) of an on-CPU span
LOST = "lost"  # the category of a gap in the on-CPU strips: switch records the kernel dropped


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:  # a real-time signal has no name
        return f"signal {number}"


SHORT_PATH = frozenset({"begin", "end", "instant", "counter"})  # what apply_all folds without apply()
WORKERLESS = frozenset({"oncpu", "exit", "machine", "service", "gap"})  # events about threads and processes, not lanes
HELD_MAX = 4096  # intervals kept per thread before its lane is known (then only their total)
NOTIFIES_KEPT = 1024  # notifies (and wokens) held for a partner, of each sort: older ones never pair in practice
LAST_LANE = 1 << 62  # above any lane index: (ts, LAST_LANE) sorts after every (ts, lane)
PRINTS_KEPT = 1000  # printed lines kept for the output pane; past that only their number
TORN_KEPT = 20  # torn lines kept to show; past that only their number


@dataclass(frozen=True, slots=True)
class Span:
    lane: int
    name: str
    category: str
    start_ns: int
    end_ns: int
    depth: int = 0
    cut: str = ""  # why it never ended ("killed at exit", ...), empty if it did
    count: int = 1  # spans merged into this one (too short to draw apart)
    busy_ns: int = 0  # when merged: their total time (the gaps between them excluded)
    # An on-CPU span from the kernel's switch records: the CPU it ran on (-1 unknown, -2 several)
    # and how its last turn ended ("p" preempted, "v" gave the CPU up, "" going on or unknown).
    cpu: int = -1
    how: str = ""


MIXED_CPUS = -2  # an on-CPU span merged from turns on several CPUs


@dataclass(frozen=True, slots=True)
class Mark:
    lane: int
    ts_ns: int
    name: str
    category: str
    count: int = 1  # marks merged into this one (too close to draw apart)
    last_ns: int = 0  # when merged: the last one's time


class _Bucket:
    """Short spans on one lane and depth, merged while too narrow to see: one drawn span to be."""

    __slots__ = ("name", "category", "start", "end", "count", "busy", "same_name")

    def __init__(self, name: str, category: str, start: int, end: int):
        self.name, self.category, self.start, self.end = name, category, start, end
        self.count, self.busy, self.same_name = 1, end - start, True

    def add(self, name: str, start: int, end: int) -> None:
        if start < self.start:
            self.start = start
        if end > self.end:
            self.end = end
        self.count += 1
        self.busy += end - start
        if name != self.name:
            self.same_name = False

    def span(self, lane: int, depth: int) -> Span:
        if self.count == 1:
            return Span(lane, self.name, self.category, self.start, self.end, depth)
        name = self.name if self.same_name else f"{self.name}, …"
        return Span(lane, name, self.category, self.start, self.end, depth, count=self.count, busy_ns=self.busy)


class _MarkBucket:
    """Marks on one lane too close to draw apart: one drawn mark to be."""

    __slots__ = ("lane", "ts", "name", "category", "count", "last_ns")

    def __init__(self, lane: int, ts: int, name: str, category: str):
        self.lane, self.ts, self.name, self.category, self.count, self.last_ns = lane, ts, name, category, 1, ts

    def mark(self) -> Mark:
        if self.count == 1:
            return Mark(self.lane, self.ts, self.name, self.category)
        return Mark(self.lane, self.ts, self.name, self.category, count=self.count, last_ns=self.last_ns)


class _Unpaired:
    """Keyed notifies, or keyed wokens, still waiting for their partner: (ts, lane) by key, in arrival order.

    At most NOTIFIES_KEPT in all; past that the oldest entry of the longest-held key goes (in
    practice a put whose item was taken without a wait, so no woken will ever come for it).
    """

    __slots__ = ("by_key", "count")

    def __init__(self) -> None:
        self.by_key: dict[str, list[tuple[int, int]]] = {}
        self.count = 0

    def add(self, key: str, ts: int, lane: int) -> None:
        self.by_key.setdefault(key, []).append((ts, lane))
        self.count += 1
        if self.count > NOTIFIES_KEPT:
            self._take(next(iter(self.by_key)), 0)

    def take(self, key: str, lane: int, not_before: int = 0, not_after: int = 1 << 62) -> tuple[int, int] | None:
        """The earliest entry of `key` on another lane than `lane`, within the times given, taken out.

        The earliest: a queue is first in, first out, so among equal items the first put is the first got.
        """
        entries = self.by_key.get(key)
        if not entries:
            return None
        best = -1
        for i, (ts, other) in enumerate(entries):
            if other != lane and not_before <= ts <= not_after and (best < 0 or ts < entries[best][0]):
                best = i
        return None if best < 0 else self._take(key, best)

    def _take(self, key: str, i: int) -> tuple[int, int]:
        entries = self.by_key[key]
        entry = entries.pop(i)
        if not entries:
            del self.by_key[key]
        self.count -= 1
        return entry


@dataclass(frozen=True, slots=True)
class Printed:
    """A line the run printed: a `print` instant on a lane, or an `output` line (lane None: the runner's raw output)."""

    ts_ns: int
    lane: int | None
    text: str


@dataclass(frozen=True, slots=True)
class Gap:
    """Context-switch records the kernel dropped (its buffer was full): who ran then is unknown."""

    start_ns: int
    end_ns: int
    lost: int
    why: str


@dataclass(frozen=True, slots=True)
class Arrow:
    """A notify on one lane and the wait it ended on another (a `woken` instant)."""

    from_lane: int
    from_ns: int
    to_lane: int
    to_ns: int


@dataclass
class Series:
    """A counter's samples (queue depth, permits in use), in arrival order."""

    index: int
    name: str
    samples: list[tuple[int, float]] = field(default_factory=list)


class _CpuBins:
    """A lane's on-CPU intervals as drawn: bins of the resolution, each as full as the time it was on a CPU.

    Without coalescing (resolution 0) each interval is drawn as it came. With it, time is cut
    into bins of `resolution_ns` from the run's start: a bin the lane filled joins its full
    neighbours in one span; a bin it only partly filled becomes a span of its own that says how
    much (busy_ns), drawn that much high. So two threads taking 5 ms turns still look half-busy
    each on a two-minute axis, instead of both solid (a sliver every few ms) or both empty.
    A bin keeps the bounds it was opened with when the axis grows; the next starts where it ends.
    Each drawn span keeps the CPU its turns ran on (MIXED_CPUS if several) and how the last ended.
    """

    __slots__ = ("bin", "bin_end", "busy", "floor", "run_start", "run_end", "cpu", "how", "run_cpu", "run_how")

    def __init__(self) -> None:
        self.bin = self.bin_end = -1  # the bin being filled (-1: none)
        self.busy = 0
        self.floor = 0  # where the last bin drawn ended: no bin starts before it
        self.run_start = self.run_end = 0  # full bins in a row, not drawn yet (run_end 0: none)
        self.cpu, self.how = -1, ""  # the open bin's
        self.run_cpu, self.run_how = -1, ""  # the run's

    def add(self, start: int, end: int, t0: int, res: int, out: list[tuple[int, int, int, int, str]],
            cpu: int = -1, how: str = "") -> None:
        """Account [start, end); append (start, end, busy, cpu, how) for each span that can no longer change.
        Intervals come in time order (one thread's, from one sampler)."""
        while start < end:
            if start < self.bin_end:  # the open bin
                take = min(end, self.bin_end) - start
                self.busy += take
                start += take
                self.cpu = cpu if self.cpu == -1 or self.cpu == cpu else MIXED_CPUS
                self.how = how
                continue
            self.close_bin(out)
            aligned = t0 + (start - t0) // res * res
            first = max(aligned, self.floor)
            if start == first and end >= aligned + res:  # whole bins at once
                last = t0 + (end - t0) // res * res
                self._full(first, last, out, cpu, how if last == end else "")
                start = last
                continue
            self.bin, self.bin_end = first, aligned + res

    def _full(self, start: int, end: int, out: list[tuple[int, int, int, int, str]], cpu: int, how: str) -> None:
        self.floor = end
        if self.run_end and self.run_end == start:
            self.run_end = end
            self.run_cpu = cpu if self.run_cpu == cpu else MIXED_CPUS
            self.run_how = how
            return
        self.flush_run(out)
        self.run_start, self.run_end, self.run_cpu, self.run_how = start, end, cpu, how

    def close_bin(self, out: list[tuple[int, int, int, int, str]]) -> None:
        if self.bin < 0:
            return
        width = self.bin_end - self.bin
        if self.busy >= width - width // 50:  # full, give or take the sampler's rounding
            self._full(self.bin, self.bin_end, out, self.cpu, self.how)
        else:
            self.flush_run(out)
            out.append((self.bin, self.bin_end, self.busy, self.cpu, self.how))
            self.floor = self.bin_end
        self.bin, self.bin_end, self.busy, self.cpu, self.how = -1, -1, 0, -1, ""

    def flush_run(self, out: list[tuple[int, int, int, int, str]]) -> None:
        if self.run_end:
            out.append((self.run_start, self.run_end, self.run_end - self.run_start, self.run_cpu, self.run_how))
            self.run_start = self.run_end = 0

    def pending(self) -> list[tuple[int, int, int, int, str]]:
        """What is still being filled: the run of full bins and the bin in progress."""
        out = [(self.run_start, self.run_end, self.run_end - self.run_start, self.run_cpu, "")] if self.run_end else []
        if self.bin >= 0:
            out.append((self.bin, self.bin_end, self.busy, self.cpu, ""))
        return out


PROCESS_ENDED = "its process ended"  # why a lane ended, while how its process ended is not known


@dataclass(frozen=True, slots=True)
class Death:
    """A worker's process that ended under it, in the middle of a span: killed, as a rule."""

    worker: str
    pid: int | None  # as the exit event gave it (one that named no process ends the lanes without one)
    how: str  # "was killed by SIGKILL"
    during: str  # the innermost span it was in

    def words(self) -> str:
        return f"{self.worker} (pid {self.pid}) {self.how} during {self.during}"


@dataclass
class Lane:
    index: int
    worker: str
    pid: int | None = None
    tid: int | None = None
    thread: str = ""
    process: str = ""  # its process's multiprocessing name ("ForkPoolWorker-1"), if the recorder said it
    cpu_ns: int = 0  # on a CPU, as the kernel counted it (the sampler's intervals)
    ended: str = ""  # why its process ended under it, if it did ("killed by SIGKILL")
    stack: list[tuple[str, str, int]] = field(default_factory=list)  # open spans: name, category, start
    pending: dict[int, _Bucket] = field(default_factory=dict)  # by depth: short spans being merged
    pending_mark: _MarkBucket | None = None
    cpu: _CpuBins = field(default_factory=_CpuBins)


@dataclass
class Timeline:
    coalesce: bool = True  # False: keep every span and mark apart (to read an experiment's story)
    t0_ns: int | None = None
    last_ns: int = 0
    lanes: list[Lane] = field(default_factory=list)
    by_worker: dict[str, Lane] = field(default_factory=dict)
    spans: list[Span] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    arrows: list[Arrow] = field(default_factory=list)
    # What pairing arrows remembers: notifies without a key as (ts, lane), sorted (a notify_all
    # wakes several waiters, so these stay); wokens that came before any notify that could have
    # woken them; keyed notifies and wokens waiting for the partner of the same key.
    notifies: list[tuple[int, int]] = field(default_factory=list)
    early_wokens: deque[tuple[int, int]] = field(default_factory=lambda: deque(maxlen=NOTIFIES_KEPT))
    keyed_notifies: _Unpaired = field(default_factory=_Unpaired)
    keyed_wokens: _Unpaired = field(default_factory=_Unpaired)
    series: list[Series] = field(default_factory=list)
    by_name: dict[str, Series] = field(default_factory=dict)
    header: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    failure: dict[str, Any] | None = None
    output: list[str] = field(default_factory=list)
    # Every printed line, in arrival order, for the output pane: the marks above merge lines too
    # close to draw apart, this keeps each one (the first PRINTS_KEPT; the rest are only counted).
    prints: list[Printed] = field(default_factory=list)
    prints_more: int = 0
    # What the kernel said (experiments/sampler.py): on-CPU spans per lane, processes killed
    # under a worker, the CPU budget's cumulative samples, threads that are ours, not workers.
    cpu_spans: list[Span] = field(default_factory=list)
    deaths: list[Death] = field(default_factory=list)
    machine: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    by_tid: dict[int, Lane] = field(default_factory=dict)
    service: dict[int, str] = field(default_factory=dict)  # tid -> role ("recorder")
    service_ns: dict[str, int] = field(default_factory=dict)  # on-CPU time by role
    held: dict[int, list[tuple[int, int, int, str]]] = field(default_factory=dict)  # by tid: intervals before its lane
    gaps: list[Gap] = field(default_factory=list)  # switch records the kernel dropped: unknown, not idle
    torn: int = 0  # lines of events another write cut into (their events are lost)
    torn_lines: list[str] = field(default_factory=list)  # the first TORN_KEPT of them, cut short
    unlaned_ns: int = 0  # on-CPU time of the run's threads that never had a lane
    resolution_ns: int = 0  # shapes closer than this are merged (0: never)
    _until_ns: int = -1  # the run's length up to which `resolution_ns` holds

    def __post_init__(self) -> None:
        if self.coalesce:
            self.resolution_ns, self._until_ns = resolution_for(0)
        else:
            self._until_ns = 1 << 62

    def lane(self, worker: str) -> Lane:
        lane = self.by_worker.get(worker)
        if lane is None:
            lane = Lane(len(self.lanes), worker)
            self.lanes.append(lane)
            self.by_worker[worker] = lane
        return lane

    def apply(self, event: Event) -> None:
        ts = event.ts_ns
        if self.t0_ns is None or ts < self.t0_ns:
            self.t0_ns = ts
        if ts > self.last_ns:
            self.last_ns = ts
        if self.last_ns - self.t0_ns > self._until_ns:  # the axis grew a step: merge more coarsely
            self.resolution_ns, self._until_ns = resolution_for(self.last_ns - self.t0_ns)
        kind = event.kind
        if kind == "output":
            self.output.append(event.name)
            self._printed(ts, None, event.name)  # raw text on the event pipe: no lane said it
            return
        if kind == TORN:  # events lost to a write that cut into them: counted, never the run's output
            self.torn += 1
            if len(self.torn_lines) < TORN_KEPT:
                self.torn_lines.append(event.name)
            return
        if kind in WORKERLESS:
            self._kernel(event)
            return
        lane = self.lane(event.worker)
        if kind == "begin":
            lane.stack.append((event.name, event.category, ts))
        elif kind == "end":
            if lane.stack:
                name, category, start = lane.stack.pop()
                self._finish(lane, name, category, start, ts, len(lane.stack))
        elif kind == "instant":
            if event.category == "notify" or event.category == "woken":
                self._pair(lane.index, ts, event.name, event.category, event.value)
            elif event.category == "print":
                self._printed(ts, lane.index, event.name)
            self._mark(lane, ts, event.name, event.category)
        elif kind == "counter":
            self._sample(event.name, ts, event.value)
        elif kind == "lane":
            lane.pid = event.value.get("pid")
            lane.thread = event.value.get("thread", "")
            lane.process = str(event.value.get("process", ""))
            tid = event.value.get("tid")
            if isinstance(tid, int):
                lane.tid = tid
                self.by_tid[tid] = lane
                for start, end, cpu, how in self.held.pop(tid, ()):
                    self._on_cpu(lane, start, end, cpu, how)
        elif kind == "header":
            self.header = event.value
        elif kind == "result":
            self.result = event.value
        elif kind == "failure":
            self.failure = event.value

    def apply_all(self, events: Iterable[Event]) -> None:
        """`apply` each event in order; spans on known lanes (the bulk of a flood) take a short path."""
        by_worker = self.by_worker
        for event in events:
            kind, ts, worker, name, category, value = event
            # A mutant of these two lines only sends events the long way round, through apply(): the
            # same fold, slower (equivalent mutants: docs/benchmarks.md, Mutation testing).
            lane = by_worker.get(worker)  # pragma: no mutate
            t0 = self.t0_ns  # pragma: no mutate
            if lane is None or t0 is None or ts < t0 or kind not in SHORT_PATH:
                self.apply(event)
                continue
            if ts > self.last_ns:
                self.last_ns = ts
                if ts - t0 > self._until_ns:  # the axis grew a step: merge more coarsely
                    self.resolution_ns, self._until_ns = resolution_for(ts - t0)
            stack = lane.stack
            if kind == "begin":
                stack.append((name, category, ts))
            elif kind == "end":
                if stack:
                    name, category, start = stack.pop()
                    self._finish(lane, name, category, start, ts, len(stack))
            elif kind == "instant":
                if category == "notify" or category == "woken":
                    self._pair(lane.index, ts, name, category, value)
                elif category == "print":
                    self._printed(ts, lane.index, name)
                self._mark(lane, ts, name, category)
            else:
                self._sample(name, ts, value)

    def _kernel(self, event: Event) -> None:
        kind, info = event.kind, event.value
        if kind == "oncpu":
            tid, end = info[0], info[1]
            cpu, how = (info[2], info[3]) if len(info) > 3 else (-1, "")
            lane = self.by_tid.get(tid)
            if lane is not None:
                self._on_cpu(lane, event.ts_ns, end, cpu, how)
            elif tid in self.service:
                role = self.service[tid]
                self.service_ns[role] = self.service_ns.get(role, 0) + end - event.ts_ns
            else:  # its lane may still come (the sampler writes apart from the recorder): hold it, bounded
                held = self.held.setdefault(tid, [])
                if len(held) < HELD_MAX:
                    held.append((event.ts_ns, end, cpu, how))
                else:
                    self.unlaned_ns += end - event.ts_ns
        elif kind == "gap":
            self._gap(event.ts_ns, info)
        elif kind == "machine":
            self.machine.append((event.ts_ns, info))
        elif kind == "exit":
            self._exited(event.ts_ns, info)
        elif kind == "service":
            tid = info.get("tid")
            if isinstance(tid, int):
                self.service[tid] = str(info.get("role", "service"))
                for start, end, _, _ in self.held.pop(tid, ()):
                    self.service_ns[self.service[tid]] = self.service_ns.get(self.service[tid], 0) + end - start

    def _on_cpu(self, lane: Lane, start: int, end: int, cpu: int = -1, how: str = "") -> None:
        if end <= start:
            return
        lane.cpu_ns += end - start
        res = self.resolution_ns
        if not res:
            self.cpu_spans.append(Span(lane.index, ON_CPU, ON_CPU, start, end, cpu=cpu, how=how))
            return
        done: list[tuple[int, int, int, int, str]] = []
        lane.cpu.add(start, end, start if self.t0_ns is None else self.t0_ns, res, done, cpu, how)
        self._cpu_drawn(lane, done)

    def _cpu_drawn(self, lane: Lane, done: list[tuple[int, int, int, int, str]]) -> None:
        for start, end, busy, cpu, how in done:
            self.cpu_spans.append(Span(lane.index, ON_CPU, ON_CPU, start, end, busy_ns=busy, cpu=cpu, how=how))

    def _gap(self, start: int, info: dict[str, Any]) -> None:
        """Switch records the kernel dropped: every strip has a gap there, saying why (not idle: unknown)."""
        end = info.get("end_ns")
        if not isinstance(end, int) or end < start:
            return
        gap = Gap(start, end, int(info.get("lost") or 0), str(info.get("why") or "records lost"))
        self.gaps.append(gap)
        for lane in self.lanes:  # each strip shows it; lanes that come later began after it, as a rule
            self.cpu_spans.append(Span(lane.index, LOST, LOST, start, max(end, start + 1), cut=gap.why))

    def lost_records(self) -> int:
        """How many switch records the kernel dropped in all (0: every turn of the run is drawn)."""
        return sum(gap.lost for gap in self.gaps)

    def _exited(self, ts: int, info: dict[str, Any]) -> None:
        """A process of the run ended: what its lanes had open ends here, marked with how it ended."""
        pid, number = info.get("pid"), info.get("signal") or 0
        if number:
            why, how = f"killed by {signal_name(number)}", f"was killed by {signal_name(number)}"
        elif info.get("known"):  # it exited: what it left open is cut as the run ends, as before
            return
        else:
            why, how = PROCESS_ENDED, "ended (how is unknown: its parent reaped it before it could be read)"
        for lane in self.lanes:
            if lane.pid != pid:
                continue
            if lane.ended == PROCESS_ENDED and number:  # the sampler found it reaped; its parent, reaping it, says how
                self._mark(lane, ts, why, "end")
                lane.ended = why
                self.deaths = [replace(d, how=how) if d.pid == pid and d.worker == lane.worker else d
                               for d in self.deaths]
                continue
            if lane.ended:
                continue
            if number:
                self._mark(lane, ts, why, "end")
            if not lane.stack:
                continue
            lane.ended = why
            self.deaths.append(Death(lane.worker, pid, how, lane.stack[-1][0]))
            while lane.stack:
                name, category, start = lane.stack.pop()
                self.spans.append(Span(lane.index, name, category, start, max(ts, start), len(lane.stack), cut=why))

    def _finish(self, lane: Lane, name: str, category: str, start: int, end: int, depth: int) -> None:
        """A span ended: draw it, or merge it with its neighbours if it is too short to see.

        The hot path of a flood (millions of tiny spans): plain values, no Span until one is drawn.
        """
        res, pending = self.resolution_ns, lane.pending
        if len(pending) > 1 or (pending and depth not in pending):
            for deeper in [d for d in pending if d > depth]:  # nested in this one: nothing more joins them
                self.spans.append(pending.pop(deeper).span(lane.index, deeper))
        short = end - start < res
        bucket = pending.get(depth)
        if bucket is not None:
            if short and category == bucket.category and start - bucket.end < res:
                bucket.add(name, start, end)
                if bucket.end - bucket.start >= res:  # wide enough to see now
                    del pending[depth]
                    self.spans.append(bucket.span(lane.index, depth))
                return
            del pending[depth]
            self.spans.append(bucket.span(lane.index, depth))
        if short:
            pending[depth] = _Bucket(name, category, start, end)
        else:
            self.spans.append(Span(lane.index, name, category, start, end, depth))

    def _printed(self, ts: int, lane: int | None, text: str) -> None:
        if len(self.prints) < PRINTS_KEPT:
            self.prints.append(Printed(ts, lane, text))
        else:
            self.prints_more += 1

    def _mark(self, lane: Lane, ts: int, name: str, category: str) -> None:
        res = self.resolution_ns
        if not res:
            self.marks.append(Mark(lane.index, ts, name, category))
            return
        bucket = lane.pending_mark
        if bucket is not None:
            if category == bucket.category and 0 <= ts - bucket.ts < res:
                bucket.count += 1
                if ts > bucket.last_ns:
                    bucket.last_ns = ts
                return
            self.marks.append(bucket.mark())
        lane.pending_mark = _MarkBucket(lane.index, ts, name, category)

    def _pair(self, lane: int, ts: int, name: str, category: str, key: Any) -> None:
        """Draw the arrow from a notify to the woken it caused, whichever of the two came first."""
        if key is None and name[:4] in ("put ", "got "):
            key = name[4:]  # a Queue's log from before its items carried keys: the item's repr identifies it
        if key is not None:
            if category == "notify":
                woken = self.keyed_wokens.take(key, lane, not_before=ts)
                if woken is None:
                    self.keyed_notifies.add(key, ts, lane)
                else:
                    self._arrow(lane, ts, woken[1], woken[0])
            else:
                notify = self.keyed_notifies.take(key, lane, not_after=ts)
                if notify is None:
                    self.keyed_wokens.add(key, ts, lane)
                else:
                    self._arrow(notify[1], notify[0], lane, ts)
        elif category == "notify":
            insort(self.notifies, (ts, lane))
            if len(self.notifies) > NOTIFIES_KEPT:
                del self.notifies[0]
            if self.early_wokens:  # woken ones that came first, if this notify is before them
                early, self.early_wokens = self.early_wokens, deque(maxlen=NOTIFIES_KEPT)
                for woken_ns, woken_lane in early:
                    if woken_lane != lane and woken_ns >= ts:
                        self._arrow(lane, ts, woken_lane, woken_ns)
                    else:
                        self.early_wokens.append((woken_ns, woken_lane))
        else:
            # Whoever notified last before this wait returned (on another lane) woke it. A
            # notify_all wakes several waiters, so one notify can start several arrows.
            notifies = self.notifies
            i = bisect_right(notifies, (ts, LAST_LANE))
            while i:
                i -= 1
                notify_ns, notify_lane = notifies[i]
                if notify_lane != lane:
                    self._arrow(notify_lane, notify_ns, lane, ts)
                    return
            self.early_wokens.append((ts, lane))  # its notify has not come yet

    def _arrow(self, from_lane: int, from_ns: int, to_lane: int, to_ns: int) -> None:
        arrow = Arrow(from_lane, from_ns, to_lane, to_ns)
        if not self._same_as_last_arrow(arrow):
            self.arrows.append(arrow)

    def _same_as_last_arrow(self, arrow: Arrow) -> bool:
        """Whether `arrow` would be drawn on top of the last one (same lanes, too close to tell apart)."""
        if not self.arrows or not self.resolution_ns:
            return False
        last, res = self.arrows[-1], self.resolution_ns
        return (last.from_lane, last.to_lane) == (arrow.from_lane, arrow.to_lane) and \
            abs(last.from_ns - arrow.from_ns) < res and abs(last.to_ns - arrow.to_ns) < res

    def _sample(self, name: str, ts: int, value: Any) -> None:
        try:
            number = float(value)
        except (TypeError, ValueError):
            return  # not a number: nothing to draw
        series = self.by_name.get(name)
        if series is None:
            series = Series(len(self.series), name)
            self.series.append(series)
            self.by_name[name] = series
        samples = series.samples
        if samples and 0 <= ts - samples[-1][0] < self.resolution_ns:
            # Too close to the last sample to draw apart: its step (still the open one, redrawn
            # every frame) takes the newer value.
            samples[-1] = (samples[-1][0], number)
        else:
            samples.append((ts, number))

    def close(self, end_ns: int | None = None, why: str = "never ended") -> None:
        """The run is over: whatever is still open was cut off at `end_ns`, for the reason `why`."""
        end = max(end_ns or 0, self.last_ns)
        for lane in self.lanes:  # what was being merged first, then what never ended
            for depth in sorted(lane.pending, reverse=True):
                self.spans.append(lane.pending.pop(depth).span(lane.index, depth))
            if lane.pending_mark is not None:
                self.marks.append(lane.pending_mark.mark())
                lane.pending_mark = None
        for lane in self.lanes:
            while lane.stack:
                name, category, start = lane.stack.pop()
                self.spans.append(Span(lane.index, name, category, start, end, len(lane.stack), cut=why))
            done: list[tuple[int, int, int, int, str]] = []
            lane.cpu.close_bin(done)
            lane.cpu.flush_run(done)
            self._cpu_drawn(lane, done)
        for intervals in self.held.values():  # threads that never had a lane: pool managers, feeders
            self.unlaned_ns += sum(end - start for start, end, _, _ in intervals)
        self.held.clear()
        self.last_ns = end

    def open_spans(self, lane: Lane, now_ns: int) -> list[Span]:
        """The lane's spans that change in place: open ones (up to now) and pending merges."""
        spans = [
            Span(lane.index, name, category, start, max(now_ns, start), depth)
            for depth, (name, category, start) in enumerate(lane.stack)
        ]
        return spans + [bucket.span(lane.index, depth) for depth, bucket in lane.pending.items()]

    def lane_of_tid(self) -> dict[int, str]:
        """Each thread's lane label, by its native id: what an on-CPU event's worker is."""
        return {tid: lane.worker for tid, lane in self.by_tid.items()}

    def open_cpu(self, lane: Lane) -> list[Span]:
        """The lane's on-CPU bins still being filled."""
        return [Span(lane.index, ON_CPU, ON_CPU, start, end, busy_ns=busy, cpu=cpu, how=how)
                for start, end, busy, cpu, how in lane.cpu.pending()]

    def pending_marks(self, lane: Lane) -> list[Mark]:
        return [lane.pending_mark.mark()] if lane.pending_mark is not None else []
