"""Runner rlimits: a run past its memory or CPU limit fails, naming the limit; the limits are in force."""
from __future__ import annotations

import os

import pytest
from fastapi.testclient import TestClient

from app.server import create_app
from app.supervisor import user_tasks
from tests.conftest import TEST_MODULES, make_settings, wait_for_status

MODULES = TEST_MODULES + ("tests.experiment_hog",)


@pytest.fixture
def tight():
    settings = make_settings(run_memory_mb=256, run_cpu_s=1, run_processes=40)
    with TestClient(create_app(settings, modules=MODULES)) as c:
        yield c


def hog(c, what: str) -> dict:
    response = c.post("/api/runs", json={"experiment": "test-hog", "params": {"workers": 1, "what": what}})
    assert response.status_code == 201
    return wait_for_status(c, response.json()["id"], timeout=20)


def test_a_run_past_its_memory_limit_fails_saying_so(tight):
    run = hog(tight, "memory")
    assert run["status"] == "failed"
    assert run["result"]["error"]["type"] == "MemoryError"
    assert "256 MB" in run["error"] and "memory" in run["error"]


def test_a_run_past_its_cpu_limit_fails_saying_so(tight):
    run = hog(tight, "cpu")
    assert run["status"] == "failed"
    assert run["error"].startswith("a process of the run used its 1 CPU-seconds limit")
    assert not any(name.startswith("core") for name in os.listdir("."))  # no core dump left behind


def test_the_runner_runs_under_all_three_limits(tight):
    before = user_tasks(os.getuid())
    run = hog(tight, "limits")
    assert run["status"] == "done"
    limits = {line[:26].strip(): line[26:].split() for line in run["result"]["limits"].splitlines()[1:]}
    assert limits["Max address space"][:2] == [str(256 * 1024 * 1024)] * 2
    assert limits["Max cpu time"][:2] == ["1", "2"]
    assert limits["Max core file size"][:2] == ["0", "0"]
    nproc = int(limits["Max processes"][0])
    # the user's tasks when the run started, plus run_processes (root is exempt from it: see the README)
    assert before - 20 <= nproc - 40 <= before + 20


def test_limits_do_not_get_in_the_way_of_sixteen_threads(tight):
    response = tight.post("/api/runs", json={"experiment": "race-counter",
                                             "params": {"workers": 16, "iterations": 1000, "window": "call"}})
    assert wait_for_status(tight, response.json()["id"])["status"] == "done"
