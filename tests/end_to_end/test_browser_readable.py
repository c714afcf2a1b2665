"""What only a browser shows of a readable run page: the output pane live and its click, the legend,
presentation mode on a projector (1024×768), and a phone (390×844: names above the lanes).

Needs Debian's `chromium` (installed by .ci/run) and Playwright.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

import httpx2
import pytest
from playwright.sync_api import Browser, Page

from app.web.documents import RunCreatedJson
from app.web.server import create_app
from experiments import MODULES
from tests.helpers import box_of, make_settings, serving

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serving(create_app(make_settings(), modules=MODULES + ("tests.fixtures.handoff_experiment",))) as url:
        yield url


def start(base_url: str, experiment: str, params: dict) -> str:
    response = httpx2.post(f"{base_url}/api/runs", json={"experiment": experiment, "params": params})
    assert response.status_code == 201, response.text
    return base_url + cast(RunCreatedJson, response.json())["url"]


def new_page(browser: Browser, width: int, height: int, present: bool | None = None, base_url: str = "") -> Page:
    page = browser.new_page(viewport={"width": width, "height": height})
    if present is not None:  # what the toggle remembers, set before the run page loads
        page.goto(base_url + "/")
        page.evaluate(f"localStorage.setItem('lab-present', '{'on' if present else 'off'}')")
    return page


# A point of an SVG shape in page pixels, whatever CSS zoom or scroll the page has.
AT = """([selector, i]) => {
    const el = document.querySelectorAll(selector)[i];
    const p = new DOMPoint(el.x1.baseVal.value, el.y1.baseVal.value).matrixTransform(el.getScreenCTM());
    return {x: p.x, y: p.y};
}"""
MARKS = """selector => [...document.querySelectorAll(selector)].map(rect => {
    const r = rect.getBoundingClientRect();
    return {x: r.left + r.width / 2, top: r.top, bottom: r.bottom};
})"""
ARROW_ENDS = """() => [...document.querySelectorAll('#arrows line')].map(line => {
    const m = line.getScreenCTM();
    const a = new DOMPoint(line.x1.baseVal.value, line.y1.baseVal.value).matrixTransform(m);
    const b = new DOMPoint(line.x2.baseVal.value, line.y2.baseVal.value).matrixTransform(m);
    return {x1: a.x, y1: a.y, x2: b.x, y2: b.y};
})"""
# Every element that shows text of its own, with the size it is drawn at (CSS zoom included).
TEXT_SIZES = """() => {
    const out = [];
    for (const el of document.body.querySelectorAll('*')) {
        if (['TITLE', 'SCRIPT', 'STYLE'].includes(el.tagName.toUpperCase())) continue;
        const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
        if (!own || !el.getClientRects().length) continue;
        const px = parseFloat(getComputedStyle(el).fontSize) * (el.currentCSSZoom || 1);
        out.push({tag: el.tagName, cls: String(el.className.baseVal ?? el.className), text: el.textContent.trim().slice(0, 30), px});
    }
    return out;
}"""


def test_the_output_pane_lists_printed_lines_and_a_click_marks_the_moment_on_the_timeline(base_url, browser):
    page = new_page(browser, 1280, 900)
    page.goto(start(base_url, "condition-dialogue", {"variant": "fixed"}))
    page.wait_for_selector("#status.status-done", timeout=20_000)
    hello = page.locator("#output-lines li", has_text="Speaker: Hello")
    assert hello.count() == 1
    assert hello.locator(".who").inner_text().strip() == "Speaker"
    lines = page.locator("#output-lines .said").all_inner_texts()
    assert set(lines) == {
        "Speaker: Hello",
        "Listener: Hi there",
        "Speaker: How are you?",
        "Listener: I'm good, thanks!",
        "Speaker: Let's discuss programming",
        "Listener: Sounds great!",
    }
    # The line wears its lane's colour: the swatch beside the Speaker lane's label.
    speaker_lane = page.locator("#lanes .lane").filter(has=page.locator(".lane-label", has_text="Speaker"))
    swatch = speaker_lane.locator(".swatch").evaluate("s => getComputedStyle(s).backgroundColor")
    assert hello.locator(".swatch").evaluate("s => getComputedStyle(s).backgroundColor") == swatch
    assert page.locator("svg.moment").count() == 0
    hello.click()
    classes = hello.get_attribute("class")
    assert classes is not None and "picked" in classes
    moment = page.evaluate(AT, ["svg.moment line", 0])
    lane_id = speaker_lane.get_attribute("id")
    prints = page.evaluate(MARKS, f"#{lane_id} rect.c-print")
    first = min(prints, key=lambda m: m["x"])  # Hello is the Speaker's first print (a merged mark starts there)
    assert abs(first["x"] - moment["x"]) < 2
    page.close()


def test_printed_lines_arrive_live_over_the_socket(base_url, browser):
    page = new_page(browser, 1280, 900)
    page.goto(
        start(base_url, "thread-start-join", {"join": "yes", "daemon": "no", "duration1_ms": 300, "duration2_ms": 4000})
    )
    page.wait_for_selector("#output-lines li:has-text('Starting Task 2')", timeout=15_000)
    assert page.locator("#status.status-running").count() == 1  # listed while the run still goes on
    assert page.locator("#output-lines li:has-text('Finished Task 2')").count() == 0
    page.wait_for_selector("#output-lines li:has-text('Total execution time')", timeout=15_000)  # no reload
    said = page.locator("#output-lines .said").all_inner_texts()
    total = next(i for i, line in enumerate(said) if line.startswith("Total execution time"))
    assert said.index("Finished Task 1") < said.index("Finished Task 2") < total
    page.close()


def test_the_legend_lists_only_the_categories_the_timeline_draws(base_url, browser):
    page = new_page(browser, 1280, 900)
    page.goto(start(base_url, "condition-dialogue", {"variant": "fixed"}))
    page.wait_for_selector("#status.status-done", timeout=20_000)
    page.reload()  # the page of a finished run: the whole timeline and legend at once
    drawn = set(
        page.evaluate("""() => [...document.querySelectorAll('#lanes [class*="c-"]')]
        .map(e => String(e.className.baseVal ?? e.className).split(' ').find(c => c.startsWith('c-')).slice(2))""")
    )
    drawn = {"notify" if c == "woken" else c for c in drawn}
    if page.locator("#lanes .cut").count():
        drawn.add("cut")
    if page.locator("#arrows line").count():
        drawn.add("arrow")
    legend = page.locator("#legend li").evaluate_all("lis => lis.map(li => li.dataset.key)")
    assert len(legend) == len(set(legend)) and set(legend) == drawn
    assert "sleep" not in legend and "cpu" not in legend  # nothing in this run sleeps or computes
    page.close()


def test_presentation_mode_fits_a_projector_with_big_text_and_lanes_and_aligned_arrows(base_url, browser):
    page = new_page(browser, 1024, 768, present=False, base_url=base_url)
    page.goto(start(base_url, "handoff", {"items": 6, "consume_ms": 15}))
    page.wait_for_selector("#status.status-done", timeout=20_000)
    small_before = [t for t in page.evaluate(TEXT_SIZES) if t["px"] < 16]
    assert small_before  # without it, the page has small text: the check below can fail
    page.click("button.present-toggle")
    assert page.evaluate("document.documentElement.classList.contains('present')")
    page.reload()  # remembered
    assert page.evaluate("document.documentElement.classList.contains('present')")
    assert page.locator("button.present-toggle").get_attribute("aria-pressed") == "true"
    small = [t for t in page.evaluate(TEXT_SIZES) if t["px"] < 16]
    assert small == []
    heights = page.eval_on_selector_all("#lanes .lane", "ls => ls.map(l => l.getBoundingClientRect().height)")
    assert heights and min(heights) >= 32
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    notifies, wokens = page.evaluate(MARKS, "#lanes rect.c-notify"), page.evaluate(MARKS, "#lanes rect.c-woken")
    arrows = page.evaluate(ARROW_ENDS)
    assert arrows
    for arrow in arrows:  # the zoomed lanes carry their arrows with them
        assert any(abs(m["x"] - arrow["x1"]) < 2 and m["top"] < arrow["y1"] < m["bottom"] for m in notifies)
        assert any(abs(m["x"] - arrow["x2"]) < 2 and m["top"] < arrow["y2"] < m["bottom"] for m in wokens)
    page.screenshot(path="/tmp/readable/test-presentation-1024x768.png")
    page.close()


# Each lane's name box and its track's, in page pixels.
LANE_BOXES = """() => [...document.querySelectorAll('#lanes .lane')].map(lane => {
    const name = lane.querySelector('.lane-label').getBoundingClientRect();
    const track = lane.querySelector('.track').getBoundingClientRect();
    return {name: {left: name.left, right: name.right, top: name.top, bottom: name.bottom},
            track: {left: track.left, right: track.right, top: track.top, bottom: track.bottom, width: track.width}};
})"""
PAGE_WIDTH = "document.scrollingElement.scrollWidth"


def phone(browser: Browser) -> Page:
    """A phone's screen: 390×844 CSS pixels at 3 device pixels each, touch, its viewport meta honoured."""
    return browser.new_page(
        viewport={"width": 390, "height": 844}, device_scale_factor=3, is_mobile=True, has_touch=True
    )


