"""asyncio experiments, through the real runner: a lane per task, its steps and its waits.

Durations are short (tens to hundreds of milliseconds); what is asserted is how the spans of one
run relate (overlap, exclusion, a share of a phase), never an absolute time.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.web.server import create_app
from experiments.harness import sampler
from experiments.harness.wording import ms
from tests.helpers import ROOT, make_settings, page_says, pyenv_python, python_under, until
from tests.runner_helpers import Outcome, run_experiment

PYTHONS = [
    pytest.param(sys.executable, id="this-python"),
    *[
        pytest.param(
            pyenv_python(v),
            id=f"python{v}",
            marks=pytest.mark.skipif(pyenv_python(v) is None, reason=f"no Python {v} here"),
        )
        for v in ("3.9.18", "3.13.0")
    ],
    pytest.param(
        python_under(ROOT / ".pythons", "*t"),
        id="free-threaded",
        marks=pytest.mark.skipif(python_under(ROOT / ".pythons", "*t") is None, reason="no free-threaded build"),
    ),
]
FINISHING: dict[str, dict[str, Any]] = {
    "experiments.asyncio_gather": {"tasks": 4, "duration_ms": 100, "workers": 2},
    "experiments.asyncio_blocked_loop": {"block_ms": 100, "tick_ms": 20, "tickers": 2},
    "experiments.asyncio_queue": {
        "variant": "tutorial",
        "workers": 2,
        "items": 4,
        "produce_delay_ms": 50,
        "process_ms": 20,
    },
}
needs_sampler = pytest.mark.skipif(
    sampler.unavailable() is not None, reason=f"no on-CPU sampling here: {sampler.unavailable()}"
)


def task_lanes(out: Outcome) -> dict[str, dict]:
    """Each task lane's declaration (its "L" info), by lane."""
    return {e.worker: e.value for e in out.of("lane") if "task" in e.value}


def spans_of(out: Outcome, worker: str, category: str | None = None) -> list[tuple[int, int, str]]:
    return sorted(
        (s.start_ns, s.end_ns, s.name) for s in out.spans(worker) if category is None or s.category == category
    )


