"""interpreters-cpu: the CPU-bound tasks on an InterpreterPoolExecutor beside threads and processes, offered only on
the interpreters that have one (CPython 3.13 with the interpreters-pep-734 backport, any 3.14), run through the real
runner, one lane per interpreter's thread with its on-CPU strip.

CPython 3.13 is looked for where the lab looks (pyenv's versions), the backport where `make pythons` puts it
(.pythons/site-packages): a test that needs either is skipped, saying which.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient

from app.running import pythons
from app.web.documents import RunView
from app.web.server import create_app
from experiments import MODULES
from tests.helpers import budget_of, make_settings, page_says, pyenv_python, result_of, wait_for_status

PY313 = pyenv_python("3.13.*")
BACKPORT = (pythons.PACKAGES / "interpreters_backport").is_dir()
needs_313 = pytest.mark.skipif(PY313 is None, reason="no CPython 3.13 under pyenv's versions")
needs_backport = pytest.mark.skipif(
    not BACKPORT, reason="no interpreters-pep-734 in .pythons/site-packages: make pythons (scripts/experiment-packages)"
)
EXPERIMENT = "interpreters-cpu"


def lab(*paths: str) -> TestClient:
    return TestClient(create_app(make_settings(pythons=list(paths), max_concurrent_runs=1), modules=MODULES))


def python_param(client: TestClient, experiment: str) -> dict[str, Any]:
    (described,) = [e for e in client.get("/api/experiments").json() if e["id"] == experiment]
    return cast(dict[str, Any], described["params"]["python"])  # GET /api/experiments: each experiment's own params


def spans_of(events: list[dict], worker: str) -> list[tuple[str, int, int]]:
    """The spans of a lane: (name, start_ns, end_ns), from its begin and end events."""
    spans, open_ = [], []
    for e in events:
        if e["worker"] == worker and e["kind"] == "begin":
            open_.append((e["name"], e["start_ns"]))
        elif e["worker"] == worker and e["kind"] == "end":
            name, start = open_.pop()
            spans.append((name, start, e["end_ns"]))
    return spans


def run(client: TestClient, params: dict[str, Any], timeout: float = 120) -> RunView:
    created = client.post("/api/runs", json={"experiment": EXPERIMENT, "params": params})
    assert created.status_code == 201, created.text
    finished = wait_for_status(client, created.json()["id"], timeout=timeout, every=0.5)
    assert finished["status"] == "done", finished
    return finished


def interpreter(version: str, pool: str = "") -> pythons.Interpreter:
    return pythons.Interpreter(f"/opt/{version}/bin/python3", version, "CPython", False, True, "fork", pool)


def test_only_interpreters_with_a_pool_are_offered_and_each_other_is_refused_with_its_own_reason():
    offered = (
        interpreter("3.11.7"),
        interpreter("3.12.1"),
        interpreter("3.13.0"),
        interpreter("3.14.0", "stdlib"),
        interpreter("3.13.5", "backport"),
    )
    param = pythons.param_for(offered, ("interpreter_pool",))
    assert param is not None
    assert param.choices == ("3.13.5", "3.14.0") and param.default == "3.14.0"  # the first offered that can
    refused = dict(param.refused)
    assert set(refused) == {"3.11.7", "3.12.1", "3.13.0"}
    assert "from 3.14" in refused["3.12.1"] and "interpreters-pep-734" in refused["3.12.1"]
    assert "without the interpreters-pep-734 backport" in refused["3.13.0"] and "make pythons" in refused["3.13.0"]
    every = pythons.param(offered)  # an experiment that needs nothing more: all of them, the server's own first
    assert every is not None and every.default == "3.11.7" and len(every.choices) == 5 and not every.refused
    assert pythons.param_for(offered[:3], ("interpreter_pool",)) is None


@needs_313
@needs_backport
def test_it_is_offered_on_313_with_the_backport_and_the_others_are_refused_saying_why():
    assert PY313 is not None  # needs_313
    own = pythons.probe((sys.executable,))[0]
    (py313,) = pythons.probe((PY313,))
    assert py313.interpreter_pool == "backport" and own.interpreter_pool == ""
    with lab(PY313) as client:
        offered = python_param(client, EXPERIMENT)
        assert offered["choices"] == [py313.key] and offered["default"] == py313.key
        assert "InterpreterPoolExecutor" in offered["refused"][own.key]
        assert f"not offered: {own.key}" in offered["help"]
        # Every other experiment still runs on either.
        assert python_param(client, "cpu-threads-vs-processes")["choices"] == sorted([own.key, py313.key])

        refused = client.post("/api/runs", json={"experiment": EXPERIMENT, "params": {"python": own.key}})
        assert refused.status_code == 422, refused.text
        said = refused.text
        assert "python" in said and repr(own.key) in said and "cannot run this experiment" in said
        assert "3.14" in said and "interpreters-pep-734" in said


def test_where_no_interpreter_has_a_pool_the_experiment_is_left_out_and_the_log_says_why(caplog):
    caplog.set_level(logging.WARNING, logger="app.running.pythons")
    with lab(sys.executable) as client:  # the server's own only (3.11: no InterpreterPoolExecutor)
        ids = {e["id"] for e in client.get("/api/experiments").json()}
        assert "cpu-threads-vs-processes" in ids and EXPERIMENT not in ids
        assert client.get(f"/experiments/{EXPERIMENT}").status_code == 404
    assert any(EXPERIMENT in r.getMessage() and "InterpreterPoolExecutor" in r.getMessage() for r in caplog.records)


@needs_313
@needs_backport
def test_each_interpreters_thread_gets_a_lane_with_its_tasks_and_its_on_cpu_strip():
    """Small tasks (no timing asserted): the spans timed inside the subinterpreters land on one lane per worker
    thread, declared with its native id, so the kernel's on-CPU record of that thread is drawn under it."""
    # Long enough that both interpreters take tasks (fib(24..27) was sometimes all done by the first to start).
    params = {"workers": 2, "first": 27, "tasks": 4, "start_method": "fork"}
    assert PY313 is not None  # needs_313
    with lab(PY313) as client:
        finished = run(client, params)
        events = client.get(f"/api/runs/{finished['id']}/events?limit=100000").json()
        page = page_says(client.get(f"/runs/{finished['id']}").text)
    result = result_of(finished)
    assert result["results"] == [196418, 317811, 514229, 832040] and result["interpreter_pool"] == "backport"
    lanes = {e["worker"]: e["value"] for e in events if e["kind"] == "lane"}
    interpreters = [w for w in lanes if w.endswith("(subinterpreter)")]
    assert len(interpreters) == result["interpreters"] == 2, lanes
    runner_pid = lanes["main"]["pid"]
    assert all(lanes[w]["pid"] == runner_pid for w in interpreters)  # threads of the runner's own process
    assert len({lanes[w]["tid"] for w in interpreters} | {lanes["main"]["tid"]}) == 3
    spans = [s for w in interpreters for s in spans_of(events, w)]
    assert sorted(name for name, _, _ in spans) == [f"fib({n})" for n in range(27, 31)]
    ((_, start, end),) = [s for s in spans_of(events, "main") if s[0] == "interpreter pool"]
    assert all(start <= began < ended <= end for _, began, ended in spans)
    on_cpu = budget_of(finished)["on_cpu_ms"]
    assert all(on_cpu.get(w, 0) > 0 for w in interpreters), on_cpu
    assert "Interpreter pool:" in page and "interpreters-pep-734 backport" in page


