"""The result panel in words: labels and units, tables, the speedup chart, and each experiment's verdict."""

from __future__ import annotations

import importlib
import re
from typing import Any

import pytest

from app.drawing.result_words import Worded, speedup_chart, worded_value, words_for
from app.model.experiments import load
from app.model.findings import Verdict
from app.model.runs import Run
from app.model.status import Status
from experiments.harness.params import defaults
from tests.helpers import templates


def finished(
    module: str, result: dict[str, Any], params: dict[str, object] | None = None, python: str = "3.11.7"
) -> Run:
    run = Run("r1", load(module), {**defaults(importlib.import_module(module).PARAMS), **(params or {})})
    from app.model.events import Event

    run.ingest(
        [Event("header", 1, "main", value={"python": python, "pid": 1}), Event("result", 2, "main", value=result)]
    )
    run.finish(Status.DONE)
    return run


def worded(run: Run) -> Worded:
    """What the result panel says about `run`, which has a result."""
    found = words_for(run)
    assert found is not None, "a run with a result is worded"
    return found


def test_run_call_ms_is_worded_with_its_unit_and_unknown_keys_by_their_suffix():
    assert (worded_value("run_call_ms", 2.514).label, worded_value("run_call_ms", 2.514).text) == (
        "run() took",
        "2.51 ms",
    )
    assert worded_value("thread_speedup", 1.5).text == "1.50×"
    assert (worded_value("warmup_ms", 1234.0).label, worded_value("warmup_ms", 1234.0).text) == ("warmup", "1 234 ms")
    assert worded_value("max_concurrent", 3).label == "most permits in use at once"


def test_lists_and_dicts_are_tables_not_python_reprs():
    across = worded_value("crawl_order", ["page0", "page2", "page1"]).table
    assert across is not None
    assert across.across and across.head == ("1", "2", "3") and across.rows == [("page0", "page2", "page1")]
    by_key = worded_value("wasted_per_poller", {"Processor-1": 4, "Processor-2": 1200}).table
    assert by_key is not None and by_key.rows == [("Processor-1", "4"), ("Processor-2", "1 200")]
    long = worded_value("results", list(range(80))).table
    assert long is not None and not long.across and len(long.rows) == 50 and long.more == 30


def test_the_result_panel_has_no_python_repr_left():
    run = finished(
        "experiments.manager_dict",
        {"expected": {"w0": 0, "w1": 1}, "actual": {"w0": 0, "w1": 1}, "correct": True, "run_call_ms": 40.0},
    )
    html = templates().get_template("_result.html").render(run=run)
    assert "{" not in html.split("<h2>Result</h2>")[1].split("CPU budget")[0]
    assert "<th>run() took</th><td>40.0 ms</td>" in re.sub(r"\s+(?=<)", "", html)
    assert 'class="verdict verdict-shown"' in html and "All 2 workers&#39; writes reached" in html


def test_the_speedup_chart_has_serial_threads_processes_and_the_ideal_time():
    chart = speedup_chart({"serial_ms": 800.0, "thread_ms": 1600.0, "process_ms": 500.0, "ideal_speedup": 2})
    assert chart is not None
    assert [(b.label, b.ms, b.width) for b in chart.bars] == [
        ("serial, on main", 800.0, 50.0),
        ("thread pool", 1600.0, 100.0),
        ("process pool", 500.0, 31.25),
        ("ideal (2.00× faster)", 400.0, 25.0),
    ]
    assert chart.bars[2].words == "500 ms (1.60× serial)"
    assert speedup_chart({"expected": 0, "actual": 0}) is None


