"""Crashes, kills, cancels and timeouts end the run with the right status and leave no process behind."""

from __future__ import annotations

import logging
import os
import signal
import time

import httpx2 as httpx
from fastapi.testclient import TestClient

from app.web.server import create_app
from tests.helpers import (
    TEST_MODULES,
    AppProcess,
    alive,
    make_settings,
    post_sleeps,
    result_of,
    start_sleeper,
    until,
    wait_for_status,
)
from tests.runner_helpers import run_experiment


def test_an_experiment_that_raises_fails_with_its_error_shown(client):
    run_id = client.post("/api/runs", json={"experiment": "test-raises", "params": {"workers": 1}}).json()["id"]
    run = wait_for_status(client, run_id)
    assert run["status"] == "failed"
    assert run["error"] == "ZeroDivisionError: division by zero"  # the one place that says why
    assert result_of(run)["error"]["type"] == "ZeroDivisionError"
    assert "1 / 0" in result_of(run)["error"]["traceback"]
    page = client.get(f"/runs/{run_id}").text
    assert "ZeroDivisionError: division by zero" in page
    events = client.get(f"/api/runs/{run_id}/events").json()
    assert any(e.get("name") == "before the error" for e in events)  # what was recorded is kept


def test_a_runner_killed_with_sigkill_fails_the_run_and_leaves_no_orphans(client):
    run_id, runner_pid, child_pid = start_sleeper(client)
    assert alive(child_pid)
    os.kill(runner_pid, signal.SIGKILL)
    run = wait_for_status(client, run_id, timeout=10)
    assert run["status"] == "failed"
    assert run["error"] is not None and "SIGKILL" in run["error"]
    assert not alive(child_pid) and not alive(runner_pid)
    assert client.get("/healthz").json() == {"status": "ok"}
    events = client.get(f"/api/runs/{run_id}/events").json()
    assert any(e.get("name", "").startswith("child pid") for e in events)


def test_cancel_ends_the_run_within_two_seconds_and_kills_its_processes(client):
    run_id, runner_pid, child_pid = start_sleeper(client)
    started = time.monotonic()
    assert client.post(f"/api/runs/{run_id}/cancel").status_code == 200
    run = wait_for_status(client, run_id, timeout=5)
    assert time.monotonic() - started < 2.0
    assert run["status"] == "cancelled"
    assert not alive(child_pid) and not alive(runner_pid)
    events = client.get(f"/api/runs/{run_id}/events").json()
    # The sleep span was still open: it is kept, and the runner flushed a "terminated" mark.
    assert any(e["kind"] == "begin" and e["name"] == "sleep(60)" for e in events)
    assert any(e["kind"] == "instant" and e["name"] == "terminated" for e in events)


def test_a_queued_run_can_be_cancelled_before_it_starts():
    app = create_app(make_settings(max_concurrent_runs=1), modules=TEST_MODULES)
    with TestClient(app) as client:
        first, runner_pid, child_pid = start_sleeper(client)
        second = post_sleeps(client)
        assert client.get(f"/api/runs/{second}").json()["status"] == "queued"
        client.post(f"/api/runs/{second}/cancel")
        assert wait_for_status(client, second, timeout=2)["status"] == "cancelled"
        client.post(f"/api/runs/{first}/cancel")
        wait_for_status(client, first, timeout=5)
    assert not alive(child_pid)


def test_a_run_past_the_time_limit_times_out_and_keeps_its_events():
    app = create_app(make_settings(run_timeout_s=1.5), modules=TEST_MODULES)
    with TestClient(app) as client:
        run_id, runner_pid, child_pid = start_sleeper(client)
        run = wait_for_status(client, run_id, timeout=10)
        assert run["status"] == "timed_out"
        assert run["error"] is not None and "1.5 s" in run["error"]
        assert not alive(child_pid) and not alive(runner_pid)
        page = client.get(f"/runs/{run_id}").text
        assert "timed out" in page and "never ended" in page


