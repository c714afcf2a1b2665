"""What only a browser shows: htmx applying the live frames, and arrows landing on their marks.

Needs Debian's `chromium` (installed by .ci/run) and Playwright.
"""

from __future__ import annotations

import httpx2
import pytest

from app.drawing.placement import ROW_HEIGHT
from app.settings import Settings
from app.web.server import create_app
from experiments import MODULES
from tests.helpers import serving

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def base_url():
    with serving(
        create_app(Settings(htmx_source="local"), modules=MODULES + ("tests.fixtures.handoff_experiment",))
    ) as url:
        yield url


@pytest.fixture
def browser_page(browser):
    # pytest-playwright's browser (launched with Debian's chromium, see tests/end_to_end/test_browser.py).
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    yield page
    page.close()


COUNTS = """() => ({
    arrows: document.querySelectorAll('#arrows line').length,
    steps: document.querySelectorAll('#series rect').length,
    cut: document.querySelectorAll('.cut').length,
    lanes: document.querySelectorAll('#lanes .lane').length,
    boxes: document.querySelectorAll('#lanes rect').length,
})"""

# Each arrow's ends in page pixels, and the woken mark nearest to its head.
ARROW_ENDS = """() => [...document.querySelectorAll('#arrows line')].map(line => {
    const box = line.ownerSVGElement.getBoundingClientRect();
    return {x1: box.left + line.x1.baseVal.value, y1: box.top + line.y1.baseVal.value,
            x2: box.left + line.x2.baseVal.value, y2: box.top + line.y2.baseVal.value};
})"""
MARKS = """category => [...document.querySelectorAll('#lanes rect.c-' + category)].map(rect => {
    const r = rect.getBoundingClientRect();
    return {x: r.left + r.width / 2, top: r.top, bottom: r.bottom};
})"""


def test_live_frames_draw_what_a_reload_draws_and_arrows_land_on_their_marks(base_url, browser_page):
    page = browser_page
    params = {"items": 12, "consume_ms": 15}  # items pile up: the series' top grows while it runs
    run = httpx2.post(f"{base_url}/api/runs", json={"experiment": "handoff", "params": params}).json()
    page.goto(base_url + run["url"])
    page.wait_for_selector("#status.status-done", timeout=20_000)
    live = page.evaluate(COUNTS)
    assert live["arrows"] >= 1 and live["steps"] >= 12 and live["cut"] >= 1
    page.reload()
    assert page.evaluate(COUNTS) == live

    lanes = page.eval_on_selector_all("#lanes .lane", "ls => ls.map(l => l.getBoundingClientRect().top)")
    assert [round(b - a) for a, b in zip(lanes, lanes[1:])] == [ROW_HEIGHT] * (len(lanes) - 1)
    notifies, wokens = page.evaluate(MARKS, "notify"), page.evaluate(MARKS, "woken")
    for arrow in page.evaluate(ARROW_ENDS):
        assert any(abs(m["x"] - arrow["x1"]) < 2 and m["top"] < arrow["y1"] < m["bottom"] for m in notifies)
        assert any(abs(m["x"] - arrow["x2"]) < 2 and m["top"] < arrow["y2"] < m["bottom"] for m in wokens)
