"""The tutorial's first threads: two sleeping tasks, with or without join(), daemon or not."""
from __future__ import annotations

import threading
import time

from experiments.blocking import sleep
from experiments.params import Choice, Int
from experiments.sync import join as join_threads

ID = "thread-start-join"
TITLE = "Starting threads, join() and daemon threads"
SUMMARY = "start() returns at once: main only waits for its threads if it joins them, and daemon threads are cut off at exit."
KIND = "threads"
NOTICE = (
    "start() does not wait: main prints its \"execution time\" at once, while both tasks are "
    "still sleeping. With join=yes main waits (the Thread.join spans) and the total is about "
    "the longest task, not the sum: the two sleeps overlap. With join=no main's code ends "
    "first, and the interpreter still waits for the threads before it exits (the "
    "\"interpreter exit\" wait on main). With daemon=yes and join=no nothing waits: the "
    "process exits and the tasks are killed mid-sleep, their sleep spans cut off and their "
    "\"Finished\" never printed."
)
EXPECTED = (
    "join=no: main's result comes at once, the interpreter-exit wait on main ends after both tasks; "
    "join=yes: total_ms about the longest task; daemon=yes, join=no: both sleeps cut off, no \"Finished\"."
)
PARAMS = (
    Choice("join", "no", ("no", "yes"), "does main call thread1.join() and thread2.join()"),
    Choice("daemon", "no", ("no", "yes"), "thread1.daemon = thread2.daemon = True"),
    Int("duration1_ms", 2000, 0, 10_000, "how long Task 1 sleeps (the tutorial: 2 s)"),
    Int("duration2_ms", 2000, 0, 10_000, "how long Task 2 sleeps (the tutorial: 2 s)"),
)


def process_task(rec, task_name, duration):
    print(f"Starting {task_name}")
    sleep(rec, duration)
    print(f"Finished {task_name}")


def run(params, rec):
    thread1 = threading.Thread(target=process_task, args=(rec, "Task 1", params["duration1_ms"] / 1000), name="Task 1")
    thread2 = threading.Thread(target=process_task, args=(rec, "Task 2", params["duration2_ms"] / 1000), name="Task 2")
    if params["daemon"] == "yes":
        thread1.daemon = True
        thread2.daemon = True

    start_time = time.time()
    with rec.activity("start threads"):
        thread1.start()
        thread2.start()

    main_time = time.time() - start_time
    print(f"Main thread execution time: {main_time:.2f} seconds")
    result = {"main_ms": round(main_time * 1000, 1)}

    if params["join"] == "yes":
        join_threads(rec, thread1, thread2)
        total_time = time.time() - start_time
        print(f"Total execution time: {total_time:.2f} seconds")
        result["total_ms"] = round(total_time * 1000, 1)
    # Without join, run() returns now; the runner then exits like the interpreter does:
    # it waits for non-daemon threads, and daemon threads die with the process.
    return result