def finished(module: str, params: dict[str, Any], python: str = sys.executable) -> Outcome:
    out = run_experiment(module, params, python=python, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.failure is None and out.leftovers == []
    return out


@pytest.mark.parametrize("module", sorted(FINISHING))
@pytest.mark.parametrize("python", PYTHONS)
def test_every_asyncio_experiment_draws_a_lane_per_task_on_old_and_new_pythons(module, python):
    out = finished(module, FINISHING[module], python)
    lanes = task_lanes(out)
    assert "main()" in lanes  # the main coroutine's task
    (loop,) = {info["loop"] for info in lanes.values()}
    assert loop == "main" and all("tid" not in info for info in lanes.values())  # the kernel's strip: the loop's lane
    for lane in lanes:  # every task was given at least one step, drawn as a run span on its own lane
        assert spans_of(out, lane, "run"), lane


def test_gathered_tasks_wait_at_once_while_the_loop_thread_is_mostly_off_the_cpu():
    out = finished("experiments.asyncio_gather", {"tasks": 5, "duration_ms": 300, "workers": 2})
    sleeps = [spans_of(out, lane, "sleep") for lane, info in task_lanes(out).items() if info["task"] != "main()"]
    assert len(sleeps) == 5 and all(s and s[0][2] == "await sleep(0.3)" for s in sleeps)
    # The five waits overlap: one moment lies inside all of them.
    assert max(s[0][0] for s in sleeps) < min(s[0][1] for s in sleeps)
    if sampler.unavailable() is None:
        timeline = out.timeline()
        timeline.close()
        main = timeline.by_worker["main"]
        ((start, end, _),) = [s for s in spans_of(out, "main", "phase") if s[2] == "asyncio.gather"]
        on_cpu = sum(
            max(0, min(s.end_ns, end) - max(s.start_ns, start)) for s in timeline.cpu_spans if s.lane == main.index
        )
        assert on_cpu < 0.1 * (end - start), f"the loop's thread was on a CPU {on_cpu / (end - start):.0%} of the phase"


@pytest.mark.skipif(pyenv_python("3.13.0") is None, reason="no Python 3.13 here")
def test_eager_tasks_take_their_first_step_inside_their_creators_step():
    python = pyenv_python("3.13.0")
    assert python is not None  # the skipif's
    out = finished(
        "experiments.asyncio_gather",
        {"tasks": 3, "duration_ms": 50, "workers": 1, "eager": "yes"},
        python=python,
    )
    (main_step, *_) = spans_of(out, "main()", "run")
    firsts = [spans_of(out, lane, "run")[0] for lane, info in task_lanes(out).items() if info["task"] != "main()"]
    assert len(firsts) == 3
    assert all(main_step[0] <= first[0] and first[1] <= main_step[1] for first in firsts)


def test_a_blocking_call_in_a_task_stops_every_other_task():
    out = finished("experiments.asyncio_blocked_loop", {"block_ms": 300, "tick_ms": 20, "tickers": 3})
    ((start, end, _),) = [s for s in spans_of(out, "blocker") if s[2] == "time.sleep(0.3)"]
    tickers = [lane for lane in task_lanes(out) if lane.startswith("ticker-")]
    assert len(tickers) == 3
    for lane in tickers:
        steps = spans_of(out, lane, "run")
        assert any(e <= start for _, e, _ in steps) and any(s >= end for s, _, _ in steps)  # ticking before and after
        assert not [s for s in steps if s[0] < end and s[1] > start], f"{lane} ran during the blocking call"
    result = out.result
    assert result is not None, out.stderr
    assert result["ticks_during_call"] == 0 and result["blocked_ms"] >= 0.9 * (end - start) / 1e6


def test_with_to_thread_the_other_tasks_keep_running_during_the_call():
    out = finished(
        "experiments.asyncio_blocked_loop", {"variant": "fixed", "block_ms": 300, "tick_ms": 20, "tickers": 2}
    )
    (thread,) = [e.worker for e in out.of("lane") if "task" not in e.value and e.worker != "main"]
    ((start, end, _),) = [s for s in spans_of(out, thread) if s[2] == "time.sleep(0.3)"]
    # The blocker awaits to_thread from just after handing the call over (its thread may start first) to its end.
    assert [s for s in spans_of(out, "blocker", "wait") if s[2] == "await to_thread" and s[0] < end <= s[1]]
    for lane in ("ticker-1", "ticker-2"):
        assert len([s for s in spans_of(out, lane, "run") if start < s[0] < end]) >= 2
    assert out.result is not None, out.stderr
    assert out.result["blocked_ms"] < out.result["call_ms"] / 2


def test_the_page_says_how_long_the_loop_was_blocked_from_the_run():
    with TestClient(create_app(make_settings())) as c:
        run = c.post(
            "/api/runs",
            json={"experiment": "asyncio-blocked-loop", "params": {"block_ms": 200, "tick_ms": 20, "tickers": 2}},
        ).json()
        body = until(
            lambda: (b := c.get(f"/api/runs/{run['id']}").json())["status"] == "done" and b,
            timeout=30,
            what="the run finished",
        )
        said = page_says(c.get(body["url"]).text)
    result = body["result"]
    assert result["blocked_ms"] >= result["call_ms"] * 0.9
    assert f"The loop was blocked for {ms(result['blocked_ms'])}" in said


def test_queue_consumers_left_awaiting_get_are_cancelled_when_main_returns():
    out = finished(
        "experiments.asyncio_queue",
        {"variant": "tutorial", "workers": 2, "items": 4, "produce_delay_ms": 50, "process_ms": 20},
    )
    assert out.result is not None, out.stderr
    assert out.result["consumers_still_running"] == 2 and out.result["consumers_cancelled"] == 2
    for lane in ("consumer-1", "consumer-2"):
        waits = [s[2] for s in spans_of(out, lane, "wait")]
        assert waits and waits[-1] == "await Queue.get"  # the last wait, ended by the cancel
    fixed = finished(
        "experiments.asyncio_queue",
        {"variant": "fixed", "workers": 2, "items": 4, "produce_delay_ms": 50, "process_ms": 20},
    )
    assert fixed.result is not None, fixed.stderr
    assert fixed.result["consumers_still_running"] == 0 and fixed.result["consumers_cancelled"] == 0
