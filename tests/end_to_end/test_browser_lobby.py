"""Sharing, in a real browser: "Live now" on the home page, joining a run late, the presenter's pin
appearing on a student's page, and a run page whose socket drops mid-run.

A real uvicorn server on a free port, headless Chromium; each student or teacher is its own
browser context (its own cookies). No reload happens unless a test says so: a marker set on
`window` must survive until the end.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest
from playwright.sync_api import Page

from app.web.documents import RunCreatedJson, RunView
from app.web.server import create_app
from experiments import MODULES
from tests.helpers import make_settings, serving, until

pytestmark = pytest.mark.browser

TOKEN = "teacher-token-for-tests"
TICK_1 = "#lanes g[id^='g'] title"  # finished spans only (open ones live in the open-N groups)


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    settings = make_settings(admin_token=TOKEN, max_concurrent_runs=2)
    with serving(create_app(settings, modules=MODULES + ("tests.fixtures.ticker_experiment",)), settings) as url:
        yield url


def start_ticker(page: Page, server_url: str, **params: Any) -> RunCreatedJson:
    params = {"workers": 2, "ticks": 10, "tick_ms": 30, "pause_ms": 0, **params}
    response = page.request.post(f"{server_url}/api/runs", data={"experiment": "ticker", "params": params})
    assert response.status == 201, response.text()
    return cast(RunCreatedJson, response.json())


def run_json(page: Page, server_url: str, run_id: str) -> RunView:
    return cast(RunView, page.request.get(f"{server_url}/api/runs/{run_id}").json())


def wait_until(page: Page, condition: Callable[[], object], timeout_s: float = 20.0, what: str = "condition") -> None:
    """`until`, letting Playwright process its events between two polls (route handlers run meanwhile)."""
    until(condition, timeout_s, what, every=0.05, sleep=lambda s: page.wait_for_timeout(s * 1000))


def titles(page: Page, prefix: str) -> int:
    """Finished spans drawn on the page whose tooltip starts with `prefix`."""
    return int(
        page.evaluate(
            "([sel, prefix]) => [...document.querySelectorAll(sel)].filter(t => t.textContent.startsWith(prefix)).length",
            [TICK_1, prefix],
        )
    )


def paused(page: Page, server_url: str, run_id: str, workers: int) -> bool:
    events = page.request.get(f"{server_url}/api/runs/{run_id}/events").json()
    return sum(1 for e in events if e["kind"] == "begin" and e.get("name") == "pause") == workers


def mark_no_reload(page: Page) -> None:
    page.evaluate("window.__noReload = true")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__noReload === true"), "the page was reloaded"


def test_a_run_appears_in_live_now_joins_late_with_the_timeline_so_far_and_leaves_when_done(page, server_url, browser):
    home = page
    home.goto(server_url)
    mark_no_reload(home)
    assert "Nothing is running" in home.locator("#live-now").inner_text()

    starter = browser.new_context()  # another student starts a run
    try:
        run = start_ticker(starter.new_page(), server_url, ticks=10, tick_ms=30, pause_ms=6000)
    finally:
        starter.close()
    entry = home.locator(f"#live-now [data-run='{run['id']}']")
    entry.wait_for(timeout=10_000)
    assert "Ticker (test only)" in entry.inner_text() and "ticks=10" in entry.inner_text()

    # A third viewer clicks the run in its own "Live now" once the run is in its pause: it must see
    # every span recorded so far at once (the page's render plus the socket's full render) ...
    joiner = home.context.new_page()
    joiner.goto(server_url)
    wait_until(joiner, lambda: paused(joiner, server_url, run["id"], 2), what="the run's pause")
    joiner.click(f"#live-now a[href='/runs/{run['id']}']")
    joiner.wait_for_url(f"**/runs/{run['id']}")
    mark_no_reload(joiner)
    wait_until(joiner, lambda: titles(joiner, "tick 1.") == 20, timeout_s=5, what="phase 1 on the late page")
    assert titles(joiner, "tick 2.") == 0 and run_json(joiner, server_url, run["id"])["status"] == "running"
    # ... then the rest live.
    joiner.wait_for_selector("#result th", timeout=20_000)
    assert titles(joiner, "tick 2.") == 20
    assert_not_reloaded(joiner)

    entry.wait_for(state="detached", timeout=10_000)  # gone from Live now once done
    assert_not_reloaded(home)


def test_the_presenters_pin_appears_on_a_students_home_page_live_and_students_cannot_pin(page, server_url, browser):
    student = page
    student.goto(server_url)
    mark_no_reload(student)
    assert student.locator("#pinned").inner_text().strip() == ""

    teacher_context = browser.new_context()
    try:
        teacher = teacher_context.new_page()
        teacher.goto(f"{server_url}/presenter")
        teacher.fill("input[name=token]", "wrong")
        teacher.click("button[type=submit]")
        assert "not the admin token" in teacher.content()
        teacher.fill("input[name=token]", TOKEN)
        teacher.click("button[type=submit]")
        teacher.wait_for_selector("text=You are signed in as the presenter")
        cookie = next(c for c in teacher_context.cookies() if c["name"] == "lab_admin")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

        run = start_ticker(teacher, server_url, ticks=15, tick_ms=40)
        teacher.goto(f"{server_url}{run['url']}")
        teacher.click("button.pin")
        teacher.wait_for_selector("button.unpin")

        pinned = student.locator(f"#pinned [data-run='{run['id']}']")
        pinned.wait_for(timeout=10_000)
        assert "Pinned by your teacher" in student.locator("#pinned").text_content()
        pinned.locator(".badge", has_text="done").wait_for(timeout=20_000)  # its status follows the run live

        # A student cannot pin: no controls on the run page, and the API says 403.
        student_run_page = student.context.new_page()
        student_run_page.goto(f"{server_url}{run['url']}")
        assert student_run_page.locator("button.pin").count() == 0
        refused = student.request.post(f"{server_url}/api/pin", data={"run_id": run["id"]})
        assert refused.status == 403 and "presenter" in refused.json()["detail"]
        student_run_page.close()

        teacher.click("button.unpin")
        student.locator("#pinned [data-run]").wait_for(state="detached", timeout=10_000)
        assert_not_reloaded(student)
    finally:
        teacher_context.close()


def test_a_run_page_whose_socket_drops_reconnects_without_gaps_or_duplicates(page, server_url, context):
    connections: list[list[str]] = []  # the messages of each socket the page opened, in order
    sockets = []

    def route(ws):
        server = ws.connect_to_server()
        received: list[str] = []
        connections.append(received)
        sockets.append((ws, server))

        def forward(message):
            received.append(message)
            ws.send(message)

        server.on_message(forward)

    page.route_web_socket("**/ws/runs/*", route)
    # Phase 1 runs 2.5 s, then a 1.5 s pause. The axis last grows at 1.9 s (to 2 s, app/drawing/placement.py)
    # and next at 4.8 s: a drop after 2.1 s is not papered over by a full render for a new axis.
    run = start_ticker(page, server_url, ticks=20, tick_ms=125, pause_ms=1500)
    page.goto(f"{server_url}{run['url']}")
    mark_no_reload(page)
    page.evaluate("htmx.config.wsReconnectDelay = () => 50")  # reconnect promptly (default: up to 1 s, random)
    wait_until(page, lambda: titles(page, "tick 1.") >= 34, what="2.1 s of the run drawn")

    # The connection drops abnormally mid-run (as when a network goes away): htmx reconnects by itself.
    ws, server = sockets[0]
    server.close()
    ws.close(code=1006)
    wait_until(page, lambda: len(connections) >= 2 and connections[1], what="a reconnect")
    # Its first message replaces the whole timeline (and status, result) rather than appending to it.
    first = connections[1][0]
    assert re.search(r'<section id="timeline" class="timeline" hx-swap-oob="true"[\s>]', first)
    for section in ('<div id="status"', '<section id="result"'):
        assert section in first

    # While the run stands still in its pause, the page holds exactly what a fresh load shows:
    # every span of phase 1 once (a duplicate or a gap would change the count).
    wait_until(page, lambda: paused(page, server_url, run["id"], 2), what="the run's pause")
    wait_until(page, lambda: titles(page, "tick 1.") >= 40, timeout_s=5, what="phase 1 drawn")
    assert titles(page, "tick 1.") == 40
    fresh = context.new_page()
    fresh.goto(f"{server_url}{run['url']}")
    wait_until(fresh, lambda: titles(fresh, "tick 1.") == 40, timeout_s=5, what="phase 1 on a fresh page")
    ids = page.evaluate("[...document.querySelectorAll('[id]')].map(e => e.id)")
    assert len(ids) == len(set(ids)), "an element drawn twice"

    page.wait_for_selector("#result th", timeout=30_000)
    fresh.wait_for_selector("#result th", timeout=30_000)
    assert_not_reloaded(page)
    final = context.new_page()
    final.goto(f"{server_url}{run['url']}")  # the finished run, rendered whole by the server
    for prefix in ("tick 1.", "tick 2.", "tick"):
        assert titles(page, prefix) == titles(final, prefix), prefix
    assert titles(page, "tick") == 80
    count = "#lanes g[id^='g'] > *"
    assert page.locator(count).count() == final.locator(count).count()
    assert page.locator("#result").inner_text() == final.locator("#result").inner_text()
