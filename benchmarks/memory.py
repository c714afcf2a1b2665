"""Memory and DOM: a long run and a flood leave the server's memory and the page's DOM bounded.

    .venv/bin/python -m benchmarks.memory [--quick]

Issue 5, target 6: a run with 10 million loop iterations (race-counter, 10 threads x 1 000 000)
and a run emitting 1 million events (benchmarks/flood_experiment.py, mixed spans, marks and
counter samples on 4 lanes): server RSS growth <= 100 MB, and the run page's DOM < 20 000 nodes.
The server's RSS is read from /proc (benchmarks/serve.py, PeakRss) every 100 ms during the run:
growth = peak during the run - before it. DOM nodes are counted in headless Chromium
(`document.querySelectorAll('*').length`): on the page opened when the run started, once the
websocket has drawn the end ("live"), and on a fresh load of the finished run ("reloaded").
Coalescing (app/model/timeline.py) is what keeps both bounded: the table also gives the drawn spans.
"""

from __future__ import annotations

import argparse

from benchmarks.browser import COUNT_NODES, chromium, wait_finished
from benchmarks.serve import PeakRss, header, serving

RUNS = {
    "race-counter 10 x 1M iterations": ("race-counter", {"workers": 10, "iterations": 1_000_000, "window": "none"}),
    "flood 1M events (mixed)": ("flood", {"events": 1_000_000, "lanes": 4, "gap_ns": 1_000, "mix": "mixed"}),
}
QUICK = {"flood 20k events (mixed)": ("flood", {"events": 20_000, "lanes": 4, "gap_ns": 1_000, "mix": "mixed"})}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    runs = QUICK if args.quick else RUNS
    print(header("one run each, a fresh server for each run"))
    print(
        f"{'run':34} {'events':>9} {'RSS before':>11} {'peak':>7} {'growth MB':>10} {'after':>7} "
        f"{'DOM live':>9} {'DOM reloaded':>13} {'status':>7}"
    )
    with chromium() as browser:
        for label, (experiment, params) in runs.items():
            with serving() as server:
                server.request("GET", "/")  # the app's first request (templates, imports) is not the run's
                before = server.request("POST", "/bench/reset")["rss_mb"]
                peak = PeakRss(server)
                peak.start()
                run_id = server.start_run(experiment, params)
                page = browser.new_page()
                page.goto(f"{server.url}/runs/{run_id}")
                wait_finished(page)
                run = server.wait_done(run_id)
                page.wait_for_timeout(200 if args.quick else 1000)  # the last frame's swaps
                live = page.evaluate(COUNT_NODES)
                peak.stop.set()
                peak.join()
                after = server.request("GET", "/bench/stats")["rss_mb"]
                page.reload()
                reloaded = page.evaluate(COUNT_NODES)
                page.close()
                top = max(peak.peak, after)
                print(
                    f"{label:34} {run['log']['events'] if 'log' in run else 0:9} {before:11.1f} {top:7.1f} "
                    f"{top - before:10.1f} {after:7.1f} {live:9} {reloaded:13} {run['status']:>7}"
                )


if __name__ == "__main__":
    main()
