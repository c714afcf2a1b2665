"""A real server process stopped mid-run (SIGTERM, then SIGKILL) and started again on the same database.

Finished runs replay identically (API and page), the run that was executing says it was
interrupted and keeps its events up to then, and no experiment process survives the server.
"""

from __future__ import annotations

import re
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from app.web.documents import RunView
from tests.helpers import ServerProcess, alive, alive_in_group, drawn_page, start_sleeper, until, wait_for_status, watch

QUICK = {"experiment": "race-counter", "params": {"workers": 2, "iterations": 2_000, "window": "call"}}


def started_at(run: RunView) -> float:
    """When the run started: it has (it ended done)."""
    assert run["started_at"] is not None, f"run {run['id']} ({run['status']}) never started"
    return run["started_at"]


def ended_at(run: RunView) -> float:
    """When the run ended: it has."""
    assert run["ended_at"] is not None, f"run {run['id']} ({run['status']}) has not ended"
    return run["ended_at"]


def wait_until_seen_running(database: Path, run_id: str, after_ns: int) -> None:
    """Until the server has noted the run alive after `after_ns` (app/storage/store.py's heartbeat), read from this process (WAL)."""

    def seen() -> bool:
        with sqlite3.connect(database) as conn:
            noted = conn.execute("SELECT cut_at_ns FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
        return noted is not None and noted > after_ns

    until(seen, timeout=10, what="the server noting the run as running", every=0.1)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_a_restart_keeps_finished_runs_and_marks_the_running_one_interrupted(tmp_path, sig):
    database = tmp_path / "lab.db"
    server = ServerProcess(database)
    try:
        quick = server.http.post("/api/runs", json=QUICK).json()["id"]
        assert wait_for_status(server.http, quick)["status"] == "done"
        before = server.http.get(f"/api/runs/{quick}").json()
        before_page = drawn_page(server.http.get(f"/runs/{quick}").text)
        before_events = server.http.get(f"/api/runs/{quick}/events").json()
        long_run, runner_pid, child_pid = start_sleeper(server.http)
        events_then = server.http.get(f"/api/runs/{long_run}/events").json()
        began = next(e["ts_ns"] for e in events_then if e["kind"] == "begin" and e["name"] == "sleep(60)")
        wait_until_seen_running(database, long_run, began)
        conditions = server.http.get(f"/api/runs/{long_run}").json()["conditions"]
        assert {"python", "start_method", "loadavg", "cpus", "beside"} <= set(conditions)  # known at its start
    finally:
        stopped_at = time.time()
        server.stop(sig)

    # Whether the server stopped the run (SIGTERM) or died (SIGKILL: the runner's lifeline), nothing is left.
    def gone() -> bool:
        return not alive(runner_pid) and not alive(child_pid) and alive_in_group(runner_pid) == []

    until(gone, timeout=5, what="the run's processes ending with the server", every=0.05)

    server = ServerProcess(database)
    try:
        assert server.http.get(f"/api/runs/{quick}").json() == before
        assert drawn_page(server.http.get(f"/runs/{quick}").text) == before_page
        assert server.http.get(f"/api/runs/{quick}/events").json() == before_events
        messages, code = watch(server, quick)  # its socket: everything at once, then a normal close
        assert code == 1000 and len(messages) == 1
        assert messages[0].count('class="lane"') == 3 and f'class="actual">{before["result"]["actual"]}<' in messages[0]

        interrupted = server.http.get(f"/api/runs/{long_run}").json()
        assert interrupted["status"] == "interrupted"
        assert "server stopped" in interrupted["error"]
        assert interrupted["conditions"] == conditions  # what it ran under, however the server ended
        # SIGTERM: ended as the server stopped it; SIGKILL: when the restart found it
        assert stopped_at <= interrupted["ended_at"] <= time.time()
        events = server.http.get(f"/api/runs/{long_run}/events").json()
        assert events[: len(events_then)] == events_then  # everything it had sent is kept
        page = server.http.get(f"/runs/{long_run}").text
        assert '<span class="badge">interrupted</span>' in page
        cut = re.search(
            r'class="c-sleep cut">.*?<title>sleep\(60\) · [\d.]+–[\d.]+ ms \(([\d.]+) ms\) · never ended \(the server stopped\)',
            page,
        )
        assert cut is not None
        # SIGTERM: cut when the server stopped it; SIGKILL: where the server last saw it running (≤ 1 s before).
        assert float(cut.group(1)) > 0
        assert "ws-connect" not in page  # nothing live to listen to

        history = server.http.get("/runs").text
        assert history.index(f"/runs/{long_run}") < history.index(f"/runs/{quick}")  # newest first
        assert server.http.get("/runs/nope").status_code == 404
    finally:
        server.stop(signal.SIGTERM)


def test_a_sigkill_loses_no_queued_run_they_run_in_their_order_and_only_the_executing_one_is_interrupted(tmp_path):
    database = tmp_path / "lab.db"
    one_at_a_time = {"LAB_MAX_CONCURRENT_RUNS": "1"}
    server = ServerProcess(database, **one_at_a_time)
    try:
        executing, runner_pid, child_pid = start_sleeper(server.http)
        # The last sleeps 2 s: its page's socket, opened as the server is back, sees it wait and run.
        bodies = [QUICK] * 9 + [{"experiment": "test-sleeps", "params": {"workers": 1, "seconds": 2}}]
        queued = [server.http.post("/api/runs", json=body).json()["id"] for body in bodies]
        assert [server.http.get(f"/api/runs/{run_id}").json()["queue_position"] for run_id in queued] == list(
            range(1, 11)
        )
    finally:
        server.stop(signal.SIGKILL)
    until(
        lambda: not alive(runner_pid) and not alive(child_pid), timeout=5, what="the run's processes ending", every=0.05
    )

    server = ServerProcess(database, **one_at_a_time)
    try:
        # A student's page still open on the last run: its socket reconnects, and it follows the run to its end.
        messages, code = watch(server, queued[-1])
        assert code == 1000 and len(messages) >= 2, "it was sent live as it waited and ran, not only at its end"
        assert 'class="status status-done"' in messages[-1] and "sleep(2)" in "".join(messages)
        runs = [wait_for_status(server.http, run_id, timeout=60) for run_id in queued]
        assert [run["status"] for run in runs] == ["done"] * 10
        started = [started_at(run) for run in runs]
        assert started == sorted(started), "they ran in the order they were queued"
        assert all(ended_at(earlier) <= started_at(later) for earlier, later in zip(runs, runs[1:]))

        interrupted = server.http.get(f"/api/runs/{executing}").json()
        assert interrupted["status"] == "interrupted"
        page = server.http.get(f"/runs/{executing}").text
        assert "the server stopped while it ran" in page and "run it again" in page  # in words, on its page
        history = server.http.get("/runs").text
        assert all(f"/runs/{run_id}" in history for run_id in queued)
    finally:
        server.stop(signal.SIGTERM)
