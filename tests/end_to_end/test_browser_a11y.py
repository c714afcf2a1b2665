"""Accessibility: axe-core (WCAG 2 A and AA rules) finds nothing on the home, experiment, run and compare pages.

axe-core is vendored under tests/vendor/ (see its README: CI needs no npm) and injected by
Playwright through the DevTools protocol, which the page's CSP does not apply to; the pages are
checked with every <details> open, so the folded code and the timeline's table are checked too.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import cast

import httpx2 as httpx
import pytest
from playwright.sync_api import Page

from app.web.server import create_app
from tests.helpers import make_settings, serving, wait_for_status

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parent.parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
AXE_SRI = "sha256-KTSJmUUM3yhJqOcLeRL8LahahJ2jnA0NU5T1HUqe2Vw="  # package/sri-history.json of axe-core 4.14.1
RUNS = {
    "race-counter": {"workers": 2, "iterations": 50_000, "window": "call"},
    "mp-pipe": {"variant": "fixed", "messages": 3, "start_method": "fork"},
}


def test_the_vendored_axe_is_the_published_file():
    assert "sha256-" + base64.b64encode(hashlib.sha256(AXE.read_bytes()).digest()).decode() == AXE_SRI
    assert AXE.read_text()[:40].startswith("/*! axe v4.14.1")  # its license header kept


@pytest.fixture(scope="module")
def site():
    with serving(create_app(make_settings())) as url:
        with httpx.Client(base_url=url) as client:
            runs = {}
            for experiment, params in RUNS.items():
                run_id = client.post("/api/runs", json={"experiment": experiment, "params": params}).json()["id"]
                assert wait_for_status(client, run_id, timeout=60)["status"] == "done"
                runs[experiment] = run_id
        yield url, runs


def violations(page: Page, url: str) -> list[str]:
    page.goto(url)
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text())
    found = page.evaluate("""async () => {
        const results = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
        return results.violations.map(v => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')}`);
    }""")
    return cast(list[str], found)  # the script's list of strings


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/experiments/race-counter",
        "/experiments/mp-pipe",
        "/runs",
        "/presenter",
        "/experiments/race-counter/step?find=1",
        "/experiments/lock-counter/step?window=call&s=11111111111&thread=2&move=end",
    ],
)
def test_pages_have_no_axe_violations(page, site, path):
    url, _ = site
    assert violations(page, url + path) == []


@pytest.mark.parametrize("experiment", list(RUNS))
def test_a_finished_run_page_has_no_axe_violations(page, site, experiment):
    url, runs = site
    assert violations(page, f"{url}/runs/{runs[experiment]}") == []


def test_the_compare_view_has_no_axe_violations(page, site):
    url, runs = site
    assert violations(page, f"{url}/compare?runs={runs['race-counter']},{runs['mp-pipe']}") == []
    assert page.locator("section.timeline.compared").count() == 2 and page.locator("td.differs").count() > 0
    assert violations(page, f"{url}/compare?runs={runs['race-counter']}") == []  # the 422 page
    assert page.locator("h1").inner_text() == "Compare needs 2 to 4 runs"


def test_the_timeline_table_is_reached_by_keyboard_and_lists_each_lane(page, site):
    url, runs = site
    page.goto(f"{url}/runs/{runs['race-counter']}")
    summary = page.locator("details.timeline-text > summary")
    summary.focus()
    page.keyboard.press("Enter")
    assert page.locator("details.timeline-text").evaluate("d => d.open")
    captions = page.locator("table.lane-table caption").all_inner_texts()
    assert [c.split(" ")[0].rstrip(":") for c in captions] == ["main", "increment-1", "decrement-1"]
    rows = page.locator("table.lane-table").nth(1).locator("tbody tr").all_inner_texts()
    assert any("increment_with_window" in row and "computing" in row for row in rows)
