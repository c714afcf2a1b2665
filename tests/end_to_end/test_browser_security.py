"""The page under its Content-Security-Policy, in Chromium: it still works, and the policy bites.

Served like `python -m app` serves it (uvicorn with app/__main__.py's options), with the
htmx CDN in the policy (unreachable here: the page falls back to static/vendor/).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page

from app.web.server import create_app
from tests.helpers import TEST_MODULES, make_settings, serving

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    settings = make_settings(htmx_source="cdn", max_concurrent_runs=1)
    with serving(create_app(settings, modules=TEST_MODULES), settings) as url:
        yield url


def csp_violations(page: Page) -> list[str]:
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text) if "Content Security Policy" in m.text else None)
    return messages


def test_a_run_works_under_the_policy_with_no_violation(page, server_url):
    violations = csp_violations(page)
    page.goto(f"{server_url}/")  # the home page and its live lobby socket, under the same policy
    page.wait_for_function("() => window.htmx !== undefined")  # a function: an expression is polled with eval
    response = page.goto(f"{server_url}/experiments/race-counter")
    assert "script-src 'self' https://cdn.jsdelivr.net/npm/htmx.org@" in response.headers["content-security-policy"]
    page.fill("input[name=iterations]", "20000")
    page.click("button.run")
    page.wait_for_url("**/runs/*")
    page.wait_for_selector("#status.status-done", timeout=30_000)
    assert page.locator("#result .counter").inner_text().startswith("expected 0, got ")
    assert page.locator("#lanes .lane-label").count() == 3  # drawn by htmx over the websocket
    assert violations == []


def test_the_policy_blocks_an_inline_script(page, server_url):
    violations = csp_violations(page)
    page.goto(f"{server_url}/")
    with pytest.raises(PlaywrightError):
        page.add_script_tag(content="window.injected = 1")
    assert page.evaluate("typeof window.injected") == "undefined"
    assert any("inline script" in v or "script-src" in v for v in violations)


def test_the_owner_cancels_a_queued_run_from_its_page_which_shows_its_place(page, server_url):
    page.goto(f"{server_url}/experiments/test-sleeps")
    page.fill("input[name=seconds]", "60")
    page.click("button.run")
    page.wait_for_url("**/runs/*")
    first = page.url
    page.goto(f"{server_url}/experiments/test-sleeps")
    page.click("button.run")
    page.wait_for_url("**/runs/*")
    assert page.url != first
    assert "1st in line, 1 run ahead of it executing" in page.locator("#status").inner_text()
    page.click("button.cancel-run")
    page.wait_for_selector("#status.status-cancelled", timeout=10_000)
    assert not page.locator("button.cancel-run").is_visible()  # the run is over: the button goes
    page.goto(first)
    page.click("button.cancel-run")
    page.wait_for_selector("#status.status-cancelled", timeout=10_000)