def test_the_chart_is_drawn_for_the_threads_vs_processes_runs_only():
    report = {
        "serial_ms": 845.0,
        "thread_ms": 1664.0,
        "process_ms": 920.0,
        "thread_speedup": 0.51,
        "process_speedup": 0.92,
        "ideal_speedup": 2,
        "results": [1, 2],
    }
    html = templates().get_template("_result.html").render(run=finished("experiments.cpu_threads_vs_processes", report))
    assert len(re.findall(r'<svg y="\d+" height="38" width="100%" class="bar bar-\d[^"]*"', html)) == 4
    three_pools = {**report, "interpreter_ms": 560.0, "interpreter_speedup": 1.51, "interpreters": 2}
    html = templates().get_template("_result.html").render(run=finished("experiments.interpreters_cpu", three_pools))
    assert len(re.findall(r'<svg y="\d+" height="38" width="100%" class="bar bar-\d[^"]*"', html)) == 5
    assert html.count("bar-ideal") == 1
    assert "interpreter pool" in html and "(1.51× serial)" in html
    html = (
        templates()
        .get_template("_result.html")
        .render(run=finished("experiments.lock_counter", {"expected": 0, "actual": 0, "correct": True}))
    )
    assert 'class="speedup"' not in html


# For each experiment, two results its lesson tells apart: the verdict must follow the result.
SPEEDUP = {
    "serial_ms": 800.0,
    "thread_ms": 790.0,
    "process_ms": 420.0,
    "thread_speedup": 1.01,
    "process_speedup": 1.9,
    "ideal_speedup": 2,
}
SLOW = {**SPEEDUP, "process_ms": 900.0, "process_speedup": 0.89}
INTERPRETERS = {
    **SPEEDUP,
    "interpreter_ms": 470.0,
    "interpreter_speedup": 1.7,
    "interpreters": 2,
    "interpreter_pool": "backport",
}
INTERPRETERS_SLOW = {**INTERPRETERS, "interpreter_ms": 850.0, "interpreter_speedup": 0.94}
IO_FAST = {**SPEEDUP, "thread_ms": 250.0, "thread_speedup": 3.2, "ideal_speedup": 4}
IO_SLOW = {**IO_FAST, "thread_ms": 790.0, "thread_speedup": 1.01}
PAIRS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {  # module -> two results worded apart
    "race_counter": ({"expected": 0, "actual": 1234}, {"expected": 0, "actual": 0}),
    "lock_counter": ({"expected": 0, "actual": 0}, {"expected": 0, "actual": 7}),
    "rlock_counter": ({"expected": 0, "actual": 0}, {"expected": 0, "actual": 7}),
    "thread_start_join": ({"main_ms": 0.4, "total_ms": 2010.0}, {"main_ms": 0.4, "total_ms": 3010.0}),
    "thread_subclass": (
        {"total_ms": 2004.0, "longest_ms": 2000, "sum_ms": 3000},
        {"total_ms": 3004.0, "longest_ms": 2000, "sum_ms": 3000},
    ),
    "shared_list_polling": (
        {"wasted_polls": 40, "wasted_per_poller": {}, "wasted_after_producer_done": 10, "items_left": 0},
        {"wasted_polls": 0, "wasted_per_poller": {}, "wasted_after_producer_done": 0, "items_left": 0},
    ),
    "queue_producer_consumer": (
        {"items": 10, "consumers_still_running": 3},
        {"items": 10, "consumers_still_running": 0},
    ),
    "condition_dialogue": ({"dialogue": "finished"}, {"dialogue": "stopped"}),
    "semaphore_crawler": (
        {"permits": 3, "max_concurrent": 3, "generator_took_permits": 0, "crawl_order": []},
        {"permits": 3, "max_concurrent": 4, "generator_took_permits": 0, "crawl_order": []},
    ),
    "thread_pool": (
        {
            "order": [0, 1, 2],
            "results": [],
            "ready_units": [3, 1, 2],
            "started_units": [0, 0, 0],
            "received_units": [3, 3, 3],
        },
        {
            "order": [1, 2, 0],
            "results": [],
            "ready_units": [3, 1, 2],
            "started_units": [0, 0, 0],
            "received_units": [3, 1, 2],
        },
    ),
    "cpu_threads_vs_processes": (SPEEDUP, SLOW),
    "io_threads_vs_processes": (IO_FAST, IO_SLOW),
    "interpreters_cpu": (INTERPRETERS, INTERPRETERS_SLOW),
    "fork": (
        {"parent_pid": 10, "child_pid": 11, "child_exit_code": 0},
        {"parent_pid": 10, "child_pid": 11, "child_exit_code": 1},
    ),
    "process_pool_starmap": (
        {"results": ["Task 0 done", "Task 1 done"], "starmap_ms": 2100.0},
        {"results": ["Task 1 done", "Task 0 done"], "starmap_ms": 2100.0},
    ),
    "mp_queue": (
        {"items": 5, "producer_exitcode": 0, "consumer_exitcode": 0},
        {"items": 5, "producer_exitcode": 0, "consumer_exitcode": 1},
    ),
    "asyncio_gather": (
        {
            "results": 5,
            "waits_ms": 2500.0,
            "asyncio_ms": 510.0,
            "thread_ms": 520.0,
            "asyncio_speedup": 4.9,
            "thread_speedup": 4.8,
            "rounds": 1,
        },
        {
            "results": 5,
            "waits_ms": 2500.0,
            "asyncio_ms": 2400.0,
            "thread_ms": 520.0,
            "asyncio_speedup": 1.04,
            "thread_speedup": 4.8,
            "rounds": 1,
        },
    ),
    "asyncio_blocked_loop": (
        {"call_ms": 500.0, "blocked_ms": 500.0, "ticks_during_call": 0, "ticks": 20},
        {"call_ms": 500.0, "blocked_ms": 40.0, "ticks_during_call": 9, "ticks": 20},
    ),
    "asyncio_queue": (
        {"items": 10, "consumers_still_running": 3, "consumers_cancelled": 3},
        {"items": 10, "consumers_still_running": 0, "consumers_cancelled": 0},
    ),
    "mp_pipe": (
        {"messages": 5, "sender_exitcode": 0, "receiver_exitcode": 0},
        {"messages": 5, "sender_exitcode": 0, "receiver_exitcode": -9},
    ),
    "manager_dict": (
        {"expected": {"a": 1, "b": 2}, "actual": {"a": 1, "b": 2}},
        {"expected": {"a": 1, "b": 2}, "actual": {"a": 1}},
    ),
}


