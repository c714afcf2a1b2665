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

Arrows join a `notify` instant to the `woken` one it caused, as app/model/arrows.py pairs them (by
what happened, not by the order events arrive in); a lane's on-CPU turns are drawn in bins of the
resolution by app/model/cpu_bins.py.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from app.model.arrows import Pairing
from app.model.cpu_bins import CpuBins
from app.model.documents import Kind
from app.model.events import TORN, Event
from app.model.scale import resolution_for

if TYPE_CHECKING:
    from app.model.documents import FailureInfo, HeaderInfo

ON_CPU = "oncpu"  # the category (and name) of an on-CPU span
LOST = "lost"  # the category of a gap in the on-CPU strips: switch records the kernel dropped


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:  # a real-time signal has no name
        return f"signal {number}"


SHORT_PATH: frozenset[Kind] = frozenset({"begin", "end", "instant", "counter"})  # what apply_all folds the short way
# Events about threads and processes, not lanes:
WORKERLESS: frozenset[Kind] = frozenset({"oncpu", "exit", "machine", "service", "gap"})
HELD_MAX = 4096  # intervals kept per thread before its lane is known (then only their total)
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
    cpu: CpuBins = field(default_factory=CpuBins)


@dataclass
class Timeline:
    coalesce: bool = True  # False: keep every span and mark apart (to read an experiment's story)
    t0_ns: int | None = None
    last_ns: int = 0
    # When the lab began stopping the run (cancel, time limit, hang, the server stopping): its processes end
    # from then on because they were stopped, and what they had open is cut for that reason, not as deaths.
    stopping_at_ns: int | None = None
    lanes: list[Lane] = field(default_factory=list)
    by_worker: dict[str, Lane] = field(default_factory=dict)
    spans: list[Span] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    arrows: list[Arrow] = field(default_factory=list)
    pairing: Pairing = field(default_factory=Pairing)  # notifies and wokens still waiting for their partner
    series: list[Series] = field(default_factory=list)
    by_name: dict[str, Series] = field(default_factory=dict)
    header: HeaderInfo | None = None
    # The experiment's result: free-form, its own keys (each experiment returns what it measured; its findings
    # and verdict read them), so an open dict, where the header and failure the runner writes have a shape.
    result: dict[str, Any] | None = None
    failure: FailureInfo | None = None
    output: list[str] = field(default_factory=list)
    # Every printed line, in arrival order, for the output pane: the marks above merge lines too
    # close to draw apart, this keeps each one (the first PRINTS_KEPT; the rest are only counted).
    prints: list[Printed] = field(default_factory=list)
    prints_more: int = 0
    # What the kernel said (experiments/harness/sampler.py): on-CPU spans per lane, processes killed
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
        self.apply_all((event,))

    def apply_all(self, events: Iterable[Event]) -> None:
        """Fold each event in order; spans on known lanes (the bulk of a flood) take a short path."""
        by_worker = self.by_worker
        for event in events:
            kind, ts, worker, name, category, value = event
            # A mutant of these two lines only sends events the long way round, through _first(): the
            # same fold, slower (equivalent mutants: docs/benchmarks.md, Mutation testing).
            lane = by_worker.get(worker)  # pragma: no mutate
            t0 = self.t0_ns  # pragma: no mutate
            if lane is None or t0 is None or ts < t0 or kind not in SHORT_PATH:
                self._first(event)
                continue
            if ts > self.last_ns:
                self.last_ns = ts
                if ts - t0 > self._until_ns:  # the axis grew a step: merge more coarsely
                    self.resolution_ns, self._until_ns = resolution_for(ts - t0)
            self._on_lane(lane, kind, ts, name, category, value)

    def _first(self, event: Event) -> None:
        """The long way: an event that may move the run's start, make a lane, or is about no lane."""
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
        elif kind == TORN:  # events lost to a write that cut into them: counted, never the run's output
            self.torn += 1
            if len(self.torn_lines) < TORN_KEPT:
                self.torn_lines.append(event.name)
        elif kind in WORKERLESS:
            self._kernel(event)
        else:
            self._on_lane(self.lane(event.worker), kind, ts, event.name, event.category, event.value)

    def _on_lane(self, lane: Lane, kind: Kind, ts: int, name: str, category: str, value: Any) -> None:
        """The one dispatch of what a worker's lane says."""
        if kind == "begin":
            lane.stack.append((name, category, ts))
        elif kind == "end":
            if lane.stack:
                name, category, start = lane.stack.pop()
                self._finish(lane, name, category, start, ts, len(lane.stack))
        elif kind == "instant":
            if category == "notify" or category == "woken":
                self._pair(lane.index, ts, name, category, value)
            elif category == "print":
                self._printed(ts, lane.index, name)
            self._mark(lane, ts, name, category)
        elif kind == "counter":
            self._sample(name, ts, value)
        elif kind == "lane":
            lane.pid = value.get("pid")
            lane.thread = value.get("thread", "")
            lane.process = str(value.get("process", ""))
            tid = value.get("tid")
            if isinstance(tid, int):
                lane.tid = tid
                self.by_tid[tid] = lane
                for start, end, cpu, how in self.held.pop(tid, ()):
                    self._on_cpu(lane, start, end, cpu, how)
        elif kind == "header":
            self.header = value
        elif kind == "result":
            self.result = value
        elif kind == "failure":
            self.failure = value

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

    def stopping(self, ts: int) -> None:
        """The lab is stopping the run from `ts` on (the runner's clock): later exits are its doing."""
        self.stopping_at_ns = ts if self.stopping_at_ns is None else self.stopping_at_ns

    def _exited(self, ts: int, info: dict[str, Any]) -> None:
        """A process of the run ended: what its lanes had open ends here, marked with how it ended; unless
        the lab was stopping the run by then (its open spans are cut as the run ends, with the reason)."""
        if self.stopping_at_ns is not None and ts >= self.stopping_at_ns:
            return
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
                self.deaths = [
                    replace(d, how=how) if d.pid == pid and d.worker == lane.worker else d for d in self.deaths
                ]
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
        for from_lane, from_ns, to_lane, to_ns in self.pairing.pair(lane, ts, name, category, key):
            self._arrow(from_lane, from_ns, to_lane, to_ns)

    def _arrow(self, from_lane: int, from_ns: int, to_lane: int, to_ns: int) -> None:
        arrow = Arrow(from_lane, from_ns, to_lane, to_ns)
        if not self._same_as_last_arrow(arrow):
            self.arrows.append(arrow)

    def _same_as_last_arrow(self, arrow: Arrow) -> bool:
        """Whether `arrow` would be drawn on top of the last one (same lanes, too close to tell apart)."""
        if not self.arrows or not self.resolution_ns:
            return False
        last, res = self.arrows[-1], self.resolution_ns
        return (
            (last.from_lane, last.to_lane) == (arrow.from_lane, arrow.to_lane)
            and abs(last.from_ns - arrow.from_ns) < res
            and abs(last.to_ns - arrow.to_ns) < res
        )

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
        return [
            Span(lane.index, ON_CPU, ON_CPU, start, end, busy_ns=busy, cpu=cpu, how=how)
            for start, end, busy, cpu, how in lane.cpu.pending()
        ]

    def pending_marks(self, lane: Lane) -> list[Mark]:
        return [lane.pending_mark.mark()] if lane.pending_mark is not None else []
