"""Fidelity: how much recording bends an experiment, beside how much VizTracer does, and what one event costs.

    .venv/bin/python -m benchmarks fidelity     (or: python -m benchmarks.fidelity --repeat 7)

For each workload the tutorial's code runs four ways, in rotation, same interpreter and params:
bare (no recorder, no server); ours, from the dashboard (a server in its own process, as a class
uses it: POST /api/runs, the runner started ahead, recorder on, its events ingested, stored and
drawn, one viewer watching the run's websocket meanwhile); the runner alone (`python -m
experiments.harness.runner`, recorder on, no server: what the recorder costs by itself, the rest of
ours is the server drawing it live beside it on the same 2 cores); and bare under VizTracer
(from PyPI, the `bench` extra; its default settings, tracing threads and child processes too). Each time is
the workload's own wall time, measured inside the process (interpreter start-up and VizTracer's
saving of its trace file are not counted). The table gives the medians and each ratio to bare
(target for ours: <= 1.05; with the kernel's switch records, <= 1.02), where ours/bare lies 90 % of
the time by the bootstrap (the runs' own spread: a ratio is not told apart from 1 closer than that),
and the ratios of the best runs (other processes only ever add time, so on a shared machine the
best runs are a second opinion). Then two figures in CPU time,
which other processes do not bend: what `with lock:` costs on a recorded lock against a plain
one, and what one recorded event costs: the hot path (what the recording thread pays), and the
encoding and writing that follow in batches (paid by the flusher thread).
A benchmark, not a test: the figures depend on the machine's load, printed in the header.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from websockets.sync.client import connect

from benchmarks.serve import Server, header, serving

ROOT = Path(__file__).resolve().parent.parent
MARK = "WALL_MS"  # the line a bare script prints its workload's wall time on

COUNTER_BARE = """
import threading, time
counter = 0
lock = threading.Lock()
def pause(): pass
def increment():
    global counter
    for _ in range({n}):
        {inc}
def decrement():
    global counter
    for _ in range({n}):
        {dec}
if __name__ == "__main__":
    t = time.monotonic_ns()
    threads = [threading.Thread(target=increment), threading.Thread(target=decrement)]
    for th in threads: th.start()
    for th in threads: th.join()
    print("{mark}", (time.monotonic_ns() - t) / 1e6)
"""
UPDATE = {
    "none": ("counter += 1", "counter -= 1"),
    "call": ("v = counter; pause(); counter = v + 1", "v = counter; pause(); counter = v - 1"),
}
LOCKED = "with lock:\n            "

# The tutorial's two pools, preceded by the serial run the experiments use as their yardstick.
POOLS_BARE = """
import multiprocessing, time
from concurrent.futures import ThreadPoolExecutor, ProcessPoolExecutor
{task}
if __name__ == "__main__":
    items = {items}
    t = time.monotonic_ns()
    results = list(map({fn}, items))
    with ThreadPoolExecutor(max_workers={workers}) as executor:
        results = list(executor.map({fn}, items))
    with ProcessPoolExecutor(max_workers={workers}, mp_context=multiprocessing.get_context("{method}")) as executor:
        results = list(executor.map({fn}, items))
    print("{mark}", (time.monotonic_ns() - t) / 1e6)
"""
FIBONACCI = """
def fibonacci(n):
    if n <= 1:
        return n
    return fibonacci(n-1) + fibonacci(n-2)
"""
SIMULATE_IO = """
def simulate_io(duration):
    time.sleep(duration)
    return duration
"""

# The asyncio experiments' code, bare: asyncio.run and, for asyncio-gather, the same waits on a thread pool.
GATHER_BARE = """
import asyncio, time
from concurrent.futures import ThreadPoolExecutor
async def simulate_io(duration):
    await asyncio.sleep(duration)
    return duration
async def main(durations):
    return await asyncio.gather(*(simulate_io(d) for d in durations))
def simulate_io_blocking(duration):
    time.sleep(duration)
    return duration
