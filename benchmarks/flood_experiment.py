"""Benchmark-only experiment: a flood of events, written as fast as the pipe takes them.

The events are encoded before the clock starts (in the recorder's wire format, whole lines of at
most 32 events), so what limits the flood is the server reading and folding them, not this
process: a write blocks once the pipe's 64 KiB are full. `run_call_ms` is then the server's ingest
time for the whole flood (to within one pipe's worth). Timestamps are synthetic: one event every
`gap_ns` from the start, so the timeline is as dense as a real flood would be.
"""

from __future__ import annotations

import json
import os
import time

from experiments.harness.params import Choice, Int

ID = "flood"
TITLE = "A flood of events (benchmark only)"
SUMMARY = "Writes N events into the runner's pipe as fast as the server reads them."
KIND = "threads"
NOTICE = "Nothing to learn here: it measures the server."
PARAMS = (
    Int("events", 100_000, 100, 5_000_000, "events to send"),
    Int("lanes", 4, 1, 64, "lanes the events are spread over"),
    Int("gap_ns", 1_000, 1, 1_000_000, "synthetic time between two events"),
    Choice("mix", "spans", ("spans", "marks", "counters", "mixed"), "what kind of events"),
)
EVENTS_PER_LINE = 32


def _event(i: int, ts: int, lanes: int, mix: str) -> list:
    lane = f"flood-{(i // 2) % lanes}"
    kind = mix if mix != "mixed" else ("spans", "spans", "marks", "counters")[(i // 2) % 4]
    if kind == "spans":
        return ["B", ts, lane, "step", "run"] if i % 2 == 0 else ["E", ts, lane]
    if kind == "marks":
        return ["I", ts, lane, f"tick {i}", "mark"]
    return ["C", ts, lane, "depth", i % 17]


def encode(events: int, lanes: int, gap_ns: int, mix: str, t0: int) -> list[bytes]:
    """The flood as lines of the wire format, each one JSON array of up to 32 events."""
    lines = []
    for start in range(0, events, EVENTS_PER_LINE):
        batch = [_event(i, t0 + i * gap_ns, lanes, mix) for i in range(start, min(start + EVENTS_PER_LINE, events))]
        lines.append(json.dumps(batch, separators=(",", ":")).encode() + b"\n")
    return lines


def run(params, rec):
    lines = encode(params["events"], params["lanes"], params["gap_ns"], params["mix"], time.monotonic_ns())
    rec.flush()  # the header goes first; nothing else writes to the pipe while we flood it
    payload = b"".join(lines)
    del lines
    started = time.perf_counter_ns()
    view = memoryview(payload)
    while view:
        written = os.write(rec.fd, view[: 1 << 16])
        view = view[written:]
    took_ns = time.perf_counter_ns() - started
    return {
        "events": params["events"],
        "bytes": len(payload),
        "write_ms": round(took_ns / 1e6, 3),
        "events_per_s": round(params["events"] / (took_ns / 1e9)),
    }
