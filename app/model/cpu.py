"""A run's CPU budget: how many cores its workers kept busy, and how many other programs took. Pure.

The sampler (experiments/harness/sampler.py) sends cumulative figures every few tens of milliseconds:
the machine's busy time (all programs, from /proc/stat), the run's own CPU time (every thread
of its process group), the time its threads spent ready to run but waiting for a free core,
and the sampler's own CPU time. Differences between two samples give averages over any
stretch of the run; a phase's bounds fall between samples, where the figures are interpolated.
The lab's own process (the runner's parent: the web server folding and drawing this run's events, or
a runner node) is measured apart; what the machine spent besides the run, the sampler and the lab is
"others": a browser, another program. A speedup cannot exceed the cores left to the run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from app.model.documents import BudgetJson, StretchJson
from app.model.overlap import Overlap, overlap
from app.model.timeline import Span, Timeline
from experiments.harness.wording import plural

MIN_PHASE_NS = 100_000_000  # shorter phases hold too few samples to average
NOTABLE_CORES = 0.3  # other programs' use worth a sentence (less is within the jiffies' rounding)
# /proc/stat counts in USER_HZ ticks, 100 a second on Linux (`getconf CLK_TCK`), and the kernel adds
# to them a scheduler tick at a time (250 Hz here): each CPU's count may lag up to a tick at either end
# of a window. A sample may say its own tick (`tick_ns`); this is the Linux ABI's.
USER_HZ_TICK_NS = 10_000_000
TOO_SHORT_CORES = 0.5  # a figure that may be off by this much is not given: the window was too short


def resolution(cores: int, wall_ns: int, tick_ns: int = USER_HZ_TICK_NS) -> float:
    """How far off a figure of busy cores from /proc/stat over `wall_ns` may be: a tick per CPU at each end."""
    return round(2 * cores * tick_ns / wall_ns, 2) if wall_ns > 0 else float(cores)


def within(cores: int, workers: float, others: float | None) -> tuple[float, float | None]:
    """The figures as the machine allows them: the run's at most every core, others' at most what the run
    left (each is measured on its own, with its own rounding; together they cannot exceed the machine)."""
    workers = min(max(0.0, workers), float(cores))
    return workers, None if others is None else round(min(max(0.0, others), cores - workers), 2)


def shared(cores: float, lab: float | None, others: float | None) -> tuple[float | None, float | None]:
    """The lab's and other programs' figures within what the run left them (`cores`): the lab's first."""
    if lab is None:
        return None, others
    lab = round(min(max(0.0, lab), cores), 2)
    # At least 0: where the lab took all the run left, cores - lab can round to -0.0, which JSON says as such.
    return lab, None if others is None else round(max(0.0, min(others, cores - lab)), 2)


@dataclass(frozen=True)
class Stretch:
    """Averages over a stretch of the run, in cores (1.0: one core busy all the time)."""

    name: str
    start_ms: float
    end_ms: float
    workers_busy_cores: float
    others_busy_cores: float | None  # None where the machine's busy time could not be read
    resolution_cores: float = 0.0  # how far off others_busy_cores may be (the ticks of /proc/stat)
    lab_busy_cores: float | None = None  # the lab's own process; None where it could not be read
    first_task_ms: float | None = None  # from its start to the first span begun on a worker's lane in it
    together_ms: float | None = None  # in it, how long two or more workers were on CPUs at once (overlap.py)

    @property
    def measurable(self) -> bool:
        """Whether the window was long enough for /proc/stat's ticks to tell what other programs used."""
        return self.resolution_cores < TOO_SHORT_CORES

    def to_json(self) -> StretchJson:
        return {
            "name": self.name,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "workers_busy_cores": self.workers_busy_cores,
            "others_busy_cores": self.others_busy_cores,
            "lab_busy_cores": self.lab_busy_cores,
            "resolution_cores": self.resolution_cores,
            "first_task_ms": self.first_task_ms,
            "together_ms": self.together_ms,
        }