if __name__ == "__main__":
    durations = [{duration}] * {tasks}
    t = time.monotonic_ns()
    results = asyncio.run(main(durations))
    with ThreadPoolExecutor(max_workers={workers}) as executor:
        results = list(executor.map(simulate_io_blocking, durations))
    print("{mark}", (time.monotonic_ns() - t) / 1e6)
"""
BLOCKED_BARE = """
import asyncio, time
async def ticker(tick_s, ticks, done):
    while not done.is_set():
        await asyncio.sleep(tick_s)
        ticks.append(time.perf_counter())
async def blocker(block_s, tick_s):
    await asyncio.sleep(tick_s * 3)
    time.sleep(block_s)
    await asyncio.sleep(tick_s * 3)
async def main(tickers, tick_s, block_s, ticks):
    done = asyncio.Event()
    tasks = [asyncio.create_task(ticker(tick_s, ticks, done)) for _ in range(tickers)]
    await asyncio.create_task(blocker(block_s, tick_s))
    done.set()
    await asyncio.gather(*tasks)
if __name__ == "__main__":
    t = time.monotonic_ns()
    asyncio.run(main({tickers}, {tick}, {block}, []))
    print("{mark}", (time.monotonic_ns() - t) / 1e6)
"""
QUEUE_BARE = """
import asyncio, time
async def process_data_fixed(queue, process_s):
    while True:
        item = await queue.get()
        if item is None:
            break
        print(f"Processing: {{item}}")
        await asyncio.sleep(process_s)
        queue.task_done()
async def generate_data(queue, delay_s, items):
    print("Generating data...")
    await asyncio.sleep(delay_s)
    for i in range(items):
        await queue.put(f"Item-{{i}}")
    print("Data generation complete")
async def main(workers, items, maxsize, delay_s, process_s):
    data_queue = asyncio.Queue(maxsize=maxsize)
    producer = asyncio.create_task(generate_data(data_queue, delay_s, items))
    consumers = [asyncio.create_task(process_data_fixed(data_queue, process_s)) for _ in range(workers)]
    await producer
    await data_queue.join()
    for _ in consumers:
        await data_queue.put(None)
    await asyncio.gather(*consumers)
    print("All tasks completed")
if __name__ == "__main__":
    t = time.monotonic_ns()
    asyncio.run(main({workers}, {items}, {maxsize}, {delay}, {process}))
    print("{mark}", (time.monotonic_ns() - t) / 1e6)
