"""A lesson in real browsers: the teacher leads a three-step lesson from the present page while three students
follow /lesson (one on a phone); each student's page shows the teacher's step within a second, the answers lock
at the teacher's run, everyone runs the step once, the reveal draws the exact counts, and a student who wandered
off to an experiment comes back with one click.

A real uvicorn server on a free port, headless Chromium; the teacher and each student are their own browser
context (their own cookies). A step's arrival on a student's page is stamped by the page itself (a
MutationObserver on the browser's clock), so three pages are timed at once, not one after another.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any, cast

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page

from app.web.server import create_app
from experiments import MODULES
from tests.helpers import RACE_STEP, make_settings, serving

pytestmark = pytest.mark.browser

TOKEN = "teacher-token-for-lesson-tests"
FOLLOW_S = 1.0  # the bound: a student's page shows the teacher's step within a second of the click
LESSON = (
    """
title = "Three quick steps"
summary = "A race, a lock, two threads."

"""
    + RACE_STEP
    + """
[[steps]]
title = "With a lock"
experiment = "lock-counter"
params = { workers = 2, iterations = 2000 }
measure = "actual"
measure_label = "final counter"

[steps.question]
text = "What will the counter be?"
unit = ""
tolerance = 0

[[steps]]
title = "Start and join"
experiment = "thread-start-join"
params = { duration1_ms = 50, duration2_ms = 50 }
"""
)

# Stamps, on the browser's clock, the first moment each step's number shows in the page's #lesson-step; and notes
# when the page's websocket is open.
STAMP_STEPS = """
window.__stepSeen = {};
const stamp = () => {
  const shown = document.querySelector('#lesson-step [data-step]');
  if (shown && !(shown.dataset.step in window.__stepSeen)) window.__stepSeen[shown.dataset.step] = Date.now();
};
new MutationObserver(stamp).observe(document, {childList: true, subtree: true});
document.addEventListener('DOMContentLoaded', stamp);
document.addEventListener('htmx:wsOpen', () => { window.__wsOpen = true; });
"""


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    lessons = tmp_path_factory.mktemp("lessons")
    (lessons / "quick.toml").write_text(LESSON)
    settings = make_settings(admin_token=TOKEN, lessons_dir=lessons, max_concurrent_runs=2)
    with serving(create_app(settings, modules=MODULES), settings) as url:
        yield url


class Pages:
    """The teacher's page and the students' pages, each in its own context; every console error kept."""

    def __init__(self, browser: Browser, url: str) -> None:
        self.url = url
        self.errors: list[str] = []
        self.contexts: list[BrowserContext] = []
        self.posts: list[tuple[str, str]] = []
        self.teacher = self.page(browser, "teacher", viewport={"width": 1280, "height": 900})
        self.students = [
            self.page(browser, "ada", viewport={"width": 1024, "height": 768}),
            self.page(browser, "grace", viewport={"width": 1280, "height": 800}),
            self.page(
                browser,
                "phone",
                viewport={"width": 390, "height": 844},
                device_scale_factor=3,
                is_mobile=True,
                has_touch=True,
            ),
        ]

    def page(self, browser: Browser, who: str, **options: Any) -> Page:
        context = browser.new_context(**options)
        context.add_init_script(STAMP_STEPS)
        self.contexts.append(context)
        page = context.new_page()
        page.on("console", lambda m: self.errors.append(f"{who}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"{who}: {e}"))
        page.on("request", lambda r: self.posts.append((who, r.url)) if r.method == "POST" else None)
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def pages(browser: Browser, server_url: str) -> Iterator[Pages]:
    p = Pages(browser, server_url)
    yield p
    p.close()


def click_and_time(teacher: Page, button: str, students: list[Page], step: int) -> list[float]:
    """The teacher clicks `button`; seconds until each student's page shows step `step` (over its websocket:
    the page is not reloaded)."""
    for student in students:
        student.evaluate("window.__stepSeen = {}; window.__noReload = true")
    clicked_ms = time.time() * 1000
    teacher.get_by_role("button", name=button).click()
    seen: list[float] = []
    for student in students:
        student.wait_for_function("n => window.__stepSeen[n] !== undefined", arg=str(step), timeout=10_000)
        seen.append((student.evaluate("n => window.__stepSeen[n]", str(step)) - clicked_ms) / 1000)
        assert student.evaluate("window.__noReload === true"), "the student's page was reloaded"
    return seen


def wait_for_sockets(students: list[Page]) -> None:
    """Until each student's page has its lesson websocket open (htmx's ws extension says so: htmx:wsOpen)."""
    for student in students:
        student.wait_for_function("() => window.__wsOpen === true")


def press(page: Page, target: Locator) -> None:
    """A tap on a touch screen (the phone), a click elsewhere."""
    if page.evaluate("navigator.maxTouchPoints > 0"):
        target.tap()
    else:
        target.click()


def bars(page: Page, scope: str) -> dict[str, int]:
    """The bars of the histograms in `scope`: label -> count."""
    counts = page.eval_on_selector_all(
        f"{scope} .hbar", "gs => Object.fromEntries(gs.map(g => [g.dataset.label, Number(g.dataset.count)]))"
    )
    return cast(dict[str, int], counts)  # the object the script built


def test_a_class_follows_a_three_step_lesson_live(pages):
    url, teacher, students = pages.url, pages.teacher, pages.students
    latencies: list[float] = []

    # The class opens the lab's lesson page before the teacher starts: the lesson appears on it by itself.
    for student in students:
        student.goto(f"{url}/lesson")
        student.get_by_role("heading", name="No lesson is live").wait_for()
        student.locator("#lesson-follow").wait_for()
    teacher.goto(f"{url}/presenter?token={TOKEN}")
    teacher.goto(f"{url}/lessons/quick")
    wait_for_sockets(students)
    latencies += click_and_time(teacher, "Start this lesson", students, 1)
    teacher.wait_for_url("**/lessons/quick/present")
    for student, name in zip(students, ("Ada", "Grace", "")):
        student.get_by_label("Your name").fill(name)
        student.get_by_role("button", name="Join the lesson").click()
        student.locator('#lesson-step [data-step="1"]').wait_for()
        assert student.get_by_role("button", name="Join the lesson").count() == 0
    teacher.locator("#lesson-class").get_by_text("0 of 3 answered").wait_for()  # the class, live on the teacher's page
    assert teacher.locator("#lesson-class .people li").all_inner_texts() == ["Ada", "Grace", "(no name)"]

    # Step 1: a choice question, answered, locked by the teacher's run, everyone runs it, revealed.
    teacher.get_by_role("button", name="Open the question").click()
    teacher.evaluate("window.__noReload = true")
    for student, choice in zip(students, ("yes", "no, far off", "no, far off")):
        press(student, student.locator("#lesson-step form.answer").get_by_role("button", name=choice))
        student.locator("#lesson-step .mine").get_by_text(choice).wait_for()
    teacher.locator("#lesson-class").get_by_text("3 of 3 answered").wait_for()  # over the teacher's websocket
    assert teacher.evaluate("window.__noReload === true"), "the teacher's page was reloaded"
    teacher.get_by_role("button", name="Run it (yours, on every screen)").click()
    for student in students:
        student.locator("#lesson-step .locked").get_by_text("Answers are locked").wait_for(timeout=5_000)
        assert student.locator("#lesson-step form.answer").count() == 0
        refused = student.request.post(f"{url}/lesson/answer", form={"step": "1", "answer": "0"}, headers=origin(url))
        assert refused.status == 409 and "locked" in refused.json()["detail"]
        student.locator("#lesson-step .teacher-run a").wait_for()  # the teacher's run, on every screen

    # Before everyone runs it, the teacher's panel says how long the class's runs will take, from their own run
    # once it has finished (live: the page was drawn while it ran).
    teacher.locator("#lesson-class .time-needed").get_by_text("The class's 3 runs: one at a time").wait_for()
    teacher.get_by_role("button", name="Everyone runs it").click()
    for student in students:  # each page starts its own run by itself, once
        student.locator("#lesson-step .own-run a").wait_for(timeout=10_000)
    teacher.locator("#lesson-class").get_by_text("3 of 3 finished").wait_for(timeout=30_000)
    own = {student.locator("#lesson-step .own-run a").inner_text() for student in students}
    assert len(own) == 3
    values = [student.locator("#lesson-step .own-run b").inner_text() for student in students]  # each one's result
    runs_asked = [who for who, posted in pages.posts if posted.endswith("/lesson/run")]
    assert sorted(runs_asked) == ["ada", "grace", "phone"], runs_asked  # each page asked for its run once
    teacher.get_by_role("button", name="Reveal").click()
    for student in students:
        student.locator("#lesson-step .reveal figure.histogram").first.wait_for(timeout=5_000)
        predictions = bars(student, "#lesson-step .reveal figure.histogram:first-of-type")
        assert predictions == {"yes": 1, "no, a little off": 0, "no, far off": 2}
        results = bars(student, "#lesson-step .reveal figure.histogram:nth-of-type(2)")  # one bar per value
        assert {label: n for label, n in results.items() if n} == Counter(values), (results, values)
    assert bars(teacher, "#lesson-class .reveal figure.histogram:first-of-type") == {
        "yes": 1,
        "no, a little off": 0,
        "no, far off": 2,
    }

    # Step 2: a number question.
    latencies += click_and_time(teacher, "Next →", students, 2)
    teacher.get_by_role("button", name="Open the question").click()
    for student, guess in zip(students, ("0", "0", "5")):
        student.locator("#lesson-step input[name=answer]").fill(guess)
        student.locator("#lesson-step form.answer").get_by_role("button", name="Answer").click()
        student.locator("#lesson-step .mine").get_by_text(guess, exact=True).wait_for()
    teacher.get_by_role("button", name="Run it (yours, on every screen)").click()
    for student in students:
        student.locator("#lesson-step .locked").wait_for(timeout=5_000)
    teacher.get_by_role("link", name="run ").wait_for()
    teacher.locator("#lesson-class").get_by_text("(done)").wait_for(timeout=30_000)
    teacher.get_by_role("button", name="Reveal").click()
    for student in students:
        student.locator("#lesson-step .reveal figure.histogram").first.wait_for(timeout=5_000)
        assert bars(student, "#lesson-step .reveal") == {"0": 2, "5": 1}

    # A student wanders off to the step's experiment and comes back with one click.
    wanderer = students[2]
    press(wanderer, wanderer.locator("#lesson-step .step-experiment a"))
    wanderer.wait_for_url("**/experiments/lock-counter")
    back = wanderer.get_by_role("link", name="Back to the lesson")
    back.wait_for()
    press(wanderer, back)  # the one click (a tap: it is the phone)
    wanderer.wait_for_url(f"{url}/lesson")
    wanderer.locator('#lesson-step [data-step="2"] ').wait_for()

    # Step 3: no question.
    latencies += click_and_time(teacher, "Next →", students, 3)
    teacher.get_by_role("button", name="Run it (yours, on every screen)").click()
    students[2].locator("#lesson-step .teacher-run a").wait_for(timeout=5_000)
    # Back to step 1 from the step list: the pages follow every move, not only forwards.
    latencies += click_and_time(teacher, "A race with a call in it", students, 1)

    # The end: every student's page says so, and the teacher lands on the session's record.
    teacher.get_by_role("button", name="End the lesson").click()
    teacher.wait_for_url("**/lessons/given/*")
    for student in students:
        student.get_by_role("heading", name="No lesson is live").wait_for(timeout=5_000)

    print(
        f"step changes on the students' pages: median {statistics.median(latencies):.3f} s, max {max(latencies):.3f} s"
    )
    assert max(latencies) < FOLLOW_S, latencies
    assert pages.errors == []


def origin(url: str) -> dict[str, str]:
    return {"origin": url}
