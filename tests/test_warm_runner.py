"""A runner is started ahead of each run (app/runners.py): a run takes it, the next starts when a run ends,
a dead one is replaced, and none outlives the server, whether it stops or is killed."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from app.server import create_app
from tests.conftest import TEST_MODULES, alive, make_settings, wait_for_status

ROOT = Path(__file__).resolve().parent.parent
QUICK = {"experiment": "race-counter", "params": {"workers": 2, "iterations": 1_000, "window": "call"}}


def runners_of(parent: int) -> set[int]:
    """Live runner interpreters (`python -m experiments.runner`) whose parent is `parent`."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError):
            continue
        if ppid == parent and b"experiments.runner" in command and alive(int(entry.name)):
            found.add(int(entry.name))
    return found


def until(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
    return value


def header_pid(client: TestClient, run_id: str) -> int:
    events = client.get(f"/api/runs/{run_id}/events").json()
    return next(e["value"]["pid"] for e in events if e["kind"] == "header")


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


def test_the_runner_waiting_dies_with_a_killed_server(tmp_path):
    env = {**os.environ, "LAB_DATABASE": str(tmp_path / "lab.db"), "PYTHONPATH": str(ROOT)}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    server = subprocess.Popen([sys.executable, "-m", "tests.lab_server", port], cwd=ROOT, env=env)
    try:
        until(lambda: _healthy(port), timeout=20)
        (waiting,) = until(lambda: runners_of(server.pid))
    finally:
        server.kill()
        server.wait()
    until(lambda: not alive(waiting), timeout=5)


def _healthy(port: str) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
    except httpx.TransportError:
        return False
