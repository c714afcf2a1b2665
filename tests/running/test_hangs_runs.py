"""Hangs are results: a run whose live workers are all blocked ends `hung`, saying who waits on what.

Through the API, with real runner processes (the predicate itself, pure: tests/model/test_hangs.py).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

from app.settings import Settings
from app.web.documents import RunView
from app.web.server import create_app
from experiments import MODULES
from tests.helpers import alive_in_group, make_settings, result_of, wait_for_status

TEST_MODULES = MODULES + ("tests.fixtures.deadlock_experiment", "tests.fixtures.sleepy_experiment")


def client(**settings: Any) -> TestClient:
    return TestClient(create_app(make_settings(**settings), modules=TEST_MODULES))


def run_to_the_end(client: TestClient, experiment: str, params: dict[str, Any], limit_s: float = 20) -> RunView:
    run = client.post("/api/runs", json={"experiment": experiment, "params": params}).json()
    return wait_for_status(client, run["id"], timeout=limit_s)


def test_a_deadlock_ends_hung_soon_naming_both_threads_and_their_locks_and_kills_the_group():
    with client(hang_after_s=0.5, run_timeout_s=30) as c:
        started = time.monotonic()
        body = run_to_the_end(c, "deadlock", {"workers": 2})
        took = time.monotonic() - started
        assert body["status"] == "hung", body
        assert took < 10, "found long before the time limit"
        blocked = result_of(body)["blocked"]
        assert {"worker": "left", "waiting_on": "Lock.acquire b"} in blocked
        assert {"worker": "right", "waiting_on": "Lock.acquire a"} in blocked
        assert {"worker": "helper", "waiting_on": "Pipe.recv"} in blocked
        assert {"worker": "main", "waiting_on": "Thread.join"} in blocked
        events = c.get(f"/api/runs/{body['id']}/events").json()
        runner = next(e["value"]["pid"] for e in events if e["kind"] == "header")
        helper = next(e["value"]["pid"] for e in events if e["kind"] == "lane" and e["worker"] == "helper")
        assert helper != runner
        assert alive_in_group(runner) == []
        page = c.get(body["url"]).text
        assert "never ended (the run hung)" in page


def test_a_long_sleep_is_not_a_hang():
    with client(hang_after_s=0.3) as c:
        body = run_to_the_end(c, "sleepy", {"ms": 1200})
    assert body["status"] == "done", body
    assert "blocked" not in result_of(body)


def test_a_sleep_past_the_time_limit_times_out_rather_than_hangs():
    with client(hang_after_s=0.3, run_timeout_s=1.0) as c:
        body = run_to_the_end(c, "sleepy", {"ms": 30_000})
    assert body["status"] == "timed_out", body
    assert body["result"] is None


def test_hang_detection_waits_three_seconds_of_silence_by_default():
    assert Settings().hang_after_s == 3.0
