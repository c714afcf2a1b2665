"""The pool and process experiments, run through the real runner, tell their story in events.

Process experiments run under fork and under spawn (Python 3.14 defaults to forkserver, so
nothing may depend on fork). Every run happens in its own process group, which is checked
empty at the end: no test leaves processes behind.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from app.model.events import Event
from app.model.timeline import Span
from experiments import MODULES
from experiments.harness import params as params_module
from tests.helpers import pyenv_python
from tests.runner_helpers import Outcome, run_experiment, run_until_quiet

START_METHODS = ["fork", "spawn"]


def finished(out: Outcome) -> Outcome:
    assert out.returncode == 0, out.stderr
    assert out.failure is None
    assert out.leftovers == [], "processes of the run outlived it"
    return out


def prints(out: Outcome, worker: str) -> list[str]:
    return [e.name for e in out.of("instant", worker) if e.category == "print"]


def instant(out: Outcome, worker: str, name: str) -> Event:
    return next(e for e in out.of("instant", worker) if e.name == name)


def span(out: Outcome, worker: str, name: str) -> Span:
    return next(s for s in out.spans(worker) if s.name == name)


def lane_pids(out: Outcome) -> dict[str, int]:
    return {e.worker: e.value["pid"] for e in out.of("lane")}


# -- thread-pool ----------------------------------------------------------------------------


def thread_pool(collect: str, workers: int = 2) -> Outcome:
    params = {"workers": workers, "collect": collect, "delays": "3,1,2", "delay_ms": 100}
    return finished(run_experiment("experiments.thread_pool", params))


def fetch(out: Outcome, task: int) -> Span:
    """The fetch span of task 0, 1 or 2 (delays 3, 1, 2 units), on whichever pool thread ran it."""
    url = ["https://example.com", "https://example.org", "https://example.net"][task]
    return next(s for w in out.workers() for s in out.spans(w) if s.name.startswith(f"fetch_page({url},"))


def received(out: Outcome) -> list[int]:
    """When main got each result, in the order it got them."""
    return [e.ts_ns for e in out.of("instant", "main") if e.category == "result"]


@pytest.mark.parametrize("collect", ["result", "map"])
def test_thread_pool_result_and_map_hand_back_in_submit_order_after_the_slow_first_fetch(collect):
    out = thread_pool(collect)
    assert out.result is not None, out.stderr
    assert out.result["order"] == [0, 1, 2]
    got = received(out)
    assert len(got) == 3
    # Task 1 was ready long before, but main only got anything once task 0 was done.
    assert fetch(out, 1).end_ns < fetch(out, 0).end_ns <= got[0]


def test_thread_pool_as_completed_hands_back_each_result_when_it_is_ready():
    out = thread_pool("as_completed", workers=3)
    assert out.result is not None, out.stderr
    assert out.result["order"] == [1, 2, 0]  # delays 3, 1, 2: fastest first
    got = received(out)
    assert got[0] < fetch(out, 2).end_ns and got[1] < fetch(out, 0).end_ns
    assert [s.name for s in out.spans("main") if s.category == "wait"] == [
        "as_completed"
    ] * 4  # 3 results, then the end


def test_thread_pool_wait_first_blocks_until_one_fetch_is_done_then_takes_the_rest():
    out = thread_pool("wait_first", workers=3)
    assert out.result is not None, out.stderr
    assert out.result["order"] == [1, 2, 0]
    waited = span(out, "main", "wait(FIRST_COMPLETED)")
    assert fetch(out, 1).end_ns <= waited.end_ns < fetch(out, 2).end_ns
    assert instant(out, "main", "First task completed").ts_ns <= received(out)[0]


def test_thread_pool_runs_at_most_max_workers_fetches_at_once():
    out = thread_pool("as_completed", workers=2)
    threads = [w for w in out.workers() if w.startswith("ThreadPoolExecutor")]
    assert len(threads) == 2
    # The third fetch waits for a free thread: the one whose 1-unit fetch is done.
    assert fetch(out, 2).start_ns >= fetch(out, 1).end_ns
    assert fetch(out, 2).lane == fetch(out, 1).lane


# -- io / cpu threads vs processes ----------------------------------------------------------

SPEEDUP_KEYS = {"serial_ms", "thread_ms", "process_ms", "thread_speedup", "process_speedup", "ideal_speedup"}


@pytest.mark.parametrize("start_method", START_METHODS)
def test_io_pools_report_their_speedup_over_a_serial_run_on_main(start_method):
    params = {"workers": 4, "tasks": 8, "duration_ms": 40, "start_method": start_method}
    out = finished(run_experiment("experiments.io_threads_vs_processes", params))
    result = out.result
    assert result is not None, out.stderr
    assert SPEEDUP_KEYS <= set(result)
    assert result["ideal_speedup"] == 4  # 8 tasks in 2 rounds of 4
    serial = [s for s in out.spans("main") if s.name == "simulate_io(0.04)"]
    assert len(serial) == 8
    assert all(a.end_ns <= b.start_ns for a, b in zip(serial, serial[1:])), "the serial run does one at a time"
    # Sleeping threads do not hold the GIL: they wait together (ideally 4x, 2 rounds of 4).
    assert result["thread_speedup"] > 2
    assert result["thread_speedup"] == pytest.approx(result["serial_ms"] / result["thread_ms"], rel=0.02)
    pids = lane_pids(out)
    process_lanes = [w for w in pids if "Process" in w]
    assert process_lanes and all(pids[w] != pids["main"] for w in process_lanes)


@pytest.mark.alone  # a speedup: beside three other tests the serial run was slowed and threads came out 1.69x
def test_cpu_serial_run_on_main_is_the_yardstick_and_threads_do_not_beat_it():
    params = {"workers": 2, "first": 24, "tasks": 3, "start_method": "spawn"}
    out = finished(run_experiment("experiments.cpu_threads_vs_processes", params))
    result = out.result
    assert result is not None, out.stderr
    assert SPEEDUP_KEYS <= set(result)
    assert result["ideal_speedup"] == min(2, out.of("header")[0].value["cpus"], 3)
    assert [s.name for s in out.spans("main") if s.category == "cpu"] == ["fib(24)", "fib(25)", "fib(26)"]
    assert result["thread_speedup"] < 1.6  # the GIL: one thread runs Python at a time


# -- fork -----------------------------------------------------------------------------------


def test_fork_child_is_a_second_process_with_its_own_pid():
    out = finished(run_experiment("experiments.fork", {"sleep_ms": 50}))
    assert out.result is not None, out.stderr
    parent, child = out.result["parent_pid"], out.result["child_pid"]
    assert child != parent
    assert lane_pids(out) == {"main": parent, f"pid {child}": child}
    assert prints(out, f"pid {child}") == [f"Child process: {child}, Parent: {parent}", "Child process completed"]
    assert prints(out, "main") == [
        f"Main process: {parent}",
        f"Created child process with PID: {child}",
        "Main process completed",
    ]
    # The parent is blocked in waitpid until the child is done.
    done = instant(out, f"pid {child}", "Child process completed")
    assert span(out, "main", "os.waitpid").end_ns >= done.ts_ns
    assert out.result["child_exit_code"] == 0


# -- process-pool-starmap -------------------------------------------------------------------


@pytest.mark.parametrize("start_method", START_METHODS)
def test_starmap_spreads_tasks_over_worker_processes_and_returns_them_in_task_order(start_method):
    params = {"workers": 2, "tasks": 5, "unit_ms": 100, "start_method": start_method}
    out = finished(run_experiment("experiments.process_pool_starmap", params))
    durations = [0.1, 0.2, 0.1, 0.2, 0.1]
    assert out.result is not None, out.stderr
    assert out.result["results"] == [f"Task {i} completed in {d} seconds" for i, d in enumerate(durations)]
    pids = lane_pids(out)
    ran = {}
    for worker in pids:
        for s in out.spans(worker):
            if s.name.startswith("process_task("):
                ran[s.name] = (worker, s)
    assert sorted(ran) == sorted(f"process_task({i}, {d})" for i, d in enumerate(durations))
    workers = {worker for worker, _ in ran.values()}
    assert len(workers) == 2 and all(pids[w] != pids["main"] for w in workers)
    starmap = span(out, "main", "Pool.starmap")
    assert starmap.end_ns >= max(s.end_ns for _, s in ran.values())
    assert prints(out, "main") == out.result["results"]


# -- mp-queue -------------------------------------------------------------------------------


@pytest.mark.parametrize("start_method", START_METHODS)
def test_queue_carries_items_to_the_consumer_process_until_the_sentinel(start_method):
    params = {"items": 3, "interval_ms": 30, "start_method": start_method}
    out = finished(run_experiment("experiments.mp_queue", params))
    pids = lane_pids(out)
    assert len({pids["main"], pids["producer"], pids["consumer"]}) == 3
    assert prints(out, "consumer") == ["Consumed: Item-0", "Consumed: Item-1", "Consumed: Item-2", "Consumer finished"]
    assert [s.name for s in out.spans("consumer")] == ["Queue.get"] * 4  # three items and the sentinel
    puts = [e.name for e in out.of("instant", "producer") if e.category == "notify"]
    assert puts == ["put 'Item-0'", "put 'Item-1'", "put 'Item-2'"]
    # Main sends the sentinel once the producer is done; it is the consumer's last item.
    sentinel = instant(out, "main", "put None")
    assert instant(out, "producer", "Producer finished").ts_ns < sentinel.ts_ns
    assert sentinel.ts_ns < instant(out, "consumer", "got None").ts_ns


@pytest.mark.parametrize("start_method", START_METHODS)
def test_queue_arrows_join_each_get_to_the_put_of_the_same_item(start_method):
    # 50 items 10 ms apart: the consumer's `got` often reaches the server before the producer's
    # `put` (each process flushes its events every 20 ms), which once joined gets to the wrong put.
    params = {"items": 50, "interval_ms": 10, "start_method": start_method}
    out = finished(run_experiment("experiments.mp_queue", params))
    timeline = out.timeline()
    mark = {(m.lane, m.ts_ns): m for m in timeline.marks}
    taken = [e for e in out.of("instant", "consumer") if e.name.startswith("got ")]
    assert taken[-1].name == "got None"  # the sentinel, last
    gets = [e for e in taken if e.category == "woken"]  # the gets that waited (an item already there is just taken)
    assert len(gets) > 25  # most wait: the consumer is faster (a loaded machine: 39)
    joined = {}
    for arrow in timeline.arrows:
        put, got = mark[(arrow.from_lane, arrow.from_ns)], mark[(arrow.to_lane, arrow.to_ns)]
        assert (put.category, got.category) == ("notify", "woken")
        assert put.name.removeprefix("put ") == got.name.removeprefix("got "), (put.name, got.name)
        joined[got.name] = timeline.lanes[put.lane].worker
    assert sorted(joined) == sorted(e.name for e in gets)  # one arrow to every get that waited
    if "got None" in joined:  # its get waited (under load the sentinel can be there first: no arrow then)
        assert joined["got None"] == "main"  # the sentinel comes from main's put, not the producer's last


# -- mp-pipe --------------------------------------------------------------------------------


@pytest.mark.parametrize("start_method", START_METHODS)
def test_pipe_tutorial_variant_hangs_with_the_receiver_blocked_in_recv(start_method):
    params = {"variant": "tutorial", "messages": 3, "start_method": start_method}
    out = run_until_quiet("experiments.mp_pipe", params)
    assert out.returncode == -9, "the run ended by itself: it should hang until killed"
    assert out.leftovers == []
    assert out.result is None
    assert prints(out, "receiver") == ["Received: Message-0", "Received: Message-1", "Received: Message-2"]
    assert not [e for e in out.of("instant", "receiver") if e.name == "EOFError"]
    blocked = out.open_spans()
    assert blocked["receiver"][-1] == "Pipe.recv"
    assert blocked["main"][-1] == "Process.join"


@pytest.mark.parametrize("start_method", START_METHODS)
def test_pipe_fixed_variant_closes_unused_ends_and_the_receiver_gets_eof(start_method):
    params = {"variant": "fixed", "messages": 3, "start_method": start_method}
    out = finished(run_experiment("experiments.mp_pipe", params))
    assert out.open_spans() == {}
    assert prints(out, "receiver") == ["Received: Message-0", "Received: Message-1", "Received: Message-2"]
    assert "EOFError" in [e.name for e in out.of("instant", "receiver")]
    for worker in ("main", "sender", "receiver"):
        closes = [e for e in out.of("instant", worker) if e.name == "Connection.close"]
        assert len(closes) == 2, worker  # main: both ends; each child: the unused end, then its own
    assert out.result is not None, out.stderr
    assert out.result["receiver_exitcode"] == 0


# -- manager-dict ---------------------------------------------------------------------------


@pytest.mark.parametrize("start_method", START_METHODS)
def test_manager_dict_writes_are_requests_served_in_the_manager_process(start_method):
    out = finished(run_experiment("experiments.manager_dict", {"workers": 3, "start_method": start_method}))
    assert out.result is not None, out.stderr
    assert out.result["correct"] is True
    pids = lane_pids(out)
    manager_pid = pids["manager"]
    writers = [f"writer-{i}" for i in range(3)]
    assert len({pids["main"], manager_pid, *(pids[w] for w in writers)}) == 5
    for i, writer in enumerate(writers):
        request = span(out, writer, "DictProxy.__setitem__")
        assert request.category == "wait"
        served = span(out, f"manager · {writer}", f"__setitem__('Key-{i}', 'Value-{i}')")
        assert pids[f"manager · {writer}"] == manager_pid
        assert request.start_ns <= served.start_ns <= served.end_ns <= request.end_ns
    assert "__repr__()" in [s.name for s in out.spans("manager · MainProcess")]


# -- every interpreter, every experiment's metadata ----------------------------------------

NEW_MODULES: dict[str, dict[str, Any]] = {
    "experiments.thread_pool": {"workers": 3, "collect": "as_completed", "delays": "3,1,2", "delay_ms": 20},
    "experiments.io_threads_vs_processes": {"workers": 4, "tasks": 4, "duration_ms": 20, "start_method": "spawn"},
    "experiments.cpu_threads_vs_processes": {"workers": 2, "first": 15, "tasks": 2, "start_method": "spawn"},
    "experiments.fork": {"sleep_ms": 20},
    "experiments.process_pool_starmap": {"workers": 2, "tasks": 3, "unit_ms": 20, "start_method": "spawn"},
    "experiments.mp_queue": {"items": 2, "interval_ms": 10, "start_method": "spawn"},
    "experiments.mp_pipe": {"variant": "fixed", "messages": 2, "start_method": "spawn"},
    "experiments.manager_dict": {"workers": 2, "start_method": "spawn"},
}
OTHER_PYTHONS = {v: pyenv_python(v) for v in ("3.9.18", "3.13.0")}


@pytest.mark.parametrize("version", OTHER_PYTHONS)
@pytest.mark.parametrize("module", NEW_MODULES)
def test_experiment_runs_on_other_interpreters(module, version):
    python = OTHER_PYTHONS[version]
    if python is None:
        pytest.skip(f"no Python {version} under pyenv's versions")
    out = finished(run_experiment(module, NEW_MODULES[module], python=python))
    assert out.of("header")[0].value["python"] == version
    assert out.result is not None and out.result.get("correct", True)


@pytest.mark.parametrize("module", NEW_MODULES)
def test_experiment_describes_itself_and_its_defaults_are_valid(module):
    assert module in MODULES
    m = importlib.import_module(module)
    for text in (m.TITLE, m.SUMMARY, m.NOTICE, m.EXPECTED):
        assert text.strip() and "\n" not in text
    assert m.KIND in ("threads", "processes")
    defaults = params_module.defaults(m.PARAMS)
    assert params_module.validate(m.PARAMS, defaults) == defaults
    assert params_module.validate(m.PARAMS, NEW_MODULES[module]) == NEW_MODULES[module]
