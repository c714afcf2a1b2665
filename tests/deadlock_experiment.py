"""Test-only experiment: two threads take two locks in opposite orders, a classic deadlock.

A helper process, started first, waits on a pipe nobody writes to: the run's process group
then holds a second process, which the server must kill with the runner.
"""

from __future__ import annotations

import multiprocessing
import threading

from experiments.harness.params import Int

ID = "deadlock"
TITLE = "Deadlock (test only)"
SUMMARY = "Each thread holds one lock and waits for the other's."
KIND = "threads"
NOTICE = "Both threads wait forever for the lock the other holds; nobody is left to release one."
PARAMS = (Int("workers", 2, 2, 2, "the two threads"),)


def helper(rec, conn):
    with rec.activity("Pipe.recv", "wait"):
        conn.recv()


def transfer(rec, first, second, first_lock_taken):
    with first:
        with rec.activity("holding the first lock", "hold"):
            first_lock_taken.wait()  # both threads hold their first lock before either wants its second
            with second:
                pass


def run(params, rec):
    a, b = rec.Lock("a"), rec.Lock("b")
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    context.Process(target=helper, args=(rec, receiver), name="helper", daemon=True).start()
    both = threading.Barrier(2)
    threads = [
        threading.Thread(target=transfer, args=(rec, a, b, both), name="left"),
        threading.Thread(target=transfer, args=(rec, b, a, both), name="right"),
    ]
    for thread in threads:
        thread.start()
    with rec.activity("Thread.join", "wait"):
        for thread in threads:
            thread.join()
    return {}
