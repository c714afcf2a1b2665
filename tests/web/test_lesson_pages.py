"""A lesson through the real app and runner (app/web/lesson_routes.py, lesson_follow.py): the teacher starts and leads it, three
students join, answer and are locked out at the run, everyone runs the step, and the reveal's bars and the
class's results are the exact counts and the runs' own values; the export is the teacher's only; the websocket
brings each page the teacher's step."""

from __future__ import annotations

import csv
import io
import re

import pytest
from fastapi.testclient import TestClient

from app.web.auth import ADMIN_COOKIE, admin_cookie_value
from app.web.server import create_app
from tests.helpers import (
    RACE_STEP,
    SECRET,
    TEST_MODULES,
    client_cookie,
    make_settings,
    receive_text,
    result_of,
    until,
    wait_for_status,
)

TEACHER = {"authorization": "Bearer teacher-secret"}
STUDENTS = [client_cookie(n) for n in (1, 2, 3)]
LESSON = (
    """
title = "Races, quickly"
summary = "A race, then a lock."

"""
    + RACE_STEP
    + """
[[steps]]
title = "With a lock"
experiment = "lock-counter"
params = { workers = 2, iterations = 2000 }
"""
)


SIDE_BY_SIDE = """
title = "Side by side"

[[steps]]
title = "The race and its fix"
experiment = "race-counter"
params = { workers = 2, iterations = 2000, window = "call" }
compare = { experiment = "lock-counter" }

[[steps]]
title = "More threads"
experiment = "lock-counter"
params = { iterations = 2000 }
sweep = { workers = [2, 4] }
"""


@pytest.fixture
def lab(tmp_path):
    (tmp_path / "races.toml").write_text(LESSON)
    (tmp_path / "side.toml").write_text(SIDE_BY_SIDE)
    settings = make_settings(admin_token="teacher-secret", secret=SECRET, lessons_dir=tmp_path, max_concurrent_runs=1)
    with TestClient(create_app(settings, modules=TEST_MODULES), follow_redirects=False) as client:
        yield client


def teacher(lab: TestClient, action: str, **form: int) -> None:
    response = lab.post(f"/lessons/races/present/{action}", data=form, headers=TEACHER)
    assert response.status_code == 303, response.text


def found_in(text: str, pattern: str, flags: int = 0) -> re.Match[str]:
    """The first match of `pattern` in `text`, failing if there is none."""
    match = re.search(pattern, text, flags)
    assert match, f"{pattern!r} not found"
    return match


def bars(page: str, caption: str) -> dict[str, int]:
    """The bars of the histogram whose caption holds `caption`: label -> count."""
    figure = re.search(
        r'<figure class="histogram">\s*<figcaption>[^<]*' + re.escape(caption) + r"(.*?)</figure>", page, re.S
    )
    assert figure, f"no histogram {caption!r}"
    return {label: int(count) for label, count in re.findall(r'data-label="([^"]*)" data-count="(\d+)"', figure[1])}


