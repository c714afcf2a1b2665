"""Benchmark-only experiment: instants whose names carry the moment they were recorded.

Each `stamp <monotonic_ns>` instant goes through the real recorder (buffer, flusher thread,
pipe), so a websocket client on the same machine that notes `time.monotonic_ns()` when the
fragment holding a stamp arrives measures the whole path: recorder → runner's pipe → server →
frame → socket. (CLOCK_MONOTONIC is one clock for every process on Linux.)
"""

from __future__ import annotations

import time

from experiments.harness.params import Int

ID = "stamps"
TITLE = "Timestamped instants (benchmark only)"
SUMMARY = "Records an instant every few milliseconds, its name the time it was recorded."
KIND = "threads"
NOTICE = "Nothing to learn here: it measures the latency of the live view."
PARAMS = (
    Int("count", 200, 1, 100_000, "instants to record"),
    Int("every_ms", 7, 0, 1_000, "pause between two instants"),
    Int("busy", 0, 0, 1_000_000, "extra short spans recorded between two instants (load)"),
    Int("delay_ms", 0, 0, 60_000, "wait before the first instant (while viewers connect)"),
)


def run(params, rec):
    with rec.activity("waiting for viewers", "sleep"):
        time.sleep(params["delay_ms"] / 1000)
    for _ in range(params["count"]):
        for _ in range(params["busy"]):
            rec.begin("busy", "run")
            rec.end()
        rec.instant(f"stamp {time.monotonic_ns()}", "mark")
        time.sleep(params["every_ms"] / 1000)
    return {"stamps": params["count"]}
