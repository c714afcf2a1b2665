"""Two kinds of threads add to and subtract from one global counter without a lock."""
from __future__ import annotations

import threading

from experiments.params import Choice, Int
from experiments.recorder import traced

ID = "race-counter"
TITLE = "Race on a shared counter"
SUMMARY = "Threads add and subtract on one global counter with no lock: updates can get lost."
KIND = "threads"
# Whether updates get lost depends on when the OS and the GIL switch threads: another run
# on the CPU changes that, so it executes alone.
MEASURES_TIME = True
NOTICE = (
    "Each lane shows when its thread really ran: with the GIL only one runs at a time, and "
    "they take turns every few milliseconds. With window=call the thread reads the counter, "
    "calls a function, then writes: a switch inside that window loses the other thread's "
    "updates, so the final value is not the expected one. With window=none (the tutorial's "
    "`counter += 1`) CPython 3.10 and newer only switch threads at calls and backward jumps, "
    "never inside `+=`, so the result is almost always right: the race is still a bug, it "
    "just does not show on this interpreter."
)
EXPECTED = ('window=call: actual differs from expected (lost updates), though now and then a run ends right by '
            'chance (about 1 in 30 at 300 000 iterations here): run it again; window=none on CPython >= 3.10: '
            'almost always correct.')
PARAMS = (
    Int("workers", 2, 2, 16, "threads; even ones increment, odd ones decrement"),
    Int("iterations", 1_000_000, 1_000, 2_000_000, "loop iterations per thread"),
    Choice("window", "call", ("none", "call"), "none: counter += 1; call: read, call, write"),
)

counter = 0


def pause():
    """Does nothing, but calling it gives the interpreter a point to switch threads."""


def increment(iterations):
    global counter
    for _ in range(iterations):
        counter += 1


def decrement(iterations):
    global counter
    for _ in range(iterations):
        counter -= 1


def increment_with_window(iterations):
    global counter
    for _ in range(iterations):
        value = counter
        pause()
        counter = value + 1


def decrement_with_window(iterations):
    global counter
    for _ in range(iterations):
        value = counter
        pause()
        counter = value - 1


def thread_functions(window):
    """What the threads run: the tutorial's `counter += 1`, or read, call, write."""
    return (increment, decrement) if window == "none" else (increment_with_window, decrement_with_window)


def bytecode(params):
    """The functions whose bytecode the run page shows, disassembled by the interpreter that runs them."""
    return thread_functions(params["window"])


def run(params, rec):
    global counter
    counter = 0
    n = params["iterations"]
    # The threads run the tutorial's functions as they are: the span says which, the kernel
    # (experiments/sampler.py) says when each thread really ran.
    inc, dec = (traced(f, rec, f.__name__ + "({})", "cpu") for f in thread_functions(params["window"]))
    threads = [
        threading.Thread(target=inc if i % 2 == 0 else dec, args=(n,), name=f"{'increment' if i % 2 == 0 else 'decrement'}-{i // 2 + 1}")
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