def finished(page: Page, base_url: str, experiment: str, params: dict) -> str:
    url = start(base_url, experiment, params)
    page.goto(url)
    page.wait_for_selector("#status.status-done", timeout=20_000)
    page.reload()  # the page of a finished run: the whole timeline at once
    return url


def assert_arrows_join_their_notify_and_woken(page: Page) -> None:
    notifies, wokens = page.evaluate(MARKS, "#lanes rect.c-notify"), page.evaluate(MARKS, "#lanes rect.c-woken")
    arrows = page.evaluate(ARROW_ENDS)
    assert arrows
    for arrow in arrows:
        assert any(abs(m["x"] - arrow["x1"]) < 2 and m["top"] < arrow["y1"] < m["bottom"] for m in notifies)
        assert any(abs(m["x"] - arrow["x2"]) < 2 and m["top"] < arrow["y2"] < m["bottom"] for m in wokens)


def test_on_a_phone_each_lanes_name_is_above_it_and_the_lane_takes_the_full_width(base_url, browser):
    page = phone(browser)
    run_url = finished(page, base_url, "handoff", {"items": 6, "consume_ms": 15})
    lanes = page.evaluate(LANE_BOXES)
    assert len(lanes) >= 3
    for lane in lanes:
        assert lane["name"]["bottom"] <= lane["track"]["top"] + 0.5  # the name above its lane, not beside it
        assert lane["track"]["width"] >= 0.9 * 390
        assert 0 <= lane["track"]["left"] and lane["track"]["right"] <= 390  # nothing cut off
    assert page.evaluate(PAGE_WIDTH) <= 390
    # The shapes go with their lanes: the notify arrows still join a notify to the wait it ended,
    # and each lane's on-CPU strip lies along the bottom of its own track.
    assert_arrows_join_their_notify_and_woken(page)
    for i, lane in enumerate(lanes):
        for strip in page.locator(f"#lane-{i} rect.c-oncpu").all():
            box = box_of(strip)
            assert lane["track"]["top"] <= box["y"] and box["y"] + box["height"] <= lane["track"]["bottom"] + 0.5
    assert page.locator("#lanes rect.c-oncpu").count() > 0
    page.screenshot(path="/tmp/readable/test-phone-390.png", full_page=True)
    # The other pages a student opens on a phone: none scrolls sideways either.
    other_url = finished(page, base_url, "handoff", {"items": 3, "consume_ms": 15})
    runs = ",".join(url.rsplit("/", 1)[1] for url in (run_url, other_url))
    for path in ("/", "/experiments/cpu-threads-vs-processes", "/runs", f"/compare?runs={runs}"):
        page.goto(base_url + path)
        assert page.evaluate(PAGE_WIDTH) <= 390, path
    compared = page.evaluate(LANE_BOXES.replace("#lanes", "#c0-lanes"))
    assert compared and all(lane["name"]["bottom"] <= lane["track"]["top"] + 0.5 for lane in compared)
    page.close()