def test_a_class_goes_through_a_step_and_the_reveal_counts_exactly_what_happened(lab):
    assert lab.post("/lessons/races/start", headers=STUDENTS[0]).status_code == 403  # only the teacher starts it
    assert lab.post("/lessons/races/start", headers=TEACHER).status_code == 303
    for student, name in zip(STUDENTS, ("Ada", "Grace", "")):
        assert "Join the lesson" in lab.get("/lesson", headers=student).text
        assert lab.post("/lesson/join", data={"name": name}, headers=student).status_code == 303
        assert "Join the lesson" not in lab.get("/lesson", headers=student).text
    refused = lab.post("/lesson/answer", data={"step": 1, "answer": "0"}, headers=STUDENTS[0])
    assert refused.status_code == 409 and "not open yet" in refused.json()["detail"]

    teacher(lab, "ask")
    for student, choice in zip(STUDENTS, ("0", "2", "2")):
        assert lab.post("/lesson/answer", data={"step": 1, "answer": choice}, headers=student).status_code == 303
    assert "3 of 3 answered" in lab.get("/lessons/races/present", headers=TEACHER).text
    teacher(lab, "run")  # the teacher's run locks the answers
    locked = lab.post("/lesson/answer", data={"step": 1, "answer": "1"}, headers=STUDENTS[0])
    assert locked.status_code == 409 and "locked" in locked.json()["detail"]

    teacher(lab, "everyone")
    for student in STUDENTS:
        assert lab.post("/lesson/run", data={"step": 1}, headers=student).status_code == 303
        assert lab.post("/lesson/run", data={"step": 1}, headers=student).status_code == 303  # the same run again
    record = lab.get("/lessons/races/present", headers=TEACHER).text
    run_ids = set(re.findall(r'href="/runs/([0-9a-f]+)"', record))
    own = {found_in(lab.get("/lesson", headers=s).text, r'Your run: <a href="/runs/([0-9a-f]+)"')[1] for s in STUDENTS}
    assert len(own) == 3
    actual = {run_id: result_of(wait_for_status(lab, run_id))["actual"] for run_id in own | run_ids}
    until(lambda: "3 of 3 finished" in lab.get("/lesson", headers=STUDENTS[0]).text, 10, "the class's runs shown done")

    teacher(lab, "reveal")
    page = lab.get("/lesson", headers=STUDENTS[1]).text
    assert bars(page, "Predictions") == {"yes": 1, "no, a little off": 0, "no, far off": 2}
    class_values = sorted(actual[run_id] for run_id in own)
    counted = bars(page, "runs: final counter")
    # three runs: a bar per distinct value, holding that value's runs; a bar of none is the teacher's value alone
    expected = {f"{value:,}".replace(",", "\u2009"): class_values.count(value) for value in class_values}
    assert {label: n for label, n in counted.items() if n} == expected
    assert "Each run lost a different number of updates." in page
    # each of the class's runs beside what the machine gave it, from its own budget (no student's name)
    table = page[page.index("Each run, with the CPU it had") :]
    for run_id in own:
        budget = lab.get(f"/api/runs/{run_id}").json()["cpu"]
        row = found_in(table, rf'<a href="/runs/{run_id}">{run_id}</a></td><td>(.*?)</tr>', re.S)[1]
        assert f"{budget['workers_busy_cores']:.1f} cores" in row
    assert '<p class="shared">' in page and "Ada" not in table

    exported = lab.get(f"/lessons/given/{session_of(lab)}/answers.csv", headers=TEACHER)
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted(r["answer"] for r in rows if r["kind"] == "answer") == ["no, far off", "no, far off", "yes"]
    assert {r["student"] for r in rows if r["kind"] == "answer"} == {"Ada", "Grace", "student 3"}
    assert sorted(int(r["value"]) for r in rows if r["kind"] == "run") == class_values  # as the runs' own results
    assert lab.get(f"/lessons/given/{session_of(lab)}/answers.csv", headers=STUDENTS[0]).status_code == 403


def session_of(lab: TestClient) -> str:
    return found_in(lab.get("/lessons/races/present", headers=TEACHER).text, r'href="/lessons/given/([0-9a-f]+)"')[1]


def test_every_page_following_the_lesson_gets_the_teachers_step(lab):
    lab.post("/lessons/races/start", headers=TEACHER)
    with lab.websocket_connect("/ws/lesson", headers=STUDENTS[0]) as ws:
        assert 'data-step="1"' in receive_text(ws)
        teacher(lab, "go", step=2)
        assert 'data-step="2"' in until(lambda: receive_text(ws), 5, "step 2 on the student's socket")
    signed_in = {"cookie": f"{ADMIN_COOKIE}={admin_cookie_value(lab.app.state.settings)}"}  # as /presenter sets it
    with lab.websocket_connect("/ws/lesson", headers=signed_in) as ws:
        assert 'id="lesson-class"' in receive_text(ws)


def test_a_step_out_of_range_and_an_unknown_action_are_refused_with_their_bounds(lab):
    lab.post("/lessons/races/start", headers=TEACHER)
    response = lab.post("/lessons/races/present/go", data={"step": 3}, headers=TEACHER)
    assert response.status_code == 409 and "step: from 1 to 2, got 3" in response.json()["detail"]
    response = lab.post("/lessons/races/present/dance", headers=TEACHER)
    assert response.status_code == 404 and "action: one of go" in response.json()["detail"]
    response = lab.post("/lesson/answer", data={"step": 1, "answer": "x" * 41}, headers=STUDENTS[0])
    assert response.status_code == 422
    assert lab.get("/lessons/nope").status_code == 404


