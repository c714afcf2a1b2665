"""Test-only experiment: a process pool whose worker a test kills mid-task (SIGKILL, as the OOM killer would)."""
from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor

from experiments.params import Choice, Int
from experiments.recorder import traced

ID = "pool-victim"
TITLE = "A pool to kill a worker of (test only)"
SUMMARY = "A pool of two gets a long task (the one to kill) and a short one; main waits for the results."
KIND = "processes"
NOTICE = "For tests."
PARAMS = (
    Choice("pool", "Pool", ("Pool", "ProcessPoolExecutor"), "multiprocessing.Pool waits forever for a lost task; "
                                                             "ProcessPoolExecutor raises BrokenProcessPool"),
    Int("ms", 20_000, 10, 60_000, "how long each task sleeps"),
)


def run(params, rec):
    task = traced(time.sleep, rec, "task sleeps {}", "sleep")
    context = multiprocessing.get_context("fork")
    durations = [params["ms"] / 1000, 0.05]
    if params["pool"] == "Pool":
        with context.Pool(2) as pool, rec.activity("Pool.map", "wait"):
            pool.map(task, durations, chunksize=1)
    else:
        with ProcessPoolExecutor(2, mp_context=context) as pool, rec.activity("executor.map", "wait"):
            list(pool.map(task, durations))
    return {}
