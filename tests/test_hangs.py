"""Hangs are results: a run whose live workers are all blocked ends `hung`, saying who waits on what."""
from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from app.model.events import Event
from app.model.hangs import blocked_workers
from app.model.timeline import Timeline
from app.settings import Settings
from app.web.server import create_app
from experiments import MODULES
from tests.conftest import make_settings
from tests.runner_helpers import alive_in_group

MS = 1_000_000
TEST_MODULES = MODULES + ("tests.deadlock_experiment", "tests.sleepy_experiment")


# -- the predicate, over a timeline -----------------------------------------------------------

def timeline_of(*events: tuple) -> Timeline:
    timeline = Timeline()
    for kind, ms, worker, *rest in events:
        timeline.apply(Event(kind, ms * MS, worker, *rest))
    return timeline


def test_every_live_lane_blocked_in_a_wait_is_a_hang_naming_what_each_waits_on():
    timeline = timeline_of(
        ("begin", 0, "main", "Thread.join", "wait"),
        ("begin", 1, "Speaker", "hold condition", "hold"),
        ("begin", 2, "Speaker", "Condition.wait", "wait"),
        ("begin", 3, "Listener", "Condition.wait", "wait"),
        ("begin", 4, "finished", "work", "run"),
        ("end", 5, "finished"),
    )
    assert [(b.worker, b.waiting_on, b.since_ms) for b in blocked_workers(timeline)] == [
        ("main", "Thread.join", 0), ("Speaker", "Condition.wait", 2), ("Listener", "Condition.wait", 3),
    ]


@pytest.mark.parametrize("category", ["sleep", "run", "cpu", "hold", "io"])
def test_a_lane_sleeping_or_working_is_progress_not_a_hang(category):
    timeline = timeline_of(
        ("begin", 0, "main", "Thread.join", "wait"),
        ("begin", 1, "worker", "something", category),
    )
    assert blocked_workers(timeline) == []


def test_a_wait_that_returned_is_not_blocking_any_more():
    timeline = timeline_of(
        ("begin", 0, "worker", "hold a", "hold"),
        ("begin", 1, "worker", "Lock.acquire b", "wait"),
        ("end", 2, "worker"),
    )
    assert blocked_workers(timeline) == []


def test_no_live_lane_is_no_hang():
    assert blocked_workers(timeline_of(("begin", 0, "main", "x", "run"), ("end", 1, "main"))) == []
    assert blocked_workers(Timeline()) == []


# -- through the API, with real runner processes ----------------------------------------------

def client(**settings) -> TestClient:
    return TestClient(create_app(make_settings(**settings), modules=TEST_MODULES))


def run_to_the_end(client: TestClient, experiment: str, params: dict, limit_s: float = 20) -> dict:
    run = client.post("/api/runs", json={"experiment": experiment, "params": params}).json()
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        body = client.get(f"/api/runs/{run['id']}").json()
        if body["status"] not in ("queued", "running"):
            return body
        time.sleep(0.05)
    raise AssertionError(f"{experiment} still running after {limit_s} s")


def test_a_deadlock_ends_hung_soon_naming_both_threads_and_their_locks_and_kills_the_group():
    with client(hang_after_s=0.5, run_timeout_s=30) as c:
        started = time.monotonic()
        body = run_to_the_end(c, "deadlock", {"workers": 2})
        took = time.monotonic() - started
        assert body["status"] == "hung", body
        assert took < 10, "found long before the time limit"
        blocked = body["result"]["blocked"]
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
    assert "blocked" not in body["result"]


def test_a_sleep_past_the_time_limit_times_out_rather_than_hangs():
    with client(hang_after_s=0.3, run_timeout_s=1.0) as c:
        body = run_to_the_end(c, "sleepy", {"ms": 30_000})
    assert body["status"] == "timed_out", body
    assert body["result"] is None


def test_hang_detection_waits_three_seconds_of_silence_by_default():
    assert Settings().hang_after_s == 3.0
