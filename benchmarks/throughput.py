"""Throughput: events per second the runner → server path ingests, with the loop still responsive.

    .venv/bin/python -m benchmarks.throughput [--quick] [--repeat N] [--events N]

A benchmark-only experiment (benchmarks/flood_experiment.py) writes pre-encoded events into the
runner's pipe as fast as the server reads them, so its write time is the server's ingest time
(issue 5, target 3: >= 200 000 events/s). Meanwhile the server's loop-lag probe (benchmarks/serve.py)
records how late a 1 ms sleep wakes (target: p99 < 50 ms), and this process, a separate one,
asks /healthz every 20 ms (every answer must come back). First, for context, the pure parts alone
in this process: StreamParser.feed and Timeline.apply over the same bytes.
"""

from __future__ import annotations

import argparse
import threading
import time
import urllib.request

from benchmarks.flood_experiment import encode
from benchmarks.serve import header, medians, percentile, serving

MIXES = ("spans", "mixed")


def pure_rates(events: int, mix: str) -> tuple[float, float]:
    """Events/s of parsing alone and of parsing plus folding into a timeline, in this process."""
    from app.model.events import StreamParser
    from app.model.timeline import Timeline

    data = b"".join(encode(events, 4, 1_000, mix, 10**12))
    chunks = [data[i : i + (1 << 16)] for i in range(0, len(data), 1 << 16)]
    started = time.process_time()
    parser = StreamParser()
    parsed = [parser.feed(c) for c in chunks]
    parse_s = time.process_time() - started
    timeline = Timeline()
    started = time.process_time()
    parser = StreamParser()
    for c in chunks:
        timeline.apply_all(parser.feed(c))
    fold_s = time.process_time() - started
    assert sum(map(len, parsed)) == events
    return events / parse_s, events / fold_s


class HealthProbe(threading.Thread):
    """Asks /healthz every 20 ms from this process (not the server's) until stopped."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url = url + "/healthz"
        self.latencies_ms: list[float] = []
        self.failures = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(self.url, timeout=5) as r:
                    r.read()
                self.latencies_ms.append((time.perf_counter() - started) * 1000)
            except OSError:
                self.failures += 1
            self.stop.wait(0.02)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat, args.events = 1, 20_000
    print(header(f"{args.events} events a run, median of {args.repeat}"))
    print(f"\npure core in this process (events per CPU s): {'mix':8} {'parse':>10} {'parse+fold':>11}")
    for mix in MIXES:
        rates = [pure_rates(min(args.events, 500_000), mix) for _ in range(args.repeat)]
        p, f = medians(rates)
        print(f"{'':35} {mix:8} {p:10.0f} {f:11.0f}")
    print(
        f"\nthrough a real server: {'mix':8} {'events/s':>10} {'per CPU s':>10} {'run s':>7} {'lag p50':>8} {'lag p99':>8} "
        f"{'lag max':>8} {'healthz p99':>12} {'healthz fails':>14} {'RSS +MB':>8}"
    )
    with serving() as server:
        for mix in MIXES:
            rows = []
            for _ in range(args.repeat):
                before = server.request("POST", "/bench/reset")
                health = HealthProbe(server.url)
                health.start()
                run_id = server.start_run("flood", {"events": args.events, "mix": mix, "lanes": 4, "gap_ns": 1_000})
                run = server.wait_done(run_id)
                health.stop.set()
                health.join()
                stats = server.request("GET", "/bench/stats")
                if run["status"] != "done":
                    raise RuntimeError(f"flood run ended {run['status']}: {run.get('error')}")
                result, started_at, ended_at = run["result"], run["started_at"], run["ended_at"]
                assert result is not None and started_at is not None and ended_at is not None, "a done run has them"
                rows.append(
                    (
                        result["events_per_s"],
                        args.events / (stats["cpu_s"] - before["cpu_s"]),
                        ended_at - started_at,
                        stats["p50_ms"],
                        stats["p99_ms"],
                        stats["max_ms"],
                        percentile(health.latencies_ms, 99),
                        health.failures,
                        stats["rss_mb"] - before["rss_mb"],
                    )
                )
            med = medians(rows)
            print(
                f"{'':22} {mix:8} {med[0]:10.0f} {med[1]:10.0f} {med[2]:7.2f} {med[3]:8.1f} {med[4]:8.1f} "
                f"{med[5]:8.1f} {med[6]:12.1f} {med[7]:14.0f} {med[8]:8.1f}"
            )
    print(
        "\nevents/s: flood events / time to write them into the pipe (the server reads as fast as it can); "
        "per CPU s: flood events / the server process's CPU time meanwhile (what one free core would ingest; "
        "steadier than events/s on a loaded machine); run s: started → ended, incl. runner start-up; "
        "lag: how late the server's 1 ms probe sleep woke; healthz: asked every 20 ms from this process."
    )


if __name__ == "__main__":
    main()
