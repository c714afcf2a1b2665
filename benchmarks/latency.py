"""Latency: an event recorded in the experiment → its fragment received by a websocket client.

    .venv/bin/python -m benchmarks.latency [--quick] [--repeat N]

A benchmark-only experiment (benchmarks/stamps_experiment.py) records, through the real recorder,
an instant every 7 ms whose name is `stamp <time.monotonic_ns()>`. This process (a websocket client
on the same machine, CLOCK_MONOTONIC being one clock for all processes on Linux) notes
`time.monotonic_ns()` when the first message holding each stamp arrives. The difference is the
whole path: recorder buffer and flusher (20 ms), pipe, parse and fold, the next frame (20 a second
by default), render, websocket. Issue 5, target 4: p50 <= 60 ms, p95 <= 150 ms at the default rate.
Stamps recorded before the socket's first message are left out (they come in the snapshot).
A second row does the same while the experiment also records 200 short spans between stamps.
"""

from __future__ import annotations

import argparse
import re
import time

from websockets.sync.client import connect

from benchmarks.serve import Server, header, medians, percentile, serving

STAMP = re.compile(r"stamp (\d+)")


def watch(url: str) -> tuple[dict[int, int], int, bool]:
    """Arrival time of each stamp at this client, when its first message came, and whether it saw the result."""
    arrived: dict[int, int] = {}
    first_ns = 0
    result = False
    with connect(url, max_size=None) as socket:
        for message in socket:
            now = time.monotonic_ns()
            assert isinstance(message, str), "the lab sends its frames as text"
            first_ns = first_ns or now
            for stamp in STAMP.findall(message):
                arrived.setdefault(int(stamp), now)
            result = result or "<h2>Result</h2>" in message
    return arrived, first_ns, result


def one_run(server: Server, count: int, busy: int) -> list[float]:
    run_id = server.start_run("stamps", {"count": count, "every_ms": 7, "busy": busy, "delay_ms": 0})
    arrived, first_ns, result = watch(f"ws://127.0.0.1:{server.port}/ws/runs/{run_id}")
    run = server.wait_done(run_id)
    if run["status"] != "done" or not result:
        raise RuntimeError(f"stamps run ended {run['status']}, result seen: {result}")
    return [(at - stamp) / 1e6 for stamp, at in arrived.items() if stamp > first_ns]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--count", type=int, default=300, help="stamps a run (7 ms apart)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat, args.count = 1, 30
    print(header(f"{args.count} stamps a run, 7 ms apart, default frame rate; median over {args.repeat} runs"))
    print(f"{'load in the experiment':34} {'stamps':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    with serving() as server:
        for label, busy in (("stamps only", 0), ("+200 short spans per stamp", 200)):
            rows = []
            for _ in range(args.repeat):
                lat = one_run(server, args.count, busy)
                if lat:  # none when the run was over before the socket's first message (a very busy machine)
                    rows.append((len(lat), percentile(lat, 50), percentile(lat, 95), percentile(lat, 99), max(lat)))
            if not rows:
                print(f"{label:34} no stamp came after the socket opened: each run was over first")
                continue
            med = medians(rows)
            print(f"{label:34} {med[0]:7.0f} {med[1]:8.1f} {med[2]:8.1f} {med[3]:8.1f} {med[4]:8.1f}")


if __name__ == "__main__":
    main()
