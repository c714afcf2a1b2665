"""The race-counter threads again, each update inside `with lock:`."""
from __future__ import annotations

import threading

from experiments.params import Choice, Int
from experiments.recorder import traced

ID = "lock-counter"
TITLE = "A Lock makes the counter correct"
SUMMARY = "The same threads with `with lock:` around each update: never a lost update."
KIND = "threads"
# Its lesson includes the cost of the lock (wall_ms against race-counter's): executes alone.
MEASURES_TIME = True
NOTICE = (
    "The result is always the expected one. With window=call a thread can be switched out "
    "while it holds the lock; the other thread then has to wait for it: those waits are the "
    "orange Lock.acquire wait spans. It takes a switch inside the locked window, so it is "
    "rare (a few times per run) and each wait lasts until the holder gets the GIL back, "
    "milliseconds. With window=none CPython 3.10+ never switches inside the `with` block, so "
    "the lock is almost never contended: correct either way, but the lock is what makes it "
    "correct on every interpreter."
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
    with rec.activity("start threads"):
        for thread in threads:
            thread.start()
    with rec.activity("Thread.join", "wait"):
        for thread in threads:
            thread.join()
    incrementers = (params["workers"] + 1) // 2
    decrementers = params["workers"] // 2
    return {"expected": (incrementers - decrementers) * n, "actual": counter}
