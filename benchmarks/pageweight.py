"""Page weight and time to first lane: what a run page costs to open, and how soon it draws.

    .venv/bin/python -m benchmarks.pageweight [--quick] [--repeat N]

Issue 5, target 7: the first load of a run page <= 100 KB transferred besides htmx, and the first
lane < 300 ms after Run on loopback. In headless Chromium: open an experiment's page, click Run,
and time from the click to the first `#lanes .lane` element (the POST, the redirect, the run
page, htmx, the websocket's first frame: whatever the user waits for). Bytes are the bodies the
page received (HTML, CSS, scripts other than the htmx files, websocket messages) until the run
ended, and a fresh load of the same page once it is over (no socket then: it is all in the HTML).
The flood row is the worst case: a finished run of 1 million events (5 000 with --quick).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import TYPE_CHECKING

from benchmarks.browser import chromium, wait_finished
from benchmarks.serve import Server, header, medians, serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Request

HTMX_FILES = ("htmx.min.js", "ws.min.js")


class Traffic:
    """Bytes a page received as transferred (headers and encoded bodies), htmx aside, by kind."""

    def __init__(self, page: Page) -> None:
        self.bytes = {"html": 0, "static": 0, "first frame": 0, "websocket": 0}
        page.on("requestfinished", self._finished)
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _finished(self, request: Request) -> None:
        if "/static/vendor/" in request.url or "htmx" in request.url:
            return
        sizes = request.sizes()
        kind = "html" if request.resource_type == "document" else "static"
        self.bytes[kind] += sizes["responseBodySize"] + sizes["responseHeadersSize"]

    def _frame(self, payload: str | bytes) -> None:
        size = len(payload.encode() if isinstance(payload, str) else payload)
        if not self.bytes["websocket"]:
            self.bytes["first frame"] = size
        self.bytes["websocket"] += size

    @property
    def first_load_kb(self) -> float:
        """The page, its CSS and scripts, and the websocket's first message (everything drawn so far)."""
        return (self.bytes["html"] + self.bytes["static"] + self.bytes["first frame"]) / 1000


# Timed in the pages themselves (epoch ms from performance.timeOrigin), not by polling from
# Playwright, whose round trips to the browser would be part of the figure.
WATCH_LANES = """
window.__lab = {};
new MutationObserver((_, observer) => {
  if (document.querySelector('#lanes .lane')) {
    window.__lab.lane = performance.timeOrigin + performance.now();
    observer.disconnect();
  }
}).observe(document, {childList: true, subtree: true});
window.addEventListener('load', () => { window.__lab.loaded = performance.timeOrigin + performance.now(); });
"""
CLICK_RUN = """() => {
  const at = performance.timeOrigin + performance.now();
  document.querySelector('button.run').click();
  return at;
}"""


def click_to_first_lane(browser: Browser, server: Server, experiment: str) -> dict[str, float]:
    """Milliseconds from the click on Run to: the run page loaded, the first lane drawn."""
    page = browser.new_page()
    page.add_init_script(WATCH_LANES)
    page.goto(f"{server.url}/experiments/{experiment}")
    page.wait_for_load_state("load")
    clicked = page.evaluate(CLICK_RUN)
    page.wait_for_url("**/runs/**")
    deadline = time.monotonic() + 30
    # Polled with evaluate (not wait_for_function, which the page's CSP forbids: it needs eval);
    # the times themselves were taken in the page, so the polling adds nothing to them.
    while not ((marks := page.evaluate("window.__lab || {}")).get("lane") and marks.get("loaded")):
        if time.monotonic() > deadline:
            raise TimeoutError("no lane 30 s after Run")
        page.wait_for_timeout(20)
    times = {"page": marks["loaded"] - clicked, "lane": marks["lane"] - clicked}
    wait_finished(page)
    page.close()
    return times


def first_load(browser: Browser, url: str, live: bool) -> dict[str, float]:
    """KB a fresh browser (empty cache) receives opening `url`: html, static, first frame, total."""
    page = browser.new_page()
    traffic = Traffic(page)
    page.goto(url)
    page.wait_for_load_state("load")
    if live:
        page.wait_for_selector("#lanes .lane", timeout=30_000)
        wait_finished(page)
    page.close()
    kb = {k: v / 1000 for k, v in traffic.bytes.items()}
    return {**kb, "total": traffic.first_load_kb}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    flood = 5_000 if args.quick else 1_000_000
    experiments = ("race-counter",) if args.quick else ("race-counter", "thread-pool")
    if args.quick:
        args.repeat = 1
    print(header(f"headless Chromium, median of {args.repeat}"))
    print(
        f"{'run page':28} {'first lane ms':>13} {'(page)':>7} {'first load KB':>14} {'(html':>6} "
        f"{'static':>7} {'frame)':>7} {'ws to end KB':>13} {'over, KB':>9}"
    )
    with serving() as server, chromium() as browser:
        defaults = {
            e["id"]: {k: p["default"] for k, p in e["params"].items()}
            for e in server.request("GET", "/api/experiments")
        }
        for experiment in experiments:
            rows = []
            for _ in range(args.repeat):
                ms = click_to_first_lane(browser, server, experiment)
                run_id = server.start_run(experiment, defaults[experiment])
                live = first_load(browser, f"{server.url}/runs/{run_id}", live=True)
                over = first_load(browser, f"{server.url}/runs/{run_id}", live=False)
                rows.append(
                    (
                        ms["lane"],
                        ms["page"],
                        live["total"],
                        live["html"],
                        live["static"],
                        live["first frame"],
                        live["websocket"],
                        over["total"],
                    )
                )
            m = medians(rows)
            print(
                f"{experiment:28} {m[0]:13.0f} {m[1]:7.0f} {m[2]:14.1f} {m[3]:6.1f} {m[4]:7.1f} "
                f"{m[5]:7.1f} {m[6]:13.1f} {m[7]:9.1f}"
            )
        run_id = server.start_run("flood", {"events": flood, "lanes": 4, "gap_ns": 1_000, "mix": "mixed"})
        server.wait_done(run_id)
        kb = statistics.median(
            first_load(browser, f"{server.url}/runs/{run_id}", live=False)["total"] for _ in range(args.repeat)
        )
        print(f"{f'flood {flood} events':28} {'':13} {'':7} {'':14} {'':6} {'':7} {'':7} {'':13} {kb:9.1f}")
    print(
        "\nfirst lane: click on Run → the first lane drawn, timed in the pages (page: the run page's load "
        "event). first load: a fresh browser opening the run page while it runs: HTML, CSS and "
        "scripts (htmx aside) and the websocket's first message, as transferred; ws to end: every message "
        "until the run ended. over: the page of the finished run (all drawn in the HTML, no socket)."
    )


if __name__ == "__main__":
    main()
