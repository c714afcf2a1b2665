"""Test-only experiment: a thread sleeps while the main thread waits for it. Slow, not hung."""

from __future__ import annotations

import threading
import time

from experiments.harness.params import Int

ID = "sleepy"
TITLE = "A long sleep (test only)"
SUMMARY = "One thread sleeps; main joins it."
KIND = "threads"
NOTICE = "Main is blocked, but the sleeper will wake up by itself: that is progress, not a hang."
PARAMS = (Int("ms", 1500, 10, 60_000, "how long the thread sleeps"),)


def sleeper(rec, seconds):
    with rec.activity(f"sleep({seconds:g})", "sleep"):
        time.sleep(seconds)


def run(params, rec):
    thread = threading.Thread(target=sleeper, args=(rec, params["ms"] / 1000), name="sleeper")
    thread.start()
    with rec.activity("Thread.join", "wait"):
        thread.join()
    return {"slept_ms": params["ms"]}