"""


@dataclass(frozen=True)
class Workload:
    name: str
    experiment: str  # the experiment's id in the dashboard
    params: dict
    bare: str  # the same work as a script, printing MARK and its wall time in ms
    traced_too: bool = True  # also under VizTracer (too slow for the default-sized cpu workload)


def counter_workload(experiment: str, window: str, n: int) -> Workload:
    inc, dec = UPDATE[window]
    if experiment == "lock-counter":
        inc, dec = LOCKED + inc, LOCKED + dec
    code = COUNTER_BARE.format(n=n, inc=inc, dec=dec, mark=MARK)
    return Workload(
        f"{experiment} window={window}", experiment, {"workers": 2, "iterations": n, "window": window}, code
    )


def cpu_workload(first: int, tasks: int, method: str = "spawn", traced_too: bool = True) -> Workload:
    params = {"workers": 2, "first": first, "tasks": tasks, "start_method": method}
    code = POOLS_BARE.format(
        task=FIBONACCI, fn="fibonacci", items=[first + i for i in range(tasks)], workers=2, method=method, mark=MARK
    )
    return Workload(f"cpu-threads-vs-processes first={first}", "cpu-threads-vs-processes", params, code, traced_too)


def io_workload(tasks: int, duration_ms: int, workers: int = 4, method: str = "spawn") -> Workload:
    params = {"workers": workers, "tasks": tasks, "duration_ms": duration_ms, "start_method": method}
    code = POOLS_BARE.format(
        task=SIMULATE_IO,
        fn="simulate_io",
        items=[duration_ms / 1000] * tasks,
        workers=workers,
        method=method,
        mark=MARK,
    )
    return Workload(f"io-threads-vs-processes {duration_ms}ms", "io-threads-vs-processes", params, code)


def asyncio_workloads(quick: bool) -> list[Workload]:
    """asyncio-gather, asyncio-blocked-loop and asyncio-queue (fixed), each run bare with asyncio.run."""
    tasks, ms = (2, 10) if quick else (10, 100)
    gather = Workload(
        f"asyncio-gather {tasks}x{ms}ms",
        "asyncio-gather",
        {"tasks": tasks, "duration_ms": ms, "workers": 4},
        GATHER_BARE.format(duration=ms / 1000, tasks=tasks, workers=4, mark=MARK),
    )
    block_ms, tick_ms = (50, 10) if quick else (300, 20)
    blocked = Workload(
        f"asyncio-blocked-loop {block_ms}ms",
        "asyncio-blocked-loop",
        {"variant": "blocked", "call": "time.sleep", "block_ms": block_ms, "tickers": 3, "tick_ms": tick_ms},
        BLOCKED_BARE.format(tickers=3, tick=tick_ms / 1000, block=block_ms / 1000, mark=MARK),
    )
    items, process_ms = (4, 1) if quick else (50, 10)
    queue = Workload(
        f"asyncio-queue {items} items",
        "asyncio-queue",
        {
            "variant": "fixed",
            "workers": 3,
            "items": items,
            "maxsize": 5,
            "produce_delay_ms": 10,
            "process_ms": process_ms,
        },
        QUEUE_BARE.format(workers=3, items=items, maxsize=5, delay=0.01, process=process_ms / 1000, mark=MARK),
    )
    return [gather, blocked, queue]


def workloads(quick: bool) -> list[Workload]:
    if quick:
        # fork, not spawn: starting interpreters would take most of the few seconds allowed
        return [
            counter_workload("race-counter", "call", 20_000),
            counter_workload("lock-counter", "call", 5_000),
            cpu_workload(15, 2, "fork"),
            io_workload(2, 10, 2, "fork"),
            *asyncio_workloads(quick),
        ]
    return [
        counter_workload("race-counter", "none", 1_000_000),
        counter_workload("race-counter", "call", 1_000_000),
        counter_workload("lock-counter", "none", 200_000),
        counter_workload("lock-counter", "call", 200_000),
        cpu_workload(22, 5),  # fib(22) .. fib(26): VizTracer records every call, millions of them
        cpu_workload(30, 5, traced_too=False),  # the experiment's defaults: fib(30) .. fib(34), about 9 s a run
        io_workload(10, 100),  # the tutorial's 10 sleeps on 4 workers, 100 ms each instead of 1 s
        *asyncio_workloads(quick),
    ]


EVENT_COST = """
import os, time
from experiments.harness.recorder import Recorder
fd = os.open(os.devnull, os.O_WRONLY)
n = {n}
rec = Recorder(fd, flush_interval_s=3600, high_water=2 * n)  # no flush until close(): the two parts apart
rec.instant("warm-up", "mark"); rec.flush()
t0 = time.thread_time_ns()
for _ in range(n):
    rec.instant("x", "mark")
t1 = time.thread_time_ns()
rec.close()
t2 = time.thread_time_ns()
print((t1 - t0) / n, (t2 - t1) / n)
"""

# What a task lane costs per step the loop gives a task: tasks that only await asyncio.sleep(0), each
# step a run span and a wait span (experiments/harness/recorder.py: Stepped), against the same loop bare.
STEP_COST = """
import asyncio, os, statistics, time
from experiments.harness.recorder import Recorder, TaskLanes
rec = Recorder(os.open(os.devnull, os.O_WRONLY), flush_interval_s=0.02)
async def spin(n):
    for _ in range(n):
        await asyncio.sleep(0)
async def main(tasks, n):
    await asyncio.gather(*(spin(n) for _ in range(tasks)))
