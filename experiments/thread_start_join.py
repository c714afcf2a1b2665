"""The tutorial's first threads: two sleeping tasks, with or without join(), daemon or not."""
from __future__ import annotations

import threading
import time

from experiments.harness.blocking import sleep
from experiments.harness.params import Choice, Int
from experiments.harness.sync import join as join_threads

ID = "thread-start-join"
TITLE = "Starting threads, join() and daemon threads"
SUMMARY = "start() returns at once: main only waits for its threads if it joins them, and daemon threads are cut off at exit."
KIND = "threads"
NOTICE = (
    "start() does not wait: main prints its \"execution time\" as soon as both threads are "
    "started, whatever the tasks still have to do. With join=yes main waits (the Thread.join "
    "spans) and the total is the longest task, not the sum: the two sleeps overlap. With "
    "join=no main's code ends without waiting, and the interpreter still waits for the threads "
    "before it exits (the \"interpreter exit\" wait on main). With daemon=yes and join=no "
    "nothing waits: the process exits, and a task still sleeping then is killed mid-sleep, its "
    "sleep span cut off and its \"Finished\" never printed."
)
EXPECTED = (
    "join=no: main's result comes as soon as the threads are started, the interpreter-exit wait on main ends "
    "after both tasks; join=yes: total_ms about the longest task; daemon=yes, join=no: a task still sleeping "
    "at exit is cut off, with no \"Finished\"."
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
    with rec.activity("start threads", "phase"):
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


def findings(params, result, python):
    """What this run showed: how long main took, and who waited for whom."""
    from experiments.harness.wording import ms

    d1, d2 = params["duration1_ms"], params["duration2_ms"]
    longest, total = max(d1, d2), d1 + d2
    main = result["run_call_ms"] if "run_call_ms" in result else result["main_ms"]
    said = [f"Starting both threads took main {ms(result['main_ms'])}: start() does not wait for the tasks."]
    if params["join"] == "yes":
        took = result["total_ms"]
        if min(d1, d2) >= 10 and took < total * 0.9:
            said.append(f"Main's joins ended after {ms(took)}: about the longest task ({longest} ms), not the sum "
                        f"({total} ms), so the two sleeps overlapped.")
        else:
            said.append(f"Main's joins ended after {ms(took)}, for tasks of {d1} and {d2} ms: with a task this short, "
                        "longest and sum are too close to show the overlap (give both tasks a second or more).")
    elif longest > main:
        if params["daemon"] == "yes":
            said.append(f"Main's code ended after {ms(main)}, while a task had {longest} ms to sleep: nothing waits "
                        "for daemon threads, so the process exited and a task still asleep was cut off (dashed "
                        "outline, no \"Finished\").")
        else:
            said.append(f"Main's code ended after {ms(main)}, while a task had {longest} ms to sleep: the "
                        "interpreter waited for it at exit (\"Thread.join (interpreter exit)\" on main).")
    else:
        said.append(f"Main's code took {ms(main)}, no shorter than the tasks' sleeps ({d1} and {d2} ms): they may "
                    "have finished first; give them longer sleeps to see main end while they still sleep.")
    return said


def verdict(params, result, python):
    """The lesson, judged by this run's times: start() returns at once; only join waits."""
    from experiments.harness.wording import ms

    d1, d2 = params["duration1_ms"], params["duration2_ms"]
    started = result["main_ms"]
    if started >= min(d1, d2):
        return None, (f"Starting the threads took main {ms(started)}, as long as a task: too short a task "
                      "to show that start() does not wait.")
    if "total_ms" in result:
        took = result["total_ms"]
        overlapped = took < (d1 + d2) * 0.9
        return overlapped or None, (f"start() returned after {ms(started)}; the joins waited {ms(took)}"
                                    + (", less than the two sleeps added up: they overlapped." if overlapped
                                       else ": too short to tell overlapping from one after the other."))
    cut = params["daemon"] == "yes"
    return True, (f"start() returned after {ms(started)} and main did not join: "
                  + ("the daemon threads were cut off at exit." if cut else "the interpreter waited for them at exit."))
