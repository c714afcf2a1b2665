"""Page weight and time to first lane: what a run page costs to open, and how soon it draws.

    .venv/bin/python -m benchmarks pageweight [--quick] [--repeat N]

Issue 5, target 7: the first load of a run page <= 100 KB transferred besides htmx, and the first
lane < 300 ms after Run on loopback. In headless Chromium: open an experiment's page, click Run,
and time from the click to the first `#lanes .lane` element (the POST, the redirect, the run
page, htmx, the websocket's first frame: whatever the user waits for). Bytes are the bodies the
page received (HTML, CSS, scripts other than the htmx files, websocket messages) until the run
ended, and a fresh load of the same page once it is over (no socket then: it is all in the HTML).
The flood row is the worst case: a finished run of 1 million events (200 000 with --quick).
"""
from __future__ import annotations

import argparse
import statistics
import time

from benchmarks.browser import chromium, wait_finished
from benchmarks.serve import header, serving

HTMX_FILES = ("htmx.min.js", "ws.min.js")


class Traffic:
    """Bytes a page received, htmx aside, by kind."""

    def __init__(self, page):
        self.bytes = {"html": 0, "static": 0, "websocket": 0}
        page.on("response", self._response)
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _response(self, response) -> None:
        if response.url.endswith(HTMX_FILES) or response.status in (301, 302, 303):
            return
        try:
            size = len(response.body())
        except Exception:  # noqa: BLE001 - a body the browser did not keep (a redirect)
            return
        self.bytes["html" if "text/html" in response.headers.get("content-type", "") else "static"] += size

    def _frame(self, payload) -> None:
        self.bytes["websocket"] += len(payload if isinstance(payload, (bytes, str)) else str(payload))

    @property
    def total_kb(self) -> float:
        return sum(self.bytes.values()) / 1000


def click_to_first_lane(browser, server, experiment: str) -> tuple[float, Traffic, str]:
    page = browser.new_page()
    page.goto(f"{server.url}/experiments/{experiment}")
    page.wait_for_load_state("load")
    traffic = Traffic(page)  # from the click on: the run page's own first load
    started = time.perf_counter()
    page.click("button.run")
    page.wait_for_selector("#lanes .lane", timeout=30_000)
    first_lane_ms = (time.perf_counter() - started) * 1000
    wait_finished(page)
    url = page.url
    page.close()
    return first_lane_ms, traffic, url


def reload_weight(browser, url: str) -> float:
    page = browser.new_page()
    traffic = Traffic(page)
    page.goto(url)
    page.wait_for_load_state("load")
    page.close()
    return traffic.total_kb


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    flood = 200_000 if args.quick else 1_000_000
    if args.quick:
        args.repeat = 1
    print(header(f"headless Chromium, median of {args.repeat}"))
    print(f"{'run page':36} {'first lane ms':>14} {'live KB':>8} {'(html':>7} {'static':>7} {'ws)':>7} {'reload KB':>10}")
    with serving() as server, chromium() as browser:
        for experiment in ("race-counter", "thread-pool"):
            rows = []
            for _ in range(args.repeat):
                ms, traffic, url = click_to_first_lane(browser, server, experiment)
                b = traffic.bytes
                rows.append((ms, traffic.total_kb, b["html"] / 1000, b["static"] / 1000, b["websocket"] / 1000,
                             reload_weight(browser, url)))
            med = [statistics.median(r[i] for r in rows) for i in range(6)]
            print(f"{experiment + ' (defaults)':36} {med[0]:14.0f} {med[1]:8.1f} {med[2]:7.1f} {med[3]:7.1f} "
                  f"{med[4]:7.1f} {med[5]:10.1f}")
        run_id = server.start_run("flood", {"events": flood, "lanes": 4, "gap_ns": 1_000, "mix": "mixed"})
        server.wait_done(run_id)
        kb = statistics.median(reload_weight(browser, f"{server.url}/runs/{run_id}") for _ in range(args.repeat))
        print(f"{f'flood {flood} events (finished)':36} {'':14} {'':8} {'':7} {'':7} {'':7} {kb:10.1f}")


if __name__ == "__main__":
    main()