@dataclass(frozen=True)
class Budget:
    cores: int
    workers_busy_cores: float
    others_busy_cores: float | None
    on_cpu_ms: dict[str, float]  # by lane, as drawn
    recorder_ms: float  # the recorder's flusher threads: what recording cost
    sampler_ms: float  # the sampler's own CPU time: what measuring cost
    unlaned_ms: float  # threads of the run that are no worker's (pool managers, queue feeders)
    waited_for_cpu_ms: float  # the run's threads ready to run, with no core free for them
    phases: list[Stretch]
    resolution_cores: float = 0.0  # how far off others_busy_cores may be, over the whole run
    # How long the worker lanes (all but main's) were on CPUs at the same time, by their strips
    # (app/model/overlap.py): what a free-threaded run's parallelism is measured by. None: no strips.
    parallel: Overlap | None = None
    lab_busy_cores: float | None = None  # the lab's own process (the server drawing the run), told apart

    def to_json(self) -> BudgetJson:
        return {
            "cores": self.cores,
            "workers_busy_cores": self.workers_busy_cores,
            "others_busy_cores": self.others_busy_cores,
            "on_cpu_ms": self.on_cpu_ms,
            "recorder_ms": self.recorder_ms,
            "sampler_ms": self.sampler_ms,
            "unlaned_ms": self.unlaned_ms,
            "waited_for_cpu_ms": self.waited_for_cpu_ms,
            "phases": [p.to_json() for p in self.phases],
            "resolution_cores": self.resolution_cores,
            "parallel": None if self.parallel is None else self.parallel.to_json(),
            "lab_busy_cores": self.lab_busy_cores,
        }


def _at(samples: list[tuple[int, dict[str, Any]]], ts: int, key: str) -> float | None:
    """A cumulative figure at `ts`, interpolated between the samples around it."""
    before = after = None
    for sample in samples:
        if sample[0] <= ts:
            before = sample
        else:
            after = sample
            break
    if before is None or after is None:
        edge = before or after
        value = edge[1].get(key) if edge else None
        return None if value is None else float(value)
    (t1, s1), (t2, s2) = before, after
    v1, v2 = s1.get(key), s2.get(key)
    if v1 is None or v2 is None:
        return None
    return float(v1 + (v2 - v1) * (ts - t1) / (t2 - t1))


def _stretch(
    samples: list[tuple[int, dict[str, Any]]], name: str, start: int, end: int, t0: int, cores: int, tick_ns: int
) -> Stretch:
    wall = end - start
    run = (_at(samples, end, "run_ns") or 0) - (_at(samples, start, "run_ns") or 0)
    sampler = (_at(samples, end, "sampler_ns") or 0) - (_at(samples, start, "sampler_ns") or 0)
    host_end, host_start = _at(samples, end, "host_busy_ns"), _at(samples, start, "host_busy_ns")
    lab_end, lab_start = _at(samples, end, "lab_ns"), _at(samples, start, "lab_ns")
    lab = None if lab_end is None or lab_start is None else max(0.0, lab_end - lab_start)
    others = None
    if host_end is not None and host_start is not None:
        others = max(0.0, host_end - host_start - run - sampler - (lab or 0.0)) / wall
    workers, others = within(cores, round(run / wall, 2), others)
    lab_cores, others = shared(cores - workers, None if lab is None else lab / wall, others)
    return Stretch(
        name,
        round((start - t0) / 1e6, 1),
        round((end - t0) / 1e6, 1),
        workers,
        others,
        resolution(cores, wall, tick_ns),
        lab_cores,
    )


def _first_task(timeline: Timeline, stretch: Stretch, phase: Span, workers: set[int], cores: int) -> Stretch:
    """The stretch with when its first task began (the first span on a worker's lane within it), and how long
    its workers were on CPUs at the same time. Only for
    the phases an experiment names as such (a pool's), not for every long wait of main: a lock experiment's
    join covers hundreds of thousands of wait spans, and the budget is computed on every look at the run."""
    first = min(
        (s.start_ns for s in timeline.spans if s.lane in workers and phase.start_ns <= s.start_ns < phase.end_ns),
        default=None,
    )
    together = overlap(timeline.cpu_spans, workers, cores, (phase.start_ns, phase.end_ns))
    return replace(
        stretch,
        first_task_ms=None if first is None else round((first - phase.start_ns) / 1e6, 1),
        together_ms=None if together is None else together.together_ms,
    )