def test_every_experiment_has_a_verdict_and_a_pair_of_results_for_it():
    from experiments import MODULES

    assert {m.split(".")[1] for m in MODULES} == set(PAIRS)


@pytest.mark.parametrize("module", sorted(PAIRS))
def test_each_verdict_is_computed_from_the_result_never_canned(module):
    one, other = (worded(finished(f"experiments.{module}", dict(result))).verdict for result in PAIRS[module])
    assert one is not None and other is not None
    assert one.words != other.words and (one.shown, other.shown) != (None, None)
    assert one.words.strip() and other.words.strip()


def test_verdicts_say_what_the_issue_asks_for():
    def said(module: str, result: dict[str, Any], **params: object) -> Verdict:
        verdict = worded(finished(f"experiments.{module}", result, params)).verdict
        assert verdict is not None, f"{module} has a verdict"
        return verdict

    assert said("lock_counter", {"expected": 0, "actual": 0}).words.startswith("The lock kept every update")
    sem = said("semaphore_crawler", {"permits": 3, "max_concurrent": 3, "generator_took_permits": 0, "crawl_order": []})
    assert sem.shown and "never let more than 3 in" in sem.words
    slow = said("cpu_threads_vs_processes", SLOW)
    assert slow.shown is False and "not faster this time" in slow.words and "was not measured" in slow.words
    side_by_side = said("interpreters_cpu", INTERPRETERS)
    assert side_by_side.shown and "1.70× as fast as serial, threads 1.01×" in side_by_side.words
    slow = said("interpreters_cpu", INTERPRETERS_SLOW)
    assert slow.shown is False and "not faster this time" in slow.words and "was not measured" in slow.words


def test_a_verdict_that_raises_says_nothing_and_does_not_break_the_panel(caplog):
    run = finished("experiments.lock_counter", {"expected": 0})  # no "actual": verdict and findings raise
    said = worded(run)
    assert said.verdict is None and not said.counter
    assert [v.key for v in said.values] == ["expected", "python"]
    assert "verdict of lock-counter failed" in caplog.text
