"""A distributed lab in a browser: a run started through one web replica is watched live through the other,
htmx over the other replica's websocket (docs/distributed.md). Real processes: two replicas, a runner node,
redis-server; headless Chromium."""

from __future__ import annotations

import pytest

from tests.helpers import post

pytestmark = pytest.mark.browser


def test_a_run_started_through_one_replica_fills_in_live_on_a_page_of_the_other(lab, page):
    web, node = lab
    a, b = web("a"), web("b")
    node("node-1")
    run_id = post(a, {"experiment": "test-sleeps", "params": {"workers": 1, "seconds": 3}})
    page.goto(f"{b.url}/runs/{run_id}")
    # Its spans come over B's socket while the run still runs on the node ...
    # A function, not an expression: Playwright polls an expression with eval, which the lab's CSP refuses.
    page.wait_for_function("() => document.querySelector('#timeline').innerHTML.includes('sleep(3)')", timeout=20_000)
    assert page.locator("#status .badge").inner_text() == "running"
    # ... then its end, without a reload.
    page.wait_for_selector("#status.status-done", timeout=20_000)
    assert "sleep(3)" in page.locator("#timeline").inner_html()
