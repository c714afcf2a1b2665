"""Test-only experiment: workers tick at a steady pace in two phases with a quiet pause between.

A steady stream of small spans (a live run with something to draw every frame), and a pause in
which nothing new is recorded, so a test can compare two viewers of a live run while it stands still.
"""

from __future__ import annotations

import threading
import time

from experiments.harness.params import Int

ID = "ticker"
TITLE = "Ticker (test only)"
SUMMARY = "Workers tick, pause, and tick again."
KIND = "threads"
NOTICE = "For tests."
PARAMS = (
    Int("workers", 2, 1, 8, "threads that tick"),
    Int("ticks", 20, 1, 1000, "ticks per worker in each phase"),
    Int("tick_ms", 20, 1, 1000, "how long one tick lasts"),
    Int("pause_ms", 0, 0, 60_000, "the quiet pause between the two phases"),
)


def ticker(rec, params):
    for phase in (1, 2):
        for i in range(params["ticks"]):
            with rec.activity(f"tick {phase}.{i}", "run"):
                time.sleep(params["tick_ms"] / 1000)
        if phase == 1 and params["pause_ms"]:
            with rec.activity("pause", "sleep"):
                time.sleep(params["pause_ms"] / 1000)


def run(params, rec):
    threads = [
        threading.Thread(target=ticker, args=(rec, params), name=f"ticker-{i + 1}") for i in range(params["workers"])
    ]
    for thread in threads:
        thread.start()
    with rec.activity("Thread.join", "wait"):
        for thread in threads:
            thread.join()
    return {"ticks": 2 * params["ticks"] * params["workers"]}