@pytest.mark.alone  # judged with the machine to itself: `make test` runs these after the rest
@needs_313
@needs_backport
def test_on_313_subinterpreters_run_python_side_by_side_where_threads_cannot():
    """fibonacci(31..34) on pools of two (at best 1.62× serial: the tasks' lengths differ by 1.6×). Only runs on
    two free cores count, by the lab's CPU budget (other programs under half a core in the serial, thread and
    interpreter phases), as the free-threaded test does (tests/running/test_interpreters.py); up to four tries for one
    run where the interpreter pool reaches 1.4× serial, with the thread pool under 1.2× in it."""
    params = {"workers": 2, "first": 31, "tasks": 4, "start_method": "fork"}
    done, seen = [], []
    assert PY313 is not None  # needs_313
    with lab(PY313) as client:
        for _ in range(4):
            finished = run(client, params, timeout=180)
            timed = [
                p for p in budget_of(finished)["phases"] if p["name"] in ("serial", "thread pool", "interpreter pool")
            ]
            result = result_of(finished)
            others = [p["others_busy_cores"] for p in timed]
            seen.append(f"{result['interpreter_speedup']}× ({result['thread_speedup']}× threads), others {others}")
            if len(timed) == 3 and all(other is not None and other < 0.5 for other in others):
                done.append(finished)
                if result["interpreter_speedup"] > 1.4:
                    break
        if not done:
            pytest.skip(f"two cores were not free for any run: {'; '.join(seen)}")
        best = max(done, key=lambda r: result_of(r)["interpreter_speedup"])
        said = page_says(client.get(f"/runs/{best['id']}").text)
    result = result_of(best)
    assert result["interpreter_speedup"] > 1.4, [r["result"] for r in done]
    assert result["thread_speedup"] < 1.2, result
    (pool,) = [p for p in budget_of(best)["phases"] if p["name"] == "interpreter pool"]
    assert pool["together_ms"] and pool["together_ms"] > 0.3 * (pool["end_ms"] - pool["start_ms"]), pool
    assert "each subinterpreter has its own GIL, so their threads ran Python side by side" in said