def steps(recorded, tasks, n):
    loop = asyncio.new_event_loop()
    if recorded:
        TaskLanes(rec, loop).install()
    t = time.thread_time_ns()
    loop.run_until_complete(main(tasks, n))
    spent = time.thread_time_ns() - t
    loop.close()
    return spent / (tasks * n)
times = {{"bare": [], "recorded": []}}
for _ in range({repeat}):
    for kind in times:
        times[kind].append(steps(kind == "recorded", 10, {n}))
print(statistics.median(times["bare"]), statistics.median(times["recorded"]))
"""

# CPU time, not wall time, so that other processes on the machine do not count.
LOCK_COST = """
import os, statistics, threading, time
from experiments.harness.recorder import Recorder
rec = Recorder(os.open(os.devnull, os.O_WRONLY), flush_interval_s=3600)
counter = 0
def loop(lock, n):
    global counter
    for _ in range(n):
        with lock:
            counter += 1
times = {{"plain": [], "recorded": []}}
locks = {{"plain": threading.Lock(), "recorded": rec.Lock("l")}}
for _ in range({repeat}):
    for kind, lock in locks.items():
        t = time.thread_time_ns()
        loop(lock, {n})
        times[kind].append((time.thread_time_ns() - t) / {n})
print(statistics.median(times["plain"]), statistics.median(times["recorded"]))
"""


def env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def bare(script: Path, tracer: list[str] | None = None) -> float:
    """Run a bare script (under `tracer`, a command prefix, if given); its workload's wall time in ms."""
    out = subprocess.run(
        [*(tracer or [sys.executable]), str(script)],
        capture_output=True,
        text=True,
        check=True,
        cwd=script.parent,
        env=env(),
    ).stdout
    return float(next(line.split()[1] for line in out.splitlines() if line.startswith(MARK)))


def through_dashboard(server: Server, work: Workload) -> float:
    """Run the workload's experiment from the dashboard (a server process, as a class uses it) with one
    viewer watching it live on the run's websocket; its wall time."""
    run_id = server.start_run(work.experiment, work.params)
    with connect(f"ws://127.0.0.1:{server.port}/ws/runs/{run_id}", max_size=None) as socket:
        for _ in socket:  # every frame, until the server closes the socket after the last
            pass
    run = server.wait_done(run_id)
    if run["status"] != "done":
        raise RuntimeError(f"{work.name}: the run ended {run['status']}: {run.get('error')}")
    assert run["result"] is not None, "a done run has its result"
    ms: float = run["result"]["run_call_ms"]
    return ms


def through_runner(work: Workload) -> float:
    """The experiment through the runner alone (recorder on, no server): what the recorder costs by itself."""
    module = f"experiments.{work.experiment.replace('-', '_')}"
    out = subprocess.run(
        [sys.executable, "-m", "experiments.harness.runner", module, json.dumps(work.params)],
        capture_output=True,
        check=True,
        cwd=ROOT,
        env=env(),
    ).stdout
    result = next(e for line in out.splitlines() for e in json.loads(line) if e[0] == "R")
    ms: float = result[3]["run_call_ms"]
    return ms


