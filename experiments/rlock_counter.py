"""The tutorial's RLock example: increment() holds the lock and calls a function that takes it again."""
from __future__ import annotations

import threading

from experiments.harness.params import Int
from experiments.harness.sync import RLock, join

ID = "rlock-counter"
TITLE = "RLock: taking a lock you already hold"
SUMMARY = "An RLock can be acquired again by the thread that holds it: nested_function() takes it inside increment()'s hold."
KIND = "threads"
NOTICE = (
    "On the increment lanes each hold of the lock has a second hold inside it, one level "
    "deeper: nested_function() acquires the RLock its own thread already holds, and does not "
    "wait. (A plain Lock would wait for itself there, forever.) Between threads it is still "
    "a lock: an orange RLock.acquire span is a thread waiting while another holds it. The "
    "waits can be long: the lock is not fair, and a thread that releases it can take it "
    "straight back before the waiting one wakes up. "
    "Holds are drawn at most once a millisecond, plus every hold that followed a "
    "wait: there are far too many to draw each (a microsecond apiece)."
)
EXPECTED = "actual equals expected; depth-2 holds inside depth-1 holds on the increment lanes."
PARAMS = (
    Int("workers", 2, 2, 8, "threads; even ones increment, odd ones decrement (the tutorial: 2)"),
    Int("iterations", 200_000, 1_000, 1_000_000, "loop iterations per thread (the tutorial: 1 000 000)"),
)

counter = 0


def nested_function(lock):
    global counter
    with lock:
        counter += 1


def increment(lock, iterations):
    for _ in range(iterations):
        with lock:
            nested_function(lock)


def decrement(lock, iterations):
    global counter
    for _ in range(iterations):
        with lock:
            counter -= 1


def run(params, rec):
    global counter
    counter = 0
    lock = RLock(rec, "lock")
    n = params["iterations"]
    threads = [
        threading.Thread(target=increment if i % 2 == 0 else decrement, args=(lock, n), name=f"{'increment' if i % 2 == 0 else 'decrement'}-{i // 2 + 1}")
        for i in range(params["workers"])
    ]
    with rec.activity("start threads", "phase"):
        for thread in threads:
            thread.start()
    join(rec, *threads)
    incrementers = (params["workers"] + 1) // 2
    decrementers = params["workers"] // 2
    return {"expected": (incrementers - decrementers) * n, "actual": counter}


def findings(params, result, python):
    """What this run showed: whether the counter is right, and what each update cost."""
    from experiments.harness.wording import count

    expected, actual = result["expected"], result["actual"]
    updates = params["workers"] * params["iterations"]
    said = [f"No update was lost: the counter ended at the expected {count(expected)}." if actual == expected
            else f"The counter ended at {count(actual)}, not {count(expected)}, even with the RLock: a bug in the lab."]
    took = result.get("run_call_ms")
    if took:
        said.append(f"The {count(updates)} updates took {took:.0f} ms, {took * 1000 / updates:.2f} µs each, the "
                    "increments taking the lock twice (once in increment, once in nested_function).")
    return said


def verdict(params, result, python):
    """The lesson, judged by this run's counter: did the re-entrant lock keep every update?"""
    from experiments.harness.wording import count

    expected, actual = result["expected"], result["actual"]
    if actual == expected:
        return True, (f"The RLock kept every update, taken twice by the same thread without deadlock: "
                      f"the counter ended at {count(expected)}.")
    return False, f"The counter ended at {count(actual)}, not {count(expected)}, even with the RLock: a bug in the lab."
