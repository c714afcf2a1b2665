"""The Compare view in a real browser: one time axis for all its runs (measured in pixels), reached
from History's checkboxes, and a run still going drawn once it ends (htmx polling)."""

from __future__ import annotations

import httpx2 as httpx
import pytest

from app.web.server import create_app
from experiments import MODULES
from tests.helpers import make_settings, serving, wait_for_status

pytestmark = pytest.mark.browser

SHAPE_PX = """sel => [...document.querySelectorAll(sel)].map(el => {
    const box = el.getBoundingClientRect();
    return {left: box.left, width: box.width, ms: +el.dataset.e - +el.dataset.s};
})"""


@pytest.fixture(scope="module")
def site():
    """A server, and two finished quick runs: 40 ms and 240 ms of sleep."""
    modules = MODULES + ("tests.fixtures.experiment_quick", "tests.fixtures.experiment_sleeps")
    with serving(create_app(make_settings(), modules=modules)) as url:
        with httpx.Client(base_url=url) as client:
            ids = []
            for ms in (40, 240):
                ids.append(
                    client.post(
                        "/api/runs", json={"experiment": "test-quick", "params": {"workers": 1, "ms": ms}}
                    ).json()["id"]
                )
            for run_id in ids:
                assert wait_for_status(client, run_id)["status"] == "done"
        yield url, ids


def test_two_runs_share_one_time_axis_so_a_longer_sleep_is_drawn_longer(page, site):
    url, (short, long) = site
    page.goto(f"{url}/compare?runs={short},{long}")
    tracks = [page.locator(f"#c{i}-timeline .axis .track").bounding_box() for i in (0, 1)]
    assert tracks[0]["x"] == tracks[1]["x"] and tracks[0]["width"] == tracks[1]["width"]  # same place, same width
    (short_sleep,), (long_sleep,) = (page.evaluate(SHAPE_PX, f"#c{i}-lanes [data-n='sleep']") for i in (0, 1))
    # The same number of pixels per ms in both: the shorter run is not stretched to the full width.
    px_per_ms = [s["width"] / s["ms"] for s in (short_sleep, long_sleep)]
    assert px_per_ms[0] == pytest.approx(px_per_ms[1], rel=0.05)
    assert long_sleep["width"] / short_sleep["width"] == pytest.approx(long_sleep["ms"] / short_sleep["ms"], rel=0.05)
    assert long_sleep["width"] > 4 * short_sleep["width"]  # 240 ms against 40 ms of sleep
    # Each run's length bar, on that one axis: the short run's ends well before the long one's.
    bars = [page.locator(f"#c{i}-timeline .extent-run").bounding_box()["width"] for i in (0, 1)]
    assert bars[0] < bars[1] / 2
    ticks = [page.locator(f"#c{i}-timeline .axis text").all_inner_texts() for i in (0, 1)]
    assert ticks[0] == ticks[1]
    # The table beside them marks what differs, with a sign as well as a colour.
    ms_row = page.locator("table.compare-table tr.differs", has=page.locator("th", has_text="ms"))
    assert ms_row.first.locator("td.differs .differs-mark").inner_text() == "≠"


def test_ticking_two_runs_in_history_and_pressing_compare_opens_them_side_by_side(page, site):
    url, (short, long) = site
    page.goto(f"{url}/runs")
    page.check(f"input[name=runs][value='{short}']")
    page.check(f"input[name=runs][value='{long}']")
    page.click("form.compare-form button[type=submit]")
    page.wait_for_url("**/compare?runs=*")
    assert page.locator("section.timeline.compared").count() == 2
    heads = page.locator("table.compare-table thead th").all_inner_texts()
    assert sorted(h.split(": ")[1] for h in heads) == sorted([short, long])


def test_ticking_only_one_run_says_to_tick_two_to_four(page, site):
    url, (short, _) = site
    page.goto(f"{url}/runs")
    page.check(f"input[name=runs][value='{short}']")
    with page.expect_response("**/compare?runs=*") as response:
        page.click("form.compare-form button[type=submit]")
    assert response.value.status == 422
    assert "Tick 2 to 4 runs in the history and press Compare." in page.locator("main").inner_text()


def test_a_run_still_going_is_drawn_on_the_page_once_it_ends(page, site):
    url, (short, _) = site
    going = page.request.post(
        f"{url}/api/runs", data={"experiment": "test-sleeps", "params": {"workers": 1, "seconds": 2}}
    ).json()["id"]
    page.goto(f"{url}/compare?runs={short},{going}")
    assert page.locator(".compare-waiting").is_visible()
    assert page.locator("#c1-timeline").count() == 0
    page.wait_for_selector("#c1-timeline", timeout=20_000)  # swapped in by the poll, no reload
    assert page.locator(".compare-waiting").count() == 0
    assert page.locator("#compare[hx-trigger]").count() == 0  # all over: it asks no more
