"""Zoom, pan and details in a real browser: gestures become a shareable URL, the server draws the window."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, cast
from urllib.parse import parse_qs, urlparse

import httpx2 as httpx
import pytest
from playwright.sync_api import Page

from app.web.documents import RunCreatedJson
from app.web.server import create_app
from tests.helpers import SLEEPS, TEST_MODULES, box_of, make_settings, serving, wait_for_status

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with serving(create_app(make_settings(), modules=TEST_MODULES)) as url:
        yield url


@pytest.fixture(scope="module")
def finished_run(server_url: str) -> str:
    """A finished race-counter run (main, two threads, their turns on a CPU): its page's URL."""
    with httpx.Client(base_url=server_url) as http:
        params = {"workers": 2, "iterations": 200_000, "window": "call"}
        run = cast(RunCreatedJson, http.post("/api/runs", json={"experiment": "race-counter", "params": params}).json())
        assert wait_for_status(http, run["id"])["status"] == "done"
    return f"{server_url}{run['url']}"


def axis_labels(page: Page) -> list[str]:
    return page.locator("#timeline .axis text").all_text_contents()


def window_of(url: str) -> tuple[float, float]:
    query = parse_qs(urlparse(url).query)
    return float(query["from_ms"][0]), float(query["to_ms"][0])


def drag_across_lanes(page: Page, start: float, end: float) -> None:
    """A mouse drag over the lanes from `start` to `end` (fractions of the time axis' width)."""
    box = box_of(page.locator("#timeline .axis .track"))
    y = box_of(page.locator("#lane-1"))["y"] + 10
    page.mouse.move(box["x"] + box["width"] * start, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * (start + end) / 2, y, steps=4)
    page.mouse.move(box["x"] + box["width"] * end, y, steps=4)
    page.mouse.up()


def test_dragging_across_the_lanes_zooms_into_a_shareable_window_and_reset_restores_the_run(
    page, finished_run, context
):
    page.goto(finished_run)
    whole = axis_labels(page)
    assert whole[0] == "0 ms"
    drag_across_lanes(page, 0.25, 0.30)
    page.wait_for_url(re.compile(r"from_ms=.*&to_ms="))
    from_ms, to_ms = window_of(page.url)
    span = whole_ms(whole)
    assert from_ms == pytest.approx(span * 0.25, rel=0.05) and to_ms == pytest.approx(span * 0.30, rel=0.05)
    zoomed = axis_labels(page)
    assert zoomed != whole and float(zoomed[0].split()[0]) >= from_ms
    assert page.locator(".overview-window").count() == 1
    page.screenshot(path="/tmp/zoom-window.png", full_page=True)

    shared = context.new_page()  # a teacher's link, opened fresh
    shared.goto(page.url)
    assert axis_labels(shared) == zoomed
    assert shared.locator("#lanes rect").count() == page.locator("#lanes rect").count()

    page.click("a.zoom-reset")
    page.wait_for_url(finished_run)
    assert axis_labels(page) == whole


def whole_ms(labels: list[str]) -> float:
    last = labels[-1].split()
    return float(last[0]) * (1000 if last[1] == "s" else 1)


def test_ctrl_wheel_zooms_about_the_pointer(page, finished_run):
    page.goto(finished_run)
    whole = whole_ms(axis_labels(page))
    box = page.locator("#lane-1").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + 10)
    page.keyboard.down("Control")
    page.mouse.wheel(0, -400)
    page.keyboard.up("Control")
    page.wait_for_url(re.compile(r"from_ms=.*&to_ms="))
    from_ms, to_ms = window_of(page.url)
    assert 0 < from_ms < whole * 0.6 < to_ms and to_ms - from_ms < whole * 0.8  # narrower, about the pointer
    assert axis_labels(page)[0] != "0 ms"


def widest_span(page: Page) -> dict[str, Any]:
    """The widest span drawn in a lane (not the on-CPU strip): its box and data."""
    best = page.evaluate("""() => {
        let best = null;
        for (const el of document.querySelectorAll('#lanes [data-n]:not(.c-oncpu)')) {
            const r = el.getBoundingClientRect();
            if (!best || r.width > best.w) best = {x: r.x + r.width / 2, y: r.y + r.height / 2, w: r.width,
                                                   name: el.dataset.n, s: el.dataset.s, e: el.dataset.e};
        }
        return best;
    }""")
    assert best is not None, "no span drawn in a lane"
    return cast(dict[str, Any], best)  # the object the script built


def test_a_click_on_a_span_opens_its_details(page, finished_run):
    page.goto(finished_run)
    span = widest_span(page)
    page.mouse.click(span["x"], span["y"])
    details = page.locator("#details")
    details.wait_for(state="visible")
    text = details.inner_text()
    assert span["name"] in text
    assert f"{span['s']} ms" in text and f"{span['e']} ms" in text
    assert "duration" in text and "lane" in text
    page.screenshot(path="/tmp/zoom-details.png", full_page=True)


def test_an_on_cpu_bin_reached_with_tab_opens_its_share_on_enter(page, finished_run):
    page.goto(finished_run)
    strip = page.locator("#lane-1 .c-oncpu").first
    strip.focus()
    page.keyboard.press("Enter")
    details = page.locator("#details")
    details.wait_for(state="visible")
    assert re.search(r"on a CPU( \d+%)? ", details.inner_text())
    page.keyboard.press("Escape")
    assert details.is_hidden()


def test_a_zoomed_live_run_says_its_updates_are_paused(page, server_url):
    with httpx.Client(base_url=server_url) as http:
        run = http.post("/api/runs", json=SLEEPS).json()
        wait_for_status(http, run["id"], statuses=("running",))
        page.goto(f"{server_url}{run['url']}?from_ms=0&to_ms=50")
        assert "zoomed: live updates paused, reset to follow" in page.locator(".zoom-bar").inner_text()
        http.post(f"/api/runs/{run['id']}/cancel")
