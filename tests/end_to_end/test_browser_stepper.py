"""The race stepper in a browser: a student steps a losing schedule by clicks, copies its URL, and a second page
opened at it shows the same state (a real uvicorn, headless Chromium, htmx swapping #stepper)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from app.web.server import create_app
from tests.helpers import make_settings, serving

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server_url():
    with serving(create_app(make_settings())) as url:
        yield url


def click(page: Page, selector: str) -> None:
    """Click a button of the stepper and wait for the step it asked for to be drawn."""
    before = int(page.locator("#step-count").inner_text())
    page.click(selector)
    expect(page.locator("#step-count")).not_to_have_text(str(before), timeout=20_000)


def step_until(page: Page, thread: int, done: str) -> None:
    """Step `thread` one instruction at a time until what it did last says `done`."""
    for _ in range(40):
        click(page, f"#thread-{thread} .step-one")
        if any(done in said for said in page.locator(".last-step li").all_inner_texts()):
            return
    raise AssertionError(f"thread {thread} never did {done!r}")


def seen(page: Page) -> tuple[str, str, list[str], str]:
    """What the student sees: the step count, the counter, each thread's highlighted instruction, what happened."""
    current = [page.locator(f"#thread-{t} tr.current").all_inner_texts() for t in (1, 2)]
    return (
        page.locator("#step-count").inner_text(),
        page.locator("#counter").inner_text(),
        [" ".join(c) for c in current],
        page.locator(".last-step").inner_text(),
    )


def test_a_student_steps_a_losing_schedule_by_clicks_and_shares_its_url(page, context, server_url):
    page.goto(f"{server_url}/experiments/race-counter")
    page.click("text=Step it by hand")
    page.wait_for_url("**/experiments/race-counter/step")
    step_until(page, 1, "thread 1 read 0")
    expect(page.locator("#thread-1 .thread-holds")).to_have_text("thread 1 read 0 and has not written it back yet.")
    step_until(page, 2, "thread 2 wrote -1")
    step_until(page, 1, "lost")
    expect(page.locator(".last-step")).to_have_text("thread 1 wrote 1 over thread 2's -1: one decrement lost")
    expect(page.locator("#counter")).to_have_text("1")
    shared = page.url  # pushed by each click: the schedule's own URL
    assert "s=1" in shared and "2" in shared.split("s=")[1]
    state = seen(page)
    other = context.new_page()
    other.goto(shared)
    assert seen(other) == state
    # Undo, then Redo: the same state again (replay is exact), at the same URL.
    click(page, "#undo")
    assert seen(page) != state
    click(page, "#redo")
    assert seen(page) == state
    assert page.url == shared
