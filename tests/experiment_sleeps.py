"""Test-only experiment: a child process and a thread that sleep far longer than any test waits."""

from __future__ import annotations

import multiprocessing
import time

from experiments.harness.params import Int

ID = "test-sleeps"
TITLE = "Sleeps"
SUMMARY = "Starts a sleeping child process, then sleeps; prints the child's pid."
KIND = "processes"
NOTICE = "For tests."
PARAMS = (Int("workers", 1, 1, 1), Int("seconds", 60, 1, 600))


def nap(seconds):
    time.sleep(seconds)


def run(params, rec):
    child = multiprocessing.get_context("spawn").Process(target=nap, args=(params["seconds"],), name="sleeper")
    child.start()
    print(f"child pid {child.pid}")
    with rec.activity(f"sleep({params['seconds']})", "sleep"):
        time.sleep(params["seconds"])
    child.join()
    return {}