def budget(timeline: Timeline) -> Budget | None:
    """The run's CPU budget, or None if the sampler sent too little (unavailable, or too short a run)."""
    samples = timeline.machine
    if len(samples) < 2 or samples[-1][0] <= samples[0][0]:
        return None
    (first_ts, first), (last_ts, last) = samples[0], samples[-1]
    t0 = timeline.t0_ns or first_ts
    cores = int(last.get("cores") or 1)
    tick_ns = int(last.get("tick_ns") or USER_HZ_TICK_NS)
    whole = _stretch(samples, "the run", first_ts, last_ts, t0, cores, tick_ns)
    phases = []
    main = timeline.by_worker.get("main")
    workers = {lane.index for lane in timeline.lanes if lane.worker != "main"}
    if main is not None:
        for span in timeline.spans:  # main's outermost spans: serial, thread pool, process pool, ...
            if span.lane == main.index and span.depth == 0 and span.end_ns - span.start_ns >= MIN_PHASE_NS:
                stretch = _stretch(samples, span.name, span.start_ns, span.end_ns, t0, cores, tick_ns)
                phases.append(
                    stretch if span.category != "phase" else _first_task(timeline, stretch, span, workers, cores)
                )
        phases.sort(key=lambda p: p.start_ms)
    return Budget(
        cores=cores,
        workers_busy_cores=whole.workers_busy_cores,
        others_busy_cores=whole.others_busy_cores,
        on_cpu_ms={lane.worker: round(lane.cpu_ns / 1e6, 1) for lane in timeline.lanes},
        recorder_ms=round(timeline.service_ns.get("recorder", 0) / 1e6, 1),
        sampler_ms=round((last["sampler_ns"] - first["sampler_ns"]) / 1e6, 1),
        unlaned_ms=round(timeline.unlaned_ns / 1e6, 1),
        waited_for_cpu_ms=round((last["waited_ns"] - first["waited_ns"]) / 1e6, 1),
        phases=phases,
        resolution_cores=whole.resolution_cores,
        parallel=overlap(timeline.cpu_spans, workers, cores),
        lab_busy_cores=whole.lab_busy_cores,
    )


def sentences(b: Budget, result: dict[str, Any] | None = None) -> list[str]:
    """What the budget says about this run, in words: each figure measured in it, with how far off it
    may be, or that its window was too short to tell (and a word on the speedup where `result`, the
    run's, reports one)."""
    speedup = any("speedup" in key for key in (result or {}))
    words = [
        f"The run's threads and processes kept {b.workers_busy_cores:.1f} of {plural(b.cores, 'core')} busy on average."
    ]
    if b.others_busy_cores is not None:
        if b.resolution_cores < TOO_SHORT_CORES:
            lab = "" if b.lab_busy_cores is None else f"the lab's own server (drawing it) used {b.lab_busy_cores:.1f}, "
            words[0] = words[0][:-1] + (
                f"; {lab}other programs used {b.others_busy_cores:.1f} "
                f"(give or take {b.resolution_cores:.2f}: /proc/stat counts in ticks)."
            )
        else:
            words[0] = words[0][:-1] + (
                "; what other programs used, the run was too short to tell (/proc/stat counts "
                f"in ticks: over it, a figure could be off by {b.resolution_cores:.1f} cores)."
            )
    for phase in b.phases:
        others = phase.others_busy_cores
        if others is not None and others >= max(NOTABLE_CORES, phase.resolution_cores) and phase.measurable:
            left = max(0.0, b.cores - others)
            said = (
                f"During “{phase.name}” other programs used {others:.1f} of {plural(b.cores, 'core')} "
                f"(give or take {phase.resolution_cores:.2f}): the run got {phase.workers_busy_cores:.1f}, and could have had "
                f"{left:.1f} at most."
            )
            if speedup and phase.name == "serial":
                said += " The serial run is the yardstick: slowed so, it makes the speedups over it larger."
            elif speedup:
                said += " A speedup measured there cannot exceed that."
            words.append(said)
    if b.waited_for_cpu_ms >= 10:
        words.append(f"Its threads spent {b.waited_for_cpu_ms:,.0f} ms in all ready to run with no core free for them.")
    words.append(f"Measuring this cost {b.sampler_ms:,.0f} ms of CPU, recording {b.recorder_ms:,.0f} ms.")
    return words
