"""Fair-use limits: 429 naming the limit, its value and when to retry, on the API and the form, with real runs.

(Which limit refuses what, pure: tests/running/test_limits.py.)
"""

from __future__ import annotations

import httpx2 as httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.web.clients import COOKIE, signed
from tests.helpers import SLEEPS, wait_for_status


def as_client(c: TestClient, n: int) -> dict[str, str]:
    """The cookie the lab would have given client number `n` (signed with its key)."""
    assert isinstance(c.app, FastAPI)  # the lab's app, as lab_with made it
    return {"cookie": f"{COOKIE}={signed(c.app.state.client_key, f'{n:032x}')}"}


TEACHER = {"authorization": "Bearer teacher-secret"}


def start(c, n, extra=None):
    return c.post("/api/runs", json=SLEEPS, headers={**as_client(c, n), **(extra or {})})


def cancel_all(c, responses):
    ids = [r.json()["id"] for r in responses]
    for run_id in ids:
        c.post(f"/api/runs/{run_id}/cancel", headers=TEACHER)
    for run_id in ids:
        wait_for_status(c, run_id)


def assert_refused(response, limit, value):
    assert response.status_code == 429, response.text
    body = response.json()
    assert (body["limit"], body["value"]) == (limit, value)
    assert f"{limit}" in body["detail"] and "try again" in body["detail"]
    assert body["retry_after_s"] == int(response.headers["retry-after"]) >= 1


def test_a_full_queue_is_429(lab_with):
    c = lab_with(max_queued_runs=1)
    running, queued = start(c, 1), start(c, 2)
    assert running.status_code == queued.status_code == 201
    assert_refused(start(c, 3), "max_queued_runs", 1)
    assert_refused(start(c, 3, TEACHER), "max_queued_runs", 1)  # the queue binds the teacher too
    cancel_all(c, [queued])
    third = start(c, 3)
    assert third.status_code == 201
    cancel_all(c, [running, third])


def test_runs_in_flight_per_client_is_429_until_one_ends(lab_with):
    c = lab_with(max_runs_in_flight_per_client=2)
    mine = [start(c, 1), start(c, 1)]
    assert [r.status_code for r in mine] == [201, 201]
    assert_refused(start(c, 1), "max_runs_in_flight_per_client", 2)
    assert start(c, 2).status_code == 201  # another client is not affected
    cancel_all(c, mine[:1])
    again = start(c, 1)
    assert again.status_code == 201
    teacher = start(c, 1, TEACHER)  # the teacher is not held to per-client limits
    assert teacher.status_code == 201
    cancel_all(c, [mine[1], again, teacher])


def test_runs_per_minute_per_client_is_429_with_the_wait(lab_with):
    c = lab_with(max_runs_per_minute_per_client=2)
    started = [start(c, 1), start(c, 1)]
    cancel_all(c, started)
    refused = start(c, 1)
    assert_refused(refused, "max_runs_per_minute_per_client", 2)
    assert "max_runs_per_minute_per_client = 2" in refused.json()["detail"]
    assert 30 <= int(refused.headers["retry-after"]) <= 60  # the first run, seconds ago, leaves the window


def test_runs_per_minute_per_ip_is_the_backstop_for_new_cookies(lab_with):
    c = lab_with(max_runs_per_minute_per_ip=3)
    started = [start(c, n) for n in (1, 2, 3)]
    assert [r.status_code for r in started] == [201] * 3
    assert_refused(start(c, 4), "max_runs_per_minute_per_ip", 3)
    cancel_all(c, started)


def test_the_form_shows_the_refusal_on_the_experiment_page(lab_with):
    c = lab_with(max_runs_in_flight_per_client=2)
    c.get("/experiments/test-sleeps")  # as a browser does: the page (and its cookie) before the form's post
    ids = []
    for _ in range(2):
        response = c.post(
            "/experiments/test-sleeps/runs", data={"workers": "1", "seconds": "60"}, follow_redirects=False
        )
        assert response.status_code == 303
        ids.append(response.headers["location"].rsplit("/", 1)[-1])
    refused = c.post("/experiments/test-sleeps/runs", data={"workers": "1", "seconds": "60"}, follow_redirects=False)
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("text/html")
    assert int(refused.headers["retry-after"]) >= 1
    assert 'role="alert"' in refused.text and "max_runs_in_flight_per_client = 2" in refused.text
    assert '<form method="post"' in refused.text  # the page, with its form, not raw JSON
    for run_id in ids:
        c.post(f"/api/runs/{run_id}/cancel")
    for run_id in ids:
        wait_for_status(c, run_id)


QUICK = {"experiment": "thread-start-join", "params": {"duration1_ms": 0, "duration2_ms": 0}}


def posted_without_the_jar(c: TestClient, headers: dict[str, str]) -> httpx.Response:
    """A POST with only these headers: the cookie an earlier response set is not sent (TestClient keeps a jar)."""
    c.cookies.clear()
    return c.post("/api/runs", json=SLEEPS, headers=headers)


def test_forty_posts_with_a_new_forged_cookie_or_forwarded_address_each_are_admitted_as_often_as_forty_with_none(
    lab_with,
):
    admitted = {}
    ways = {
        "no cookie": lambda i: {},
        "forged cookie": lambda i: {"cookie": f"{COOKIE}={i:032x}"},  # what every cookie was before they were signed
        "forged signature": lambda i: {"cookie": f"{COOKIE}={i:032x}.{i:032x}"},
        "X-Forwarded-For": lambda i: {"x-forwarded-for": f"203.0.113.{i}"},
    }  # no proxy is trusted by default
    for way, headers in ways.items():
        c = lab_with(max_runs_in_flight_per_client=2, max_runs_per_minute_per_client=10)
        responses = [posted_without_the_jar(c, headers(i)) for i in range(40)]
        assert {r.status_code for r in responses} <= {201, 429}
        admitted[way] = [r for r in responses if r.status_code == 201]
        assert_refused(responses[-1], "max_runs_in_flight_per_client", 2)
        cancel_all(c, admitted[way])
    assert {way: len(runs) for way, runs in admitted.items()} == {way: 2 for way in ways}


def test_thirty_students_behind_one_address_each_with_the_cookie_the_lab_gave_start_their_runs(lab_with):
    # The default limits; the address's window (300 a minute) holds 30 students' 10 a minute each.
    c = lab_with(max_concurrent_runs=2, max_runs_in_flight_per_client=2, max_runs_per_minute_per_client=10)
    cookies = []
    for _ in range(30):  # each student's browser opens the home page first: the lab gives it its cookie
        c.cookies.clear()
        given = c.get("/").headers["set-cookie"].split(";")[0]
        cookies.append({"cookie": given})
    ids = []
    for student in cookies:  # each from the same address as all the others, at once (the queue holds 50)
        c.cookies.clear()
        response = c.post("/api/runs", json=QUICK, headers=student)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    assert all(wait_for_status(c, run_id, timeout=120)["status"] == "done" for run_id in ids)