def test_server_shutdown_kills_running_experiments():
    app = create_app(make_settings(), modules=TEST_MODULES)
    with TestClient(app) as client:
        run_id, runner_pid, child_pid = start_sleeper(client)
    # Leaving the block runs the app's shutdown.
    assert not alive(child_pid) and not alive(runner_pid)


def test_a_runner_that_cannot_start_fails_the_run_instead_of_leaving_it_queued(caplog):
    app = create_app(make_settings(python="/nonexistent/python3"), modules=TEST_MODULES)
    with caplog.at_level(logging.WARNING, logger="app"), TestClient(app) as client:
        run_id = post_sleeps(client)
        run = wait_for_status(client, run_id, timeout=5)
        assert run["status"] == "failed"
        assert run["error"] is not None
        assert "could not run the experiment" in run["error"] and "nonexistent" in run["error"]
        second = post_sleeps(client)  # the slot was given back
        assert wait_for_status(client, second, timeout=5)["status"] == "failed"
    # The server's log has what the run's page words: the exception, with its traceback.
    failed = [r for r in caplog.records if r.name == "app.running.supervisor" and run_id in r.getMessage()]
    assert failed and failed[0].levelno == logging.ERROR and failed[0].exc_info
    assert "FileNotFoundError" in caplog.text and "Traceback" in caplog.text


def test_shutdown_never_starts_queued_runs_and_leaves_them_queued_for_the_next_server():
    settings = make_settings(max_concurrent_runs=1)
    app = create_app(settings, modules=TEST_MODULES)
    with TestClient(app) as client:
        first, runner_pid, child_pid = start_sleeper(client)
        queued = [post_sleeps(client) for _ in range(3)]
        lab = app.state.lab
    assert lab.store.get(first).status == "interrupted"  # it was executing: it cannot go on
    assert all(lab.store.get(run_id).status == "queued" for run_id in queued)
    assert all(lab.store.get(run_id).received == 0 for run_id in queued)  # no runner ever reported
    assert not alive(child_pid)
    with TestClient(create_app(settings, modules=TEST_MODULES)) as client:  # queued again, in their order
        assert [client.get(f"/api/runs/{run_id}").json()["queue_position"] for run_id in queued[1:]] == [1, 2]
        assert wait_for_status(client, queued[0], statuses={"running"})["status"] == "running"


def test_the_served_app_logs_what_it_caught_with_its_traceback(tmp_path):
    """`python -m app` (uvicorn's logging, app/__main__.py): a run whose runner cannot start is in the log."""
    env = {
        **os.environ,
        "LAB_PYTHON": "/nonexistent/python3",
        "LAB_DATABASE": str(tmp_path / "lab.db"),
        "LAB_HTMX_SOURCE": "local",
    }
    with AppProcess(env) as server:
        experiment = httpx.get(f"{server.url}/api/experiments").json()[0]["id"]
        run_id = httpx.post(f"{server.url}/api/runs", json={"experiment": experiment}).json()["id"]
        until(lambda: httpx.get(f"{server.url}/api/runs/{run_id}").json()["status"] == "failed", 10, "the run to fail")
    output = server.output
    assert f"ERROR:    app.running.supervisor: run {run_id} ({experiment}): could not run the experiment" in output
    assert "Traceback (most recent call last)" in output and "FileNotFoundError" in output


def test_a_process_the_experiment_forks_dies_of_a_sigterm_as_any_process_does():
    """The runner handles SIGTERM in Python (to keep what was recorded); a child it forks must not inherit that:
    a Python handler runs between bytecodes only, so a Pool worker sent SIGTERM (Pool.terminate()) just before
    it blocked waiting for its next task never died, and the pool's exit waited forever (6 runs in 1 000 of
    process-pool-starmap with fork, under load)."""
    out = run_experiment("tests.fixtures.fork_signal_experiment", {})
    assert out.returncode == 0, out.stderr
    assert out.result is not None, out.stderr
    assert (out.result["runner_handles_sigterm"], out.result["child_default"]) == (True, True)
