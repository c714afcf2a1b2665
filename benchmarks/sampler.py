"""The on-CPU sampler: what it costs per second of run, and whether it still resolves the GIL's turns.

    .venv/bin/python -m benchmarks sampler     (or: python -m benchmarks.sampler --repeat 5 --source proc)

`--source auto` (the default) reads the kernel's switch records where it allows them; `--source
proc` forces the /proc sampler (LAB_ONCPU_SOURCE), the fallback, for the same figures beside them.

Each workload runs through the runner alone (`python -m experiments.harness.runner`, recorder and
sampler on, the sampler writing to a pipe of its own as in the lab), so nothing but the run competes with
the sampler. From the run's own events:
- cost: the sampler's CPU time (it reports its own, `sampler_ns`) from its first budget to its last
  (its last read, after the run, included), in ms and over the run's wall time in percent of one
  core (targets: the switch records under 0.5 % at 2 and 16 workers, the /proc sampler under 3 %),
  and its tick (the /proc sampler lengthens it to stay near TARGET_SHARE) or read interval;
- resolution: the median on-CPU interval of the worker threads (CPython hands the GIL over
  every 5 ms: turns of about that length are resolved; one long interval per thread would
  mean they were not), and for how much of the time any of them was on a CPU two or more
  were (under one GIL: little; what there is, is the sampler's placement error within a tick,
  or threads on a CPU without the GIL: waking to ask for it, taking a lock).
A benchmark, not a test: the figures depend on the machine's load, printed in the header.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading

from app.model.events import StreamParser
from app.model.timeline import Timeline
from benchmarks.fidelity import ROOT, env
from benchmarks.serve import header
from experiments.harness.sampler import OUT_FD_ENV, SOURCE_ENV

Workload = tuple[str, str, dict[str, int | str]]  # name, experiment module, params


def counter(experiment: str, window: str, workers: int, iterations: int) -> Workload:
    module = f"experiments.{experiment.replace('-', '_')}"
    return (
        f"{experiment} {window}, {workers} threads",
        module,
        {"workers": workers, "iterations": iterations, "window": window},
    )


# The tutorial's loops at 2 and 16 workers (a run of 2 threads lasts 0.1-0.3 s at the most iterations the form
# allows, so its start and last read weigh), two lock storms, CPU-bound work.
WORKLOADS: tuple[Workload, ...] = (
    counter("race-counter", "call", 2, 2_000_000),
    counter("race-counter", "call", 16, 2_000_000),
    counter("race-counter", "none", 16, 2_000_000),
    counter("lock-counter", "none", 2, 2_000_000),
    counter("lock-counter", "none", 16, 500_000),
    counter("lock-counter", "call", 2, 500_000),
    counter("lock-counter", "call", 16, 100_000),
    (
        "cpu-threads-vs-processes, 2 workers",
        "experiments.cpu_threads_vs_processes",
        {"workers": 2, "first": 30, "tasks": 4, "start_method": "fork"},
    ),
)


def run(module: str, params: dict, source: str = "auto") -> Timeline:
    """One run through the runner alone, the sampler writing to a pipe of its own as in the lab (OUT_FD_ENV)."""
    read_end, write_end = os.pipe()
    sampled: list[bytes] = []
    with subprocess.Popen(
        [sys.executable, "-m", "experiments.harness.runner", module, json.dumps(params)],
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env={**env(), SOURCE_ENV: source, OUT_FD_ENV: str(write_end)},
        pass_fds=(write_end,),
    ) as runner:
        os.close(write_end)
        reader = threading.Thread(target=lambda: sampled.extend(iter(lambda: os.read(read_end, 1 << 16), b"")))
        reader.start()
        out, _ = runner.communicate()
        reader.join()
        os.close(read_end)
    if runner.returncode:
        raise SystemExit(f"{module} {params}: the runner exited {runner.returncode}")
    events, sampler_events = StreamParser(), StreamParser(batches_only=True)
    timeline = Timeline(coalesce=False)
    timeline.apply_all(events.feed(out) + events.close())
    timeline.apply_all(sampler_events.feed(b"".join(sampled)) + sampler_events.close())
    timeline.close()
    return timeline


def together(spans: list[tuple[int, int]]) -> tuple[int, int]:
    """(time when two or more of `spans` were on a CPU, time when any was): a sweep over their ends."""
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    count, last, shared, any_on = 0, 0, 0, 0
    for ts, step in edges:
        if count >= 2:
            shared += ts - last
        if count >= 1:
            any_on += ts - last
        count, last = count + step, ts
    return shared, any_on


def figures(timeline: Timeline) -> dict[str, float]:
    (first_ts, first), (last_ts, last) = timeline.machine[0], timeline.machine[-1]
    runner = timeline.by_worker["main"].pid
    threads = {lane.index for lane in timeline.lanes if lane.worker != "main" and lane.pid == runner}
    spans = [(s.start_ns, s.end_ns) for s in timeline.cpu_spans if s.lane in threads]
    shared, any_on = together(spans)
    return {
        "cost": 100 * (last["sampler_ns"] - first["sampler_ns"]) / (last_ts - first_ts),
        "cpu_ms": (last["sampler_ns"] - first["sampler_ns"]) / 1e6,
        "run_s": (last_ts - first_ts) / 1e9,
        "tick_ms": last["tick_us"] / 1000,
        "turn_ms": statistics.median(end - start for start, end in spans) / 1e6 if spans else 0.0,
        "overlap": 100 * shared / any_on if any_on else 0.0,
        "per_s": len(spans) / ((last_ts - first_ts) / 1e9),
        "lost": timeline.lost_records(),
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sampler")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--source", choices=("auto", "proc"), default="auto")
    args = parser.parse_args(argv)
    repeat = 1 if args.quick else args.repeat
    print(header(f"each workload through the runner alone, median of {repeat}, {SOURCE_ENV}={args.source}"))
    print()
    print(
        "| workload | run, s | sampler cost, % of a core | its CPU, ms | tick (or read interval), ms "
        "| threads' median on-CPU interval, ms | time two threads of one process were both on a CPU, % | intervals/s "
        "| records lost |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, module, params in WORKLOADS:
        if args.quick and isinstance(iterations := params.get("iterations"), int):
            params = {**params, "iterations": max(1000, iterations // 20)}
        if args.quick and "first" in params:
            params = {**params, "first": 22}
        rows = [figures(run(module, params, args.source)) for _ in range(repeat)]
        m = {key: statistics.median(row[key] for row in rows) for key in rows[0]}
        print(
            f"| {name} | {m['run_s']:.2f} | {m['cost']:.2f} | {m['cpu_ms']:.1f} | {m['tick_ms']:.1f} | {m['turn_ms']:.2f} | {m['overlap']:.1f} "
            f"| {m['per_s']:.0f} | {m['lost']:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
