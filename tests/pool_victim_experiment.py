"""Test-only experiment: a process pool whose worker a test kills mid-task (SIGKILL, as the OOM killer would)."""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor

from experiments.harness.params import Choice, Int
from experiments.harness.recorder import traced

ID = "pool-victim"
TITLE = "A pool to kill a worker of (test only)"
SUMMARY = (
    "A pool of two gets a long task (the one to kill), a short one, and `more` tasks of `more_ms` each; "
    "main waits for the results."
)
KIND = "processes"
NOTICE = "For tests."
PARAMS = (
    Choice(
        "pool",
        "Pool",
        ("Pool", "ProcessPoolExecutor"),
        "multiprocessing.Pool waits forever for a lost task; ProcessPoolExecutor raises BrokenProcessPool",
    ),
    Int("ms", 20_000, 10, 60_000, "how long the long task sleeps"),
    Int("more", 0, 0, 40, "tasks after the first two: the other workers still work when the long one is killed"),
    Int("more_ms", 1_000, 10, 10_000, "how long each of those sleeps"),
)


def run(params, rec):
    task = traced(time.sleep, rec, "task sleeps {}", "sleep")
    context = multiprocessing.get_context("fork")
    durations = [params["ms"] / 1000, 0.05] + [params["more_ms"] / 1000] * params["more"]
    if params["pool"] == "Pool":
        with context.Pool(2) as pool, rec.activity("Pool.map", "wait"):
            pool.map(task, durations, chunksize=1)
    else:
        with ProcessPoolExecutor(2, mp_context=context) as pool, rec.activity("executor.map", "wait"):
            list(pool.map(task, durations))
    return {}
