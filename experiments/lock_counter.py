"""The race-counter threads again, each update inside `with lock:`."""
from __future__ import annotations

import threading

from experiments.harness.params import Choice, Int
from experiments.harness.recorder import traced

ID = "lock-counter"
TITLE = "A Lock makes the counter correct"
SUMMARY = "The same threads with `with lock:` around each update: never a lost update."
KIND = "threads"
# Its lesson includes the cost of the lock (run_call_ms against race-counter's): executes alone.
MEASURES_TIME = True
NOTICE = (
    "Each update is inside `with lock:`, so only the thread holding the lock can read and write "
    "the counter. An orange Lock.acquire span is a thread waiting while another holds the lock: "
    "with window=call a thread can be switched out while it holds it, and the others then wait "
    "until the holder gets the GIL back. Look at how many such waits there are and how long, "
    "and at run_call_ms: try workers=16 against workers=2 for the cost of many threads taking "
    "turns at one lock, and race-counter for the same loop with no lock."
)
# A run on a free-threaded build with the GIL off (3.13t) is shown this instead: no GIL to get back.
NOTICE_WITHOUT_GIL = (
    "Each update is inside `with lock:`, so only the thread holding the lock can read and write "
    "the counter. This build has no GIL: the threads run at the same time, each on its own CPU, "
    "and an orange Lock.acquire span is a thread waiting while one running beside it holds the "
    "lock. Look at how many such waits there are and how long, and at run_call_ms: try "
    "workers=16 against workers=2 for the cost of many threads contending for one lock, and "
    "race-counter for the same loop with no lock."
)
EXPECTED = 'Always correct: actual == expected, whatever the window and the interpreter.'
PARAMS = (
    Int("workers", 2, 2, 16, "threads; even ones increment, odd ones decrement"),
    Int("iterations", 200_000, 1_000, 2_000_000, "loop iterations per thread (the tutorial uses 1 000 000: over a second here)"),
    Choice("window", "call", ("none", "call"), "none: counter += 1; call: read, call, write"),
)

counter = 0


def pause():
    """Does nothing, but calling it gives the interpreter a point to switch threads."""


def increment(lock, iterations):
    global counter
    for _ in range(iterations):
        with lock:
            counter += 1


def decrement(lock, iterations):
    global counter
    for _ in range(iterations):
        with lock:
            counter -= 1


def increment_with_window(lock, iterations):
    global counter
    for _ in range(iterations):
        with lock:
            value = counter
            pause()
            counter = value + 1


def decrement_with_window(lock, iterations):
    global counter
    for _ in range(iterations):
        with lock:
            value = counter
            pause()
            counter = value - 1


def run(params, rec):
    global counter
    counter = 0
    lock = rec.Lock("lock")
    n = params["iterations"]
    functions = (increment, decrement) if params["window"] == "none" else (increment_with_window, decrement_with_window)
    # The tutorial's functions as they are: the span says which, the kernel says when each ran.
    inc, dec = (traced(f, rec, f.__name__ + "(lock, {1})", "cpu") for f in functions)
    threads = [
        threading.Thread(target=inc if i % 2 == 0 else dec, args=(lock, n), name=f"{'increment' if i % 2 == 0 else 'decrement'}-{i // 2 + 1}")
        for i in range(params["workers"])
    ]
    with rec.activity("start threads", "phase"):
        for thread in threads:
            thread.start()
    with rec.activity("Thread.join", "wait"):
        for thread in threads:
            thread.join()
    incrementers = (params["workers"] + 1) // 2
    decrementers = params["workers"] // 2
    return {"expected": (incrementers - decrementers) * n, "actual": counter}


def findings(params, result, python):
    """What this run showed: whether the counter is right, and what the locked updates cost."""
    from experiments.harness.wording import count, cpython

    expected, actual = result["expected"], result["actual"]
    workers = params["workers"]
    updates = workers * params["iterations"]
    if actual == expected:
        said = [f"No update was lost: the counter ended at the expected {count(expected)}, each of the "
                f"{count(updates)} updates made while holding the lock ({cpython(python)}, window={params['window']})."]
    else:
        said = [f"The counter ended at {count(actual)}, not {count(expected)}, even with the lock: that is a bug "
                "in the lab, not the lesson (please report it)."]
    took = result.get("run_call_ms")
    if took:
        each_us = took * 1000 / updates
        said.append(f"The {count(updates)} updates by {workers} threads took {took:.0f} ms, "
                    f"{each_us:.2f} µs per update. Only one thread at a time can hold the lock: compare the "
                    "cost per update at another workers value.")
    return said


def verdict(params, result, python):
    """The lesson, judged by this run's counter: did the lock keep every update?"""
    from experiments.harness.wording import count

    expected, actual = result["expected"], result["actual"]
    if actual == expected:
        return True, f"The lock kept every update: the counter ended at the expected {count(expected)}."
    return False, f"The counter ended at {count(actual)}, not {count(expected)}, even with the lock: a bug in the lab."