def test_a_page_elsewhere_offers_the_way_back_while_a_lesson_is_live(lab):
    assert 'lesson-bar"' not in lab.get("/lesson/bar").text  # the slot, polled, and no bar in it
    lab.post("/lessons/races/start", headers=TEACHER)
    bar = lab.get("/lesson/bar").text
    assert "Back to the lesson" in bar and 'href="/lesson"' in bar


def test_a_step_that_compares_runs_both_and_a_sweep_step_runs_a_sweep_each_linked_on_every_page(lab):
    lab.post("/lessons/side/start", headers=TEACHER)
    assert lab.post("/lessons/side/present/run", headers=TEACHER).status_code == 303
    page = lab.get("/lesson", headers=STUDENTS[0]).text
    first, second = found_in(page, r'href="/compare\?runs=([0-9a-f]+),([0-9a-f]+)"').groups()
    race, lock = wait_for_status(lab, first), wait_for_status(lab, second)
    assert (race["experiment"], lock["experiment"]) == ("race-counter", "lock-counter")
    assert lock["params"]["iterations"] == 2000 and lock["params"]["workers"] == 2  # carried over from the step

    assert lab.post("/lessons/side/present/go", data={"step": 2}, headers=TEACHER).status_code == 303
    assert lab.post("/lessons/side/present/run", headers=TEACHER).status_code == 303
    sweep_id = found_in(lab.get("/lesson", headers=STUDENTS[0]).text, r'href="/sweeps/([0-9a-f]+)"')[1]
    sweep = lab.get(f"/api/sweeps/{sweep_id}").json()
    assert [point["params"]["workers"] for point in sweep["points"]] == [2, 4]


def test_a_students_page_starts_its_own_run_once_when_everyone_runs_it(lab):
    lab.post("/lessons/races/start", headers=TEACHER)
    with lab.websocket_connect("/ws/lesson", headers=STUDENTS[0]) as ws:
        assert "Run it yourself" not in receive_text(ws)
        teacher(lab, "everyone")
        asked = receive_text(ws)
        assert 'hx-post="/lesson/run" hx-trigger="load"' in asked  # the page starts its run by itself
        assert lab.post("/lesson/run", data={"step": 1}, headers=STUDENTS[1]).status_code == 303
        later = receive_text(ws)  # another student's run changed the view before this one's was recorded
        assert "Run it yourself" in later and 'hx-trigger="load"' not in later  # the button, not a second run
    assert 'hx-trigger="load"' in lab.get("/lesson", headers=STUDENTS[0]).text  # a page opened now starts it


def test_a_page_opened_before_the_lesson_starts_gets_it_and_the_join_form_over_its_socket(lab):
    page = lab.get("/lesson", headers=STUDENTS[0]).text
    assert "No lesson is live" in page and 'ws-connect="/ws/lesson"' in page
    with lab.websocket_connect("/ws/lesson", headers=STUDENTS[0]) as ws:
        assert "No lesson is live" in receive_text(ws)
        lab.post("/lessons/races/start", headers=TEACHER)
        started = receive_text(ws)
        assert 'data-step="1"' in started and "Join the lesson" in started


def test_a_refused_form_shows_a_browser_why_with_the_way_back(lab):
    browser = {"accept": "text/html,application/xhtml+xml", **STUDENTS[0]}
    lab.post("/lessons/races/start", headers=TEACHER)
    teacher(lab, "run")  # answers locked before the student's click arrives
    late = lab.post("/lesson/answer", data={"step": 1, "answer": "0"}, headers=browser)
    assert late.status_code == 409 and "locked" in late.text and '<a href="/lesson">Back to the lesson</a>' in late.text
    refused = lab.post("/lessons/races/present/go", data={"step": 9}, headers={"accept": "text/html", **TEACHER})
    assert refused.status_code == 409 and "step: from 1 to 2, got 9" in refused.text
    assert 'href="/lessons/races/present">Back to the lesson' in refused.text
    student = lab.get("/lessons/races/present", headers=browser)
    assert student.status_code == 403 and "Only the presenter leads a lesson" in student.text
