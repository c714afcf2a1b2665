"""What only a browser shows: a real uvicorn server, headless Chromium, htmx over a real websocket.

The CDN is unreachable here, so these tests also prove the page falls back to static/vendor/.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.settings import Settings
from app.web.server import create_app
from tests.helpers import serving

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server_url():
    with serving(create_app(Settings(htmx_source="cdn"))) as url:
        yield url


def test_run_race_counter_and_watch_lanes_and_result_arrive_live(page, server_url):
    page.goto(f"{server_url}/experiments/race-counter")
    page.fill("input[name=iterations]", "300000")
    page.select_option("select[name=window]", "call")
    page.click("button.run")
    page.wait_for_url("**/runs/*")
    # The page itself is rendered before the runner has reported anything; lanes arrive over the socket.
    page.wait_for_selector("#lane-1 .lane-label", timeout=15_000)
    page.wait_for_selector("#result .counter", timeout=30_000)
    labels = page.locator("#lanes .lane-label").all_inner_texts()
    assert [label.split()[0] for label in labels] == ["main", "increment-1", "decrement-1"]
    assert page.locator("#lane-1 .c-cpu").count() >= 1  # the thread's span, increment_with_window(300000)
    assert page.locator("#lane-1 rect.c-oncpu").count() >= 2  # and below it, its turns on a CPU
    # The result can be drawn a frame before the runner has exited and the status says done.
    page.wait_for_selector("#status.status-done", timeout=10_000)
    assert page.locator("#status .badge").inner_text() == "done"
    counter = page.locator("#result .counter").inner_text()
    assert counter.startswith("expected 0, got ")
    assert page.evaluate("typeof window.htmx") == "object"  # from the vendored copy


def test_spans_are_svg_elements_with_a_width(page, server_url):
    page.goto(f"{server_url}/experiments/lock-counter")
    page.fill("input[name=iterations]", "20000")
    page.click("button.run")
    page.wait_for_selector("#result .counter", timeout=30_000)
    rect = page.locator("#lane-1 rect").first
    assert rect.evaluate("r => r.namespaceURI") == "http://www.w3.org/2000/svg"
    assert rect.evaluate("r => r.getBBox().width") > 0
    assert "correct" in page.locator("#result .counter").inner_text()


def test_a_second_viewer_joining_later_sees_the_same_timeline(page, server_url, context):
    page.goto(f"{server_url}/experiments/race-counter")
    page.fill("input[name=iterations]", "100000")
    page.click("button.run")
    page.wait_for_selector("#result .counter", timeout=30_000)
    other = context.new_page()
    other.goto(page.url)
    # The live page's last frames may still be on their way (a busy machine): it ends up with the late joiner's lanes.
    expect(page.locator("#lanes rect")).to_have_count(other.locator("#lanes rect").count(), timeout=10_000)
    assert other.locator("#result .counter").inner_text() == page.locator("#result .counter").inner_text()
