"""Test-only experiment: lock-counter's loop in many threads, each reporting the kernel's count of its CPU time.

The tutorial's increment/decrement (experiments/lock_counter.py) as they are; each thread reads
`time.thread_time_ns()` (CLOCK_THREAD_CPUTIME_ID: the kernel's own total for the thread) as its
task ends, and when, so a test can hold each lane's drawn on-CPU time up to then against it.
"""

from __future__ import annotations

import threading
import time

from experiments.harness.params import Int
from experiments.harness.recorder import traced
from experiments.lock_counter import decrement, increment

ID = "lock-cpu"
TITLE = "Lock counter with per-thread CPU totals (test only)"
SUMMARY = "lock-counter's threads, each saying how much CPU time the kernel counted for it."
KIND = "threads"
NOTICE = "For tests."
PARAMS = (
    Int("workers", 16, 2, 16, "threads"),
    Int("iterations", 20_000, 1_000, 200_000, "loop iterations per thread"),
)


def run(params, rec):
    lock = rec.Lock("lock")
    n = params["iterations"]
    totals = {}

    def worker(function):
        traced(function, rec, function.__name__ + "(lock, {1})", "cpu")(lock, n)
        # When, and how much: the strip is held against the kernel's total up to this moment.
        totals[threading.current_thread().name] = (time.monotonic_ns(), time.thread_time_ns())

    threads = [
        threading.Thread(target=worker, args=(increment if i % 2 == 0 else decrement,), name=f"worker-{i + 1}")
        for i in range(params["workers"])
    ]
    for thread in threads:
        thread.start()
    with rec.activity("Thread.join", "wait"):
        for thread in threads:
            thread.join()
    return {"thread_cpu_ns": totals}
