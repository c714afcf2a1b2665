"""Fair-use limits: 429 naming the limit, its value and when to retry, on the API and the form, with real runs.

(Which limit refuses what, pure: tests/test_limits.py.)
"""
from __future__ import annotations

from app.web.clients import COOKIE
from tests.helpers import SLEEPS, wait_for_status


def as_client(n: int) -> dict[str, str]:
    return {"cookie": f"{COOKIE}={n:032x}"}


TEACHER = {"authorization": "Bearer teacher-secret"}


def start(c, n, extra=None):
    return c.post("/api/runs", json=SLEEPS, headers={**as_client(n), **(extra or {})})


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
        response = c.post("/experiments/test-sleeps/runs", data={"workers": "1", "seconds": "60"}, follow_redirects=False)
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
