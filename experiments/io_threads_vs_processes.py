"""The tutorial's simulate_io run serially, then on a ThreadPoolExecutor, then on a ProcessPoolExecutor."""
from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

from experiments import speedup
from experiments.params import Choice, Int
from experiments.recorder import traced

ID = "io-threads-vs-processes"
TITLE = "I/O-bound work: threads vs processes"
SUMMARY = "Ten sleeps on a thread pool, then on a process pool: both overlap the waiting; threads start cheaper."
KIND = "processes"
# Its result is a speedup (and threads starting cheaper than processes): executes alone.
MEASURES_TIME = True
NOTICE = (
    "First main waits for every task itself: that serial run is the yardstick. A sleeping "
    "thread does not hold the GIL, so in the thread pool all its workers wait at once, "
    "just as the process pool's workers do: both are about `workers` times faster than "
    "serial, the ideal speedup. With 10 tasks on 4 workers the last round has only 2 "
    "tasks, so 3 rounds instead of 2.5: about 3.3 at best. The process pool also has to "
    "start its worker processes first (see where its lanes begin), which threads do not."
)
EXPECTED = "thread_speedup and process_speedup both near ideal_speedup = min(workers, tasks); threads a little ahead."
PARAMS = (
    Int("workers", 4, 1, 16, "max_workers of each pool"),
    Int("tasks", 10, 1, 40, "how many simulated I/O operations"),
    Int("duration_ms", 1000, 10, 3000, "how long each one sleeps (the tutorial: 1000)"),
    Choice("start_method", "spawn", ("spawn", "fork", "forkserver"), "how the process pool starts its workers"),
)


def simulate_io(duration):
    time.sleep(duration)
    return duration


def run(params, rec):
    durations = [params["duration_ms"] / 1000] * params["tasks"]  # Simulate I/O operations (the tutorial: 10)
    task = traced(simulate_io, rec, "simulate_io({})", "sleep")

    # Serial execution, on main: the yardstick
    with rec.activity("serial"):
        start_time = time.time()
        results = list(map(task, durations))
        serial_time = time.time() - start_time

    # Thread pool execution
    with rec.activity("thread pool"):
        start_time = time.time()
        with ThreadPoolExecutor(max_workers=params["workers"]) as executor:
            results = list(executor.map(task, durations))
        thread_time = time.time() - start_time

    # Process pool execution
    context = multiprocessing.get_context(params["start_method"])
    with rec.activity("process pool"):
        start_time = time.time()
        with ProcessPoolExecutor(max_workers=params["workers"], mp_context=context) as executor:
            results = list(executor.map(task, durations))
        process_time = time.time() - start_time

    ideal = min(params["workers"], len(durations))
    return {"results": results, **speedup.report(serial_time, thread_time, process_time, ideal)}