def test_on_a_phone_a_sideways_swipe_across_the_lanes_zooms_in(base_url, browser):
    page = phone(browser)
    finished(page, base_url, "handoff", {"items": 6, "consume_ms": 15})
    axis = box_of(page.locator("#timeline .axis .track"))
    y = box_of(page.locator("#lane-1 .track"))["y"] + 10
    cdp = page.context.new_cdp_session(page)
    xs = [axis["x"] + axis["width"] * f for f in (0.2, 0.3, 0.4, 0.5, 0.6)]
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": xs[0], "y": y}]})
    for x in xs[1:]:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    with page.expect_navigation(timeout=10_000):
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    assert "from_ms=" in page.url and "to_ms=" in page.url  # the browser did not take the swipe as a scroll
    assert page.locator("#timeline.zoomed").count() == 1
    page.goto(page.url.split("?")[0])  # the whole run: its hint says how to zoom with a finger
    assert page.locator(".zoom-hint:visible").all_inner_texts() == [
        "swipe sideways across the lanes to zoom in, along the time axis to pan; tap a shape for details"
    ]
    assert page.evaluate(PAGE_WIDTH) <= 390
    page.close()


def test_on_a_wide_screen_the_names_stay_beside_their_lanes(base_url, browser):
    page = new_page(browser, 1280, 900)
    finished(page, base_url, "handoff", {"items": 6, "consume_ms": 15})
    lanes = page.evaluate(LANE_BOXES)
    assert len(lanes) >= 3
    for lane in lanes:
        assert lane["name"]["right"] <= lane["track"]["left"] + 0.5
        assert lane["name"]["top"] < lane["track"]["bottom"] and lane["track"]["top"] < lane["name"]["bottom"]
    assert_arrows_join_their_notify_and_woken(page)
    (hint,) = page.locator(".zoom-hint:visible").all_inner_texts()  # a mouse's words
    assert hint.startswith("drag across the lanes to zoom in; ctrl+wheel")
    page.close()
