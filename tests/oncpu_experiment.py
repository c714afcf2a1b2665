"""Test-only experiment: two workers spin on the CPU (threads or processes), or sleep, for the on-CPU lanes."""

from __future__ import annotations

import multiprocessing
import threading
import time
from typing import TYPE_CHECKING

from experiments.harness.params import Choice, Int
from experiments.harness.recorder import traced

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

ID = "oncpu-probe"
TITLE = "Spin or sleep (test only)"
SUMMARY = "Two workers, each spinning on the CPU or sleeping for a while."
KIND = "threads"
NOTICE = "For tests."
PARAMS = (
    Choice("workers", "threads", ("threads", "processes"), "what runs the two tasks"),
    Choice("task", "spin", ("spin", "sleep"), "spin: a pure-Python loop; sleep: time.sleep"),
    Int("ms", 300, 10, 5000, "how long each task lasts"),
)


def spin(seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass


def run(params, rec):
    task = traced(spin if params["task"] == "spin" else time.sleep, rec, params["task"] + "({})", "cpu")
    seconds = params["ms"] / 1000
    workers: list[threading.Thread | BaseProcess]  # either kind starts and joins alike
    if params["workers"] == "threads":
        workers = [threading.Thread(target=task, args=(seconds,), name=f"worker-{i + 1}") for i in range(2)]
    else:
        context = multiprocessing.get_context("fork")
        workers = [context.Process(target=task, args=(seconds,), name=f"worker-{i + 1}") for i in range(2)]
    for worker in workers:
        worker.start()
    with rec.activity("join", "wait"):
        for worker in workers:
            worker.join()
    return {}
