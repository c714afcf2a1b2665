"""A runner is started ahead of each run (app/running/runners.py): a run takes it, the next starts when a run ends,
a dead one is replaced, a run cancelled meanwhile never starts, and none outlives the server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from app.model.experiments import load
from app.model.runs import Run
from app.running.runners import Runner, WarmRunner, job
from app.running.supervisor import execute
from app.settings import Settings
from app.web.server import create_app
from tests.helpers import TEST_MODULES, ServerProcess, alive, make_settings, until, wait_for_status

QUICK = {"experiment": "race-counter", "params": {"workers": 2, "iterations": 1_000, "window": "call"}}


def runners_of(parent: int) -> set[int]:
    """Live runner interpreters (`python -m experiments.harness.runner`) whose parent is `parent`."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError):
            continue
        if ppid == parent and b"experiments.harness.runner" in command and alive(int(entry.name)):
            found.add(int(entry.name))
    return found


def header_pid(client: TestClient, run_id: str) -> int:
    events = client.get(f"/api/runs/{run_id}/events").json()
    pid: int = next(e["value"]["pid"] for e in events if e["kind"] == "header")
    return pid


def test_a_run_takes_the_runner_started_ahead_and_the_next_one_starts_when_it_ends():
    with TestClient(create_app(make_settings(), modules=TEST_MODULES)) as client:
        ahead = until(lambda: runners_of(os.getpid()))
        assert len(ahead) == 1  # one, started with the server, before any run
        run_id = client.post("/api/runs", json=QUICK).json()["id"]
        assert wait_for_status(client, run_id)["status"] == "done"
        assert header_pid(client, run_id) == min(ahead)
        following = until(lambda: runners_of(os.getpid()) - ahead)
        assert len(following) == 1 and not alive(min(ahead))
    # and at shutdown the one waiting ends
    assert until(lambda: not runners_of(os.getpid()))


def test_a_runner_that_died_waiting_is_replaced():
    with TestClient(create_app(make_settings(), modules=TEST_MODULES)) as client:
        (dead,) = until(lambda: runners_of(os.getpid()))
        os.kill(dead, signal.SIGKILL)
        until(lambda: not alive(dead))
        run_id = client.post("/api/runs", json=QUICK).json()["id"]
        assert wait_for_status(client, run_id)["status"] == "done"
        assert header_pid(client, run_id) != dead


def test_a_runner_that_died_before_the_server_noticed_is_replaced_at_hand_over():
    async def main():
        warm = WarmRunner(make_settings())
        dead = await warm.take()
        os.kill(dead.proc.pid, signal.SIGKILL)
        until(lambda: not alive(dead.proc.pid))  # blocking: the loop has not seen the exit yet
        assert dead.alive
        runner = await warm.hand_over(dead, "tests.fixtures.experiment_quick", {"workers": 1, "ms": 1})
        assert runner.proc.stdout is not None  # the run's events come on its stdout
        out = await runner.proc.stdout.read()
        await runner.discard()
        return dead, runner, out

    dead, runner, out = asyncio.run(main())
    assert runner is not dead
    assert any(event[0] == "R" for line in out.splitlines() for event in json.loads(line))


class Watched(WarmRunner):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.handed: list[str] = []

    async def hand_over(self, runner: Runner, module: str, params: dict[str, Any], python: str | None = None) -> Runner:
        self.handed.append(module)
        return await super().hand_over(runner, module, params, python)


def test_a_run_cancelled_while_its_runner_started_never_starts_the_experiment():
    async def main():
        settings = make_settings()
        run = Run("r1", load("tests.fixtures.experiment_quick"), {"workers": 1, "ms": 1})
        run.cancel_requested.set()
        warm = Watched(settings)
        warm.start_next()
        await execute(run, settings, warm)
        return run, warm

    run, warm = asyncio.run(main())
    assert run.status == "cancelled" and warm.handed == []  # the runner never got the job


def test_the_job_counts_the_users_tasks_at_hand_over_plus_the_runs_allowance():
    settings = make_settings(run_processes=40, run_memory_mb=256, run_cpu_s=7)
    handed = job("tests.fixtures.experiment_quick", {"ms": 1}, settings, user_tasks_before=100)
    assert handed == {
        "module": "tests.fixtures.experiment_quick",
        "params": '{"ms": 1}',
        "oncpu": True,
        "limits": {"memory_mb": 256, "cpu_s": 7, "nproc": 140},
    }
    assert job("tests.fixtures.experiment_quick", {}, make_settings(oncpu=False), 0)["oncpu"] is False


def test_the_runner_waiting_ends_with_a_killed_server(tmp_path):
    server = ServerProcess(tmp_path / "lab.db")
    try:
        (waiting,) = until(lambda: runners_of(server.proc.pid))
    finally:
        server.stop(signal.SIGKILL)
    # its stdin closes with the server (and its lifeline too): it is gone, not orphaned
    until(lambda: not alive(waiting), timeout=5)
