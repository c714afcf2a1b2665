"""Fan-out: many websocket viewers of one live run, the clients in another process on loopback.

    .venv/bin/python -m benchmarks.fanout [--quick] [--viewers 200,1000]

Issue 5, target 5: with 200 viewers every one gets the final result and the p95 frame lag is
<= 250 ms; with 1 000 the server degrades gracefully (coalesced frames, no error, bounded memory).
The run is benchmarks/stamps_experiment.py (an instant every 7 ms named after its
`time.monotonic_ns()`), so a frame's lag at a viewer is measured end to end: from the moment the
stamp was recorded in the experiment to the moment this process received it on that viewer's
socket (stamps recorded before a viewer's first message are left out: they came in its snapshot).
All viewers live in this one process (asyncio), so at 1 000 their own CPU time, on the same two
cores as the server, is part of the lag. "messages" is per viewer: fewer than the frames produced
means the viewer was sent frames joined or a fresh full render (coalesced), as designed.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import time

from websockets.asyncio.client import connect

from benchmarks.serve import PeakRss, header, percentile, serving

STAMP = re.compile(r"stamp (\d+)")


class Viewer:
    def __init__(self) -> None:
        self.lags_ms: list[float] = []
        self.messages = 0
        self.result = False
        self.error = ""

    async def watch(self, url: str, opened: asyncio.Semaphore) -> None:
        try:
            async with opened:
                socket = await connect(url, max_size=None, open_timeout=60)
            first_ns = 0
            seen: set[int] = set()
            async with socket:
                async for message in socket:
                    now = time.monotonic_ns()
                    assert isinstance(message, str), "the lab sends its frames as text"
                    first_ns = first_ns or now
                    self.messages += 1
                    for text in STAMP.findall(message):
                        stamp = int(text)
                        if stamp not in seen:
                            seen.add(stamp)
                            if stamp > first_ns:
                                self.lags_ms.append((now - stamp) / 1e6)
                    self.result = self.result or "<h2>Result</h2>" in message
            if socket.close_code != 1000:
                self.error = f"closed {socket.close_code}"
        except Exception as exc:  # noqa: BLE001 - every failure is a figure here
            self.error = f"{type(exc).__name__}: {exc}"


async def watch_all(url: str, viewers: list[Viewer]) -> None:
    opened = asyncio.Semaphore(64)  # connect in waves: a SYN flood would measure the backlog
    await asyncio.gather(*(v.watch(url, opened) for v in viewers))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", default="200,1000")
    parser.add_argument("--count", type=int, default=600, help="stamps in the run (7 ms apart)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.viewers, args.count = "20", 60
    print(header(f"one live run of {args.count} stamps 7 ms apart, default frame rate; lag in ms, end to end"))
    print(
        f"{'viewers':>8} {'got result':>11} {'errors':>7} {'lag p50':>8} {'p95':>7} {'p99':>7} {'max':>7} "
        f"{'messages':>9} {'RSS before':>11} {'peak':>7} {'loop lag p99':>13}"
    )
    with serving() as server:
        for n in (int(v) for v in args.viewers.split(",")):
            before = server.request("POST", "/bench/reset")["rss_mb"]
            peak = PeakRss(server)
            peak.start()
            # The first stamp waits while the viewers connect (in waves of 64), so all of them see the run live.
            params = {"count": args.count, "every_ms": 7, "busy": 0, "delay_ms": 1000 + 4 * n}
            run_id = server.start_run("stamps", params)
            viewers = [Viewer() for _ in range(n)]
            asyncio.run(watch_all(f"ws://127.0.0.1:{server.port}/ws/runs/{run_id}", viewers))
            server.wait_done(run_id)
            peak.stop.set()
            peak.join()
            stats = server.request("GET", "/bench/stats")
            lags = [lag for v in viewers for lag in v.lags_ms]
            errors = [v.error for v in viewers if v.error]
            print(
                f"{n:8} {sum(v.result for v in viewers):11} {len(errors):7} {percentile(lags, 50):8.1f} "
                f"{percentile(lags, 95):7.1f} {percentile(lags, 99):7.1f} {max(lags, default=0):7.1f} "
                f"{statistics.median(v.messages for v in viewers):9.0f} {before:11.1f} "
                f"{max(peak.peak, stats['rss_mb']):7.1f} {stats['p99_ms']:13.1f}"
            )
            if errors:
                print(f"         first error: {errors[0]}")


if __name__ == "__main__":
    main()