def viztracer_command(trace_file: Path) -> list[str] | None:
    if importlib.util.find_spec("viztracer") is None:
        return None
    return [sys.executable, "-m", "viztracer", "--quiet", "-o", str(trace_file)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one run each: checks the script still works")
    parser.add_argument("--no-viztracer", action="store_true")
    parser.add_argument("--only", default="", help="only the workloads whose name contains this")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat = 1
    print(header(f"median of {args.repeat} runs of each, in rotation"))
    with tempfile.TemporaryDirectory(prefix="lab-fidelity-") as tmp, serving() as server:
        tracer = None if args.no_viztracer else viztracer_command(Path(tmp) / "trace.json")
        if tracer is None and not args.no_viztracer:
            print("(VizTracer not installed: pip install -e '.[bench]'; its columns are left empty)")
        print(
            f"{'workload':36} {'bare ms':>9} {'ours ms':>9} {'ours':>6} {'ours 90%':>10} {'runner':>7} {'viztracer ms':>13} "
            f"{'viztracer':>9} {'ours best':>10} {'viz best':>9}"
        )
        for work in [w for w in workloads(args.quick) if args.only in w.name]:
            script = Path(tmp) / "bare.py"
            script.write_text(work.bare)
            # Each way is called in this iteration only, so each closes over this iteration's script and work.
            ways = {
                "bare": lambda: bare(script),  # noqa: B023
                "ours": lambda: through_dashboard(server, work),  # noqa: B023
                "runner": lambda: through_runner(work),  # noqa: B023
            }
            if tracer and work.traced_too:
                ways["viztracer"] = lambda: bare(script, tracer)  # noqa: B023
            times: dict[str, list[float]] = {way: [] for way in ways}
            for _ in range(args.repeat):
                for way, measure in ways.items():
                    times[way].append(measure())
            median = {way: statistics.median(t) for way, t in times.items()}
            b, best = (
                median["bare"],
                min(times["bare"]),
            )  # other processes only ever add time: best runs, a second opinion
            v = median.get("viztracer", float("nan"))
            v_best = min(times["viztracer"]) / best if "viztracer" in times else float("nan")
            low, high = ratio_interval(times["ours"], times["bare"])
            print(
                f"{work.name:36} {b:9.1f} {median['ours']:9.1f} {median['ours'] / b:6.2f} {low:5.2f}-{high:4.2f}"
                f" {median['runner'] / b:7.2f} {v:13.1f} {v / b:9.2f} {min(times['ours']) / best:10.2f} {v_best:9.2f}",
                flush=True,
            )
    n = 20_000 if args.quick else 100_000
    plain, recorded = map(float, python(LOCK_COST.format(n=n, repeat=max(3, 3 * args.repeat))).split())
    print(
        f"uncontended `with lock: counter += 1`, CPU time per iteration (median of {max(3, 3 * args.repeat)} x {n}): "
        f"threading.Lock {plain:.0f} ns, rec.Lock {recorded:.0f} ns, ratio {recorded / plain:.3f}"
    )
    n = 200 if args.quick else 5_000
    bare_step, recorded_step = map(float, python(STEP_COST.format(n=n, repeat=max(3, args.repeat))).split())
    print(
        f"asyncio step (10 tasks x {n} `await asyncio.sleep(0)`), loop thread's CPU time per step (median of "
        f"{max(3, args.repeat)}): bare {bare_step / 1000:.1f} us, with task lanes {recorded_step / 1000:.1f} us "
        f"(+{(recorded_step - bare_step) / 1000:.1f} us, events encoded by the flusher thread not counted)"
    )
    n = 20_000 if args.quick else 200_000
    costs = [tuple(map(float, python(EVENT_COST.format(n=n)).split())) for _ in range(args.repeat)]
    hot = statistics.median(c[0] for c in costs)
    encode = statistics.median(c[1] for c in costs)
    print(
        f"recorder cost per event (instant, median of {args.repeat} x {n}): hot path {hot:.0f} ns "
        f"(target <= 1000); encoding and writing, in batches: {encode:.0f} ns; total {hot + encode:.0f} ns"
    )
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def ratio_interval(ours: list[float], bare: list[float], resamples: int = 2000) -> tuple[float, float]:
    """Where the ratio of the two medians lies, 90 % of the time, by the bootstrap: each side resampled with
    replacement (a fixed seed: the same times give the same interval). The runs' own spread, said beside the ratio."""
    rng = random.Random(0)
    ratios = sorted(
        statistics.median(rng.choices(ours, k=len(ours))) / statistics.median(rng.choices(bare, k=len(bare)))
        for _ in range(resamples)
    )
    return ratios[int(0.05 * resamples)], ratios[int(0.95 * resamples) - 1]


def python(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT, env=env()
    ).stdout


if __name__ == "__main__":
    main()
