"""What only a browser shows of a sweep: its page, polled by htmx, draws each point as its run finishes."""

from __future__ import annotations

import pytest

from app.web.server import create_app
from tests.helpers import TEST_MODULES, make_settings, serving

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server_url():
    with serving(create_app(make_settings(), modules=TEST_MODULES)) as url:
        yield url


def test_sweep_workers_from_the_experiment_page_and_watch_the_points_arrive(page, server_url):
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(f"{server_url}/experiments/cpu-threads-vs-processes")
    page.fill("input[name=first]", "15")
    page.fill("input[name=tasks]", "2")
    page.select_option("select[name=start_method]", "fork")
    page.uncheck("input[name=sweep_workers][value='8']")
    page.click("button.sweep")
    page.wait_for_url("**/sweeps/*")
    process = page.locator("g[data-figure=process_speedup] [data-run], g[data-figure=ideal] [data-run]")
    assert process.count() < 6  # drawn before its runs were over: the rest arrives by polling
    page.wait_for_selector(".sweep-status.status-finished", timeout=30_000)
    assert page.locator("g[data-figure=process_speedup] [data-run]").count() == 3
    assert page.locator("g[data-figure=thread_speedup] [data-run]").count() == 3
    assert page.locator(".sweep-table tbody tr").count() == 3
    assert not errors, errors  # no script or policy error on the way
