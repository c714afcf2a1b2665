"""Test-only experiment: a few milliseconds of sleep, for load tests of the queue."""

from __future__ import annotations

import time

from experiments.harness.params import Int

ID = "test-quick"
TITLE = "Quick"
SUMMARY = "Sleeps a few milliseconds and returns."
KIND = "threads"
NOTICE = "For tests."
PARAMS = (Int("workers", 1, 1, 1), Int("ms", 20, 0, 1000))


def run(params, rec):
    with rec.activity("sleep", "sleep"):
        time.sleep(params["ms"] / 1000)
    return {"slept_ms": params["ms"]}
