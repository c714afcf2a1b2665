"""Two kinds of threads add to and subtract from one global counter without a lock."""
from __future__ import annotations

import threading

from experiments.harness.intervals import together_ns
from experiments.harness.params import Choice, Int
from experiments.harness.recorder import gil_enabled, traced

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
    "updates. With window=none (the tutorial's `counter += 1`) whether a switch can land "
    "inside `+=` depends on the interpreter: CPython 3.9 and older may switch between any "
    "two bytecodes, 3.10 and newer only at calls and backward jumps (the Bytecode view marks "
    "where). Compare expected and actual, and run it again: each run switches differently."
)
# A run on a free-threaded build with the GIL off (3.13t) is shown this instead: no switch story.
NOTICE_WITHOUT_GIL = (
    "Each lane shows when its thread really ran: this build has no GIL, so the threads run "
    "Python at the same time, each on its own CPU (look for on-CPU strips side by side). "
    "Nothing then keeps a read and the write after it together: while one thread is between "
    "reading the counter and writing it back, another running beside it writes, and that "
    "write is lost, with window=none (`counter += 1`) as with window=call. Compare expected "
    "and actual, and how long the strips overlap."
)
EXPECTED = ('window=call: actual usually differs from expected (lost updates), though a run can end right by '
            'chance, more often with few iterations; window=none: lost updates on CPython 3.9 and older, '
            'almost never on 3.10 and newer, where the race is still a bug.')
PARAMS = (
    Int("workers", 2, 2, 16, "threads; even ones increment, odd ones decrement"),
    Int("iterations", 1_000_000, 1_000, 2_000_000, "loop iterations per thread"),
    Choice("window", "call", ("none", "call"), "none: counter += 1; call: read, call, write"),
)
# What fixes the race, to compare with a run of this one ("Run the fixed variant" on the run page):
# lock-counter, the same loops with each update inside `with lock:`, the same params.
FIXED_VARIANT = {"experiment": "lock-counter"}

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
    # (experiments/harness/sampler.py) says when each thread really ran.
    ran: list = []  # when each thread's loop began and ended: whether they overlapped at all
    inc, dec = (traced(f, rec, f.__name__ + "({})", "cpu", ran) for f in thread_functions(params["window"]))
    threads = [
        threading.Thread(target=inc if i % 2 == 0 else dec, args=(n,), name=f"{'increment' if i % 2 == 0 else 'decrement'}-{i // 2 + 1}")
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
    return {"expected": (incrementers - decrementers) * n, "actual": counter,
            "together_ms": round(together_ns(ran) / 1e6, 1), "gil_enabled": gil_enabled()}


def findings(params, result, python, cpu=None):
    """What this run showed, from its counter, the interpreter that ran it and, without a GIL, how long
    its threads were on CPUs at the same time (`cpu`: the run's CPU budget, app/model/findings.py)."""
    from experiments.harness.wording import count, cpython, on_cpus_together, switches_only_at_calls_and_jumps

    expected, actual = result["expected"], result["actual"]
    updates = params["workers"] * params["iterations"]
    window, interpreter = params["window"], cpython(python)
    calls_only = switches_only_at_calls_and_jumps(python)
    where = "between the read and the write" if window == "call" else "inside `counter += 1`"
    lifetimes = result.get("together_ms")
    if actual != expected:
        off = abs(actual - expected)
        said = [f"Updates were lost: the counter ended at {count(actual)}, not {count(expected)}, so at least "
                f"{count(off)} of the {count(updates)} updates were lost."]
        if not result.get("gil_enabled", True):
            said.append(f"This build ran without a GIL, so nothing kept a thread's read and write together: "
                        f"{on_cpus_together(cpu)} A write by one landed {where} in another, which then overwrote it.")
        elif window == "call":
            said.append("A thread switched out at the call to pause(), between reading the counter and writing it "
                        "back, overwrote what the others had written meanwhile.")
        elif calls_only is False:
            said.append(f"{interpreter} can switch threads between any two bytecodes, so also inside "
                        "`counter += 1`, between its load and its store.")
        else:
            said.append(f"Even {interpreter}, which switches threads only at calls and backward jumps, switched "
                        "inside `counter += 1` in this run.")
        return said
    said = [f"No update was lost this time: the counter ended at the expected {count(expected)}."]
    if lifetimes == 0:
        said.append("The threads never ran at the same time: each had finished its loop before the next began "
                    "(thread start-up took longer than the loop), so there was nothing to race. Run it with more "
                    "iterations.")
    elif not result.get("gil_enabled", True):
        said.append(f"This build ran without a GIL, so nothing kept a read and its write together: {on_cpus_together(cpu)} "
                    "This run ended right by chance, or lost increments and lost decrements cancelled out. "
                    "Run it again, or with more iterations.")
    elif window == "none" and calls_only:
        said.append(f"{interpreter} only switches threads at calls and backward jumps, so `counter += 1` ran "
                    "whole; the race is still a bug: window=call shows it here, and CPython 3.9 shows it with "
                    "this very code.")
    else:
        why = (f"{interpreter} can switch threads {where}" if window == "none"
               else "A switch at the call to pause() loses updates")
        said.append(f"{why}, but this run ended right: either no switch landed there, or lost increments and "
                    "lost decrements cancelled out. Run it again, or with more iterations.")
    return said


def verdict(params, result, python):
    """The lesson, judged by this run's counter: did the unsynchronised threads lose updates?"""
    from experiments.harness.wording import count, cpython

    expected, actual = result["expected"], result["actual"]
    if actual != expected:
        return True, (f"The race lost updates: the counter ended at {count(actual)}, not {count(expected)} "
                      f"(at least {count(abs(actual - expected))} lost).")
    return False, (f"No update was lost this time on {cpython(python)} (window={params['window']}): "
                   "the race is there, this run did not hit it.")
