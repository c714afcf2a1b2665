"""The tutorial's DataFetcher: a threading.Thread subclass whose run() is the thread's work."""
from __future__ import annotations

import threading
import time

from experiments.harness.blocking import sleep
from experiments.harness.params import Int
from experiments.harness.sync import join

ID = "thread-subclass"
TITLE = "A Thread subclass: DataFetcher"
SUMMARY = "Subclass Thread and override run(): start() runs it in a new thread, and two fetches overlap."
KIND = "threads"
NOTICE = (
    "Each DataFetcher's run() happens on its own lane: start() called it in a new thread, "
    "main never calls run() itself. The two fetches sleep at the same time, so main's joins "
    "end after the longer one, not the sum of both: while a thread sleeps, as it would while "
    "waiting for the network, the other one can run. Main waits for Data Fetch 1 first; "
    "Data Fetch 2 keeps going meanwhile."
)
EXPECTED = "total_ms about longest_ms (4 s by default), well under sum_ms (6 s)."
PARAMS = (
    Int("duration1_ms", 2000, 0, 10_000, "how long Data Fetch 1 takes (the tutorial: 2 s)"),
    Int("duration2_ms", 4000, 0, 10_000, "how long Data Fetch 2 takes (the tutorial: 4 s)"),
)


class DataFetcher(threading.Thread):
    def __init__(self, task_name, duration, rec):
        super().__init__(name=task_name)  # the thread's name is its lane's name
        self.task_name = task_name
        self.duration = duration
        self.rec = rec

    def run(self):
        print(f"Starting {self.task_name}")
        sleep(self.rec, self.duration)
        print(f"Finished {self.task_name}")


def run(params, rec):
    thread1 = DataFetcher("Data Fetch 1", params["duration1_ms"] / 1000, rec)
    thread2 = DataFetcher("Data Fetch 2", params["duration2_ms"] / 1000, rec)

    start_time = time.time()
    thread1.start()
    thread2.start()

    join(rec, thread1)
    join(rec, thread2)

    total_time = time.time() - start_time
    print(f"Total execution time: {total_time:.2f} seconds")
    return {
        "total_ms": round(total_time * 1000, 1),
        "longest_ms": max(params["duration1_ms"], params["duration2_ms"]),
        "sum_ms": params["duration1_ms"] + params["duration2_ms"],
    }


def findings(params, result, python):
    """What this run showed: whether the fetches overlapped, from the total against longest and sum."""
    from experiments.harness.wording import ms

    took, longest, total = result["total_ms"], result["longest_ms"], result["sum_ms"]
    if _overlapped(result):
        return [f"Both fetches were done after {ms(took)}: about the longer one ({longest} ms), not the sum "
                f"({total} ms): they ran at the same time."]
    return [f"Both fetches were done after {ms(took)}, for fetches of {params['duration1_ms']} and "
            f"{params['duration2_ms']} ms: the shorter one is too short for the overlap to show "
            "(longest and sum are nearly the same)."]


def _overlapped(result):
    """Whether the total shows the two fetches ran at the same time (nearer the longer one than the sum)."""
    took, longest, total = result["total_ms"], result["longest_ms"], result["sum_ms"]
    return total - longest >= 10 and took < total - (total - longest) / 2


def verdict(params, result, python):
    """The lesson, judged by this run's total: did the two threads fetch at the same time?"""
    from experiments.harness.wording import ms

    if _overlapped(result):
        return True, (f"The two threads ran at the same time: {ms(result['total_ms'])} in all, not the "
                      f"{result['sum_ms']} ms of one after the other.")
    return None, (f"Done after {ms(result['total_ms'])}: the shorter fetch is too short for the overlap to show.")
