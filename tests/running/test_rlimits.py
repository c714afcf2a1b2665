"""Runner rlimits: a run past its memory or CPU limit fails, naming the limit; the limits are in force."""

from __future__ import annotations

import os

import pytest
from fastapi.testclient import TestClient

from app.running.runners import user_tasks
from app.running.supervisor import limit_hit
from app.web.documents import RunView
from app.web.server import create_app
from tests.helpers import ROOT, TEST_MODULES, make_settings, result_of, wait_for_status

MODULES = TEST_MODULES + ("tests.fixtures.experiment_hog",)


@pytest.fixture
def tight():
    settings = make_settings(run_memory_mb=256, run_cpu_s=1, run_processes=40)
    with TestClient(create_app(settings, modules=MODULES)) as c:
        yield c


def hog(c: TestClient, what: str) -> RunView:
    response = c.post("/api/runs", json={"experiment": "test-hog", "params": {"workers": 1, "what": what}})
    assert response.status_code == 201
    return wait_for_status(c, response.json()["id"], timeout=20)


def test_a_run_past_its_memory_limit_fails_saying_so(tight):
    run = hog(tight, "memory")
    assert run["status"] == "failed"
    assert result_of(run)["error"]["type"] == "MemoryError"
    assert run["error"] is not None and "256 MB" in run["error"] and "memory" in run["error"]


def test_a_run_past_its_cpu_limit_fails_saying_so(tight):
    run = hog(tight, "cpu")
    assert run["status"] == "failed"
    assert run["error"] is not None and run["error"].startswith("a process of the run used its 1 CPU-seconds limit")
    assert not any(name.startswith("core") for name in os.listdir(ROOT))  # no core dump left in the runner's directory


def test_the_runner_runs_under_all_three_limits(tight):
    before = user_tasks(os.getuid())
    run = hog(tight, "limits")
    assert run["status"] == "done"
    limits = {line[:26].strip(): line[26:].split() for line in result_of(run)["limits"].splitlines()[1:]}
    assert limits["Max address space"][:2] == [str(256 * 1024 * 1024)] * 2
    assert limits["Max cpu time"][:2] == ["1", "2"]
    assert limits["Max core file size"][:2] == ["0", "0"]
    nproc = int(limits["Max processes"][0])
    # the user's tasks when the run started, plus run_processes (root is exempt from it: see docs/settings.md);
    # other tests (a browser has dozens of threads) come and go meanwhile: a loose bound
    after = user_tasks(os.getuid())
    assert min(before, after) // 2 <= nproc - 40 <= 2 * max(before, after) + 100


def test_limits_do_not_get_in_the_way_of_sixteen_threads(tight):
    response = tight.post(
        "/api/runs",
        json={"experiment": "race-counter", "params": {"workers": 16, "iterations": 1000, "window": "call"}},
    )
    assert wait_for_status(tight, response.json()["id"])["status"] == "done"


@pytest.mark.parametrize(
    "failure, returncode, words",
    [
        ({"type": "MemoryError", "message": ""}, 1, "at most 256 MB of address space"),
        (
            {"type": "BlockingIOError", "message": "[Errno 11] Resource temporarily unavailable"},
            1,
            "at most 40 to the server user's",
        ),
        ({"type": "RuntimeError", "message": "can't start new thread"}, 1, "LAB_RUN_PROCESSES"),
        (None, -24, "used its 1 CPU-seconds limit"),
        ({"type": "ZeroDivisionError", "message": "division by zero"}, 1, None),
        (None, -9, None),
        (None, 0, None),
    ],
)
def test_which_limit_ended_a_run(failure, returncode, words):
    settings = make_settings(run_memory_mb=256, run_cpu_s=1, run_processes=40)
    said = limit_hit(failure, returncode, settings)
    if words is None:
        assert said is None
    else:
        assert said is not None and words in said


@pytest.mark.skipif(
    os.getuid() != 0 or not os.path.exists("/usr/bin/python3"),
    reason="runs the runner as `nobody`: needs root and the system Python (stdlib only suffices)",
)
def test_the_process_limit_bites_a_user_other_than_root():
    """Root ignores RLIMIT_NPROC, so the runner runs as nobody here: starting threads soon fails."""
    import json
    import signal
    import subprocess

    from app.model.events import StreamParser
    from experiments.harness import rlimits

    nobody = 65534
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        rlimits.ENV: rlimits.encode(4096, 10, user_tasks(nobody) + 8),
    }  # memory for hundreds
    proc = subprocess.Popen(
        [
            "/usr/bin/python3",
            "-m",
            "experiments.harness.runner",
            "tests.fixtures.experiment_hog",
            json.dumps({"workers": 1, "what": "threads"}),
        ],
        cwd="/",
        env=env,
        user=nobody,
        group=nobody,
        extra_groups=[],
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, err = proc.communicate(timeout=20)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    parser = StreamParser()
    events = parser.feed(out) + parser.close()
    failure = next(e.value for e in events if e.kind == "failure")
    assert proc.returncode == 1, err.decode()
    assert "can't start new thread" in failure["message"] or failure["type"] == "BlockingIOError"
    started = int(failure["message"].rsplit("after ", 1)[1].split()[0])
    assert started <= 8  # the process limit, not memory, stopped it
    said = limit_hit(failure, proc.returncode, make_settings(run_processes=8))
    assert said is not None and "LAB_RUN_PROCESSES" in said
