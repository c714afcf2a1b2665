"""What a run page says about a run is computed from that run: each experiment's findings()."""

from __future__ import annotations

import importlib
import logging

import pytest

from app.model.experiments import load
from app.model.findings import findings as app_findings
from experiments import MODULES, process_pool_starmap
from experiments import io_threads_vs_processes as io
from experiments.harness.params import defaults


def said(module: str, params: dict, result: dict, python: str = "3.11.7") -> str:
    m = importlib.import_module(f"experiments.{module}")
    return " ".join(m.findings({**defaults(m.PARAMS), **params}, result, python))


@pytest.mark.parametrize("module", MODULES)
def test_every_experiment_has_findings(module):
    assert callable(getattr(importlib.import_module(module), "findings", None))


@pytest.mark.parametrize("module", MODULES)
def test_no_notice_claims_an_outcome_the_runs_contradicted(module):
    m = importlib.import_module(module)
    for claim in (
        "does not show on this interpreter",
        "at once, although",
        "about 3.3",
        "so it is rare",
        "none at all with permits=1",
    ):
        assert claim not in m.NOTICE and claim not in m.EXPECTED


# -- race-counter ---------------------------------------------------------------------------


def test_race_on_cpython_3_9_says_updates_were_lost_and_why():
    text = said(
        "race_counter", {"window": "none", "iterations": 1_000_000}, {"expected": 0, "actual": 168_253}, python="3.9.18"
    )
    assert "Updates were lost" in text and "168 253 of the 2 000 000 updates" in text
    assert "CPython 3.9 can switch threads between any two bytecodes" in text
    assert "No update was lost" not in text


def test_race_with_no_window_on_3_11_that_ended_right_says_why_and_that_it_is_still_a_bug():
    text = said("race_counter", {"window": "none"}, {"expected": 0, "actual": 0}, python="3.11.7")
    assert text.startswith("No update was lost this time")
    assert "CPython 3.11 only switches threads at calls and backward jumps" in text and "still a bug" in text


def test_race_with_a_call_window_that_ended_right_does_not_say_the_code_is_safe():
    text = said("race_counter", {"window": "call", "iterations": 1_000}, {"expected": 0, "actual": 0})
    assert "ran whole" not in text and "cancelled out" in text and "Run it again" in text


def test_race_with_three_workers_counts_the_loss_from_the_expected_value():
    text = said("race_counter", {"workers": 3, "iterations": 100_000}, {"expected": 100_000, "actual": 12_686})
    assert "ended at 12 686, not 100 000, so at least 87 314 of the 300 000" in text


PARALLEL = {"cores": 2, "phases": {}, "parallel": {"together_ms": 84.0, "span_ms": 175.0}}


@pytest.mark.parametrize("window", ["none", "call"])
def test_race_without_a_gil_blames_parallelism_from_the_runs_overlap_not_a_switch(window):
    m = importlib.import_module("experiments.race_counter")
    result = {"expected": 0, "actual": 5_000, "together_ms": 170.0, "gil_enabled": False}
    text = " ".join(m.findings({**defaults(m.PARAMS), "window": window}, result, "3.13.5", cpu=PARALLEL))
    assert "without a GIL" in text and "at the same time for at least 84.0 of the 175.0 ms" in text
    assert "switch" not in text and "pause()" not in text


def test_race_without_a_gil_whose_strips_were_not_measured_says_it_cannot_tell():
    m = importlib.import_module("experiments.race_counter")
    result = {"expected": 0, "actual": 0, "together_ms": 170.0, "gil_enabled": False}
    text = " ".join(m.findings(defaults(m.PARAMS), result, "3.13.5", cpu=None))
    assert "cannot tell how long its threads ran side by side" in text and "switch" not in text


def test_a_race_whose_threads_never_overlapped_does_not_say_losses_cancelled_out():
    text = said(
        "race_counter",
        {"window": "call", "iterations": 1_000},
        {"expected": 0, "actual": 0, "together_ms": 0.0, "gil_enabled": True},
    )
    assert "never ran at the same time" in text and "cancelled out" not in text


def test_together_counts_the_time_two_intervals_were_going_on_at_once():
    from experiments.harness.intervals import together_ns

    assert together_ns([(0, 10), (20, 30)]) == 0
    assert together_ns([(0, 10), (5, 30), (8, 9)]) == 5
    assert together_ns([]) == 0


# -- lock-counter ---------------------------------------------------------------------------


def test_lock_counter_with_many_workers_gives_the_measured_cost_per_update_not_rare_waits():
    text = said(
        "lock_counter", {"workers": 16, "iterations": 200_000}, {"expected": 0, "actual": 0, "run_call_ms": 22_400.0}
    )
    assert "3 200 000 updates by 16 threads took 22400 ms, 7.00 µs per update" in text
    assert "rare" not in text and "No update was lost" in text


def test_lock_counter_that_ended_wrong_says_so():
    text = said("lock_counter", {}, {"expected": 0, "actual": 3, "run_call_ms": 1.0})
    assert "ended at 3, not 0" in text and "No update was lost" not in text


# -- thread-pool ----------------------------------------------------------------------------

DEFAULT_POOL_RUN = {  # workers=2, collect=result, delays 3,1,2: what every interpreter measured
    "order": [0, 1, 2],
    "results": ["a", "b", "c"],
    "started_units": [0.0, 0.0, 1.0],
    "ready_units": [3.0, 1.0, 3.01],
    "received_units": [3.01, 3.01, 3.01],
}


def test_thread_pool_in_submit_order_names_the_result_that_sat_ready_and_only_that_one():
    text = said("thread_pool", {}, DEFAULT_POOL_RUN)
    assert "task 1 was ready at 1.00 units, received at 3.01" in text
    assert "task 2 was ready" not in text, "task 2 ends with task 0: it did not wait"
    assert "task 2 started only when a thread was free (at 1.00 units)" in text
    assert "the fetches ended in the order [1, 0, 2]" in text


def test_thread_pool_with_one_worker_says_results_came_as_soon_as_ready():
    result = {
        "order": [0, 1, 2],
        "results": [],
        "started_units": [0.0, 3.0, 4.0],
        "ready_units": [3.0, 4.0, 6.0],
        "received_units": [3.0, 4.0, 6.0],
    }
    text = said("thread_pool", {"workers": 1, "collect": "as_completed"}, result)
    assert "as soon as it was ready" in text and "tasks 1, 2 started only when a thread was free" in text


# -- io / cpu threads vs processes ----------------------------------------------------------


@pytest.mark.parametrize(("workers", "tasks", "ideal"), [(4, 10, 3.33), (4, 8, 4.0), (16, 1, 1.0), (1, 40, 1.0)])
def test_io_ideal_speedup_counts_the_rounds_of_tasks(workers, tasks, ideal):
    assert io.ideal_speedup(workers, tasks) == ideal


def test_io_defaults_say_3_33_at_best_in_3_rounds():
    result = {
        "serial_ms": 10013.7,
        "thread_ms": 3005.2,
        "process_ms": 3248.5,
        "thread_speedup": 3.33,
        "process_speedup": 3.08,
        "ideal_speedup": 3.33,
    }
    text = said("io_threads_vs_processes", {}, result)
    assert "At best 3.33×: 10 tasks in 3 rounds of up to 4" in text
    assert "The threads reached 100% of the ideal" in text and "243 ms longer than the thread pool" in text


def test_cpu_process_pool_slower_than_serial_says_so():
    result = {
        "serial_ms": 3753.8,
        "thread_ms": 4304.4,
        "process_ms": 5129.4,
        "thread_speedup": 0.87,
        "process_speedup": 0.73,
        "ideal_speedup": 2,
    }
    text = said("cpu_threads_vs_processes", {}, result)
    assert "The process pool was slower than serial" in text and "no faster than serial" in text
    assert "Processes were 0.84× as fast as threads" in text


# -- the edges: one worker, one task, zero durations, more permits than URLs -----------------


@pytest.mark.parametrize(
    ("workers", "tasks", "units"),
    [(2, 5, 4), (1, 1, 1), (8, 1, 1), (1, 3, 4), (3, 5, 3), (2, 20, 15), (3, 20, 12), (2, 12, 9)],
)
def test_starmap_best_schedule_hands_each_chunk_to_the_first_free_worker(workers, tasks, units):
    # (2, 20): chunks of 3 fit in 15 units, where task by task would take 16; (3, 20): chunks of 2, 12 against 11
    assert process_pool_starmap.best_schedule_units(workers, tasks) == units


def test_starmap_one_task_one_worker_puts_the_rest_on_start_up():
    text = said(
        "process_pool_starmap",
        {"workers": 1, "tasks": 1, "unit_ms": 10},
        {"results": ["Task 0 completed in 0.01 seconds"], "starmap_ms": 31.7},
    )
    assert "in task order" in text and "they fit in 1 unit; the other 2.17 went to starting the workers" in text


def test_thread_start_join_with_zero_sleeps_does_not_claim_main_ended_first():
    text = said("thread_start_join", {"duration1_ms": 0, "duration2_ms": 0}, {"main_ms": 1.0, "run_call_ms": 1.1})
    assert "may have finished first" in text and "while a task had" not in text


def test_thread_subclass_with_a_zero_fetch_cannot_show_the_overlap():
    text = said(
        "thread_subclass",
        {"duration1_ms": 0, "duration2_ms": 10_000},
        {"total_ms": 10008.2, "longest_ms": 10_000, "sum_ms": 10_000},
    )
    assert "too short for the overlap to show" in text


def test_semaphore_with_more_permits_than_urls_says_why_not_all_were_used():
    result = {"permits": 10, "max_concurrent": 1, "generator_took_permits": 0, "crawl_order": ["page0"]}
    text = said("semaphore_crawler", {"variant": "fixed", "permits": 10, "urls": 1, "crawl_ms": 50}, result)
    assert "there were only 1 crawler." in text and "the limit held" in text


def test_shared_list_tutorial_pollers_that_gave_up_before_the_items_came_say_so():
    result = {"wasted_polls": 30, "wasted_after_producer_done": 0, "wasted_per_poller": {}, "items_left": 10}
    text = said("shared_list_polling", {"produce_delay_ms": 2000, "give_up_ms": 1000}, result)
    assert "10 of 10 items were never processed" in text and "30 looks" in text


def test_queue_tutorial_consumers_left_blocked_say_the_run_cannot_end():
    text = said("queue_producer_consumer", {}, {"items": 10, "consumers_still_running": 3})
    assert "3 consumers were still running" in text and "cannot end by itself" in text


# -- app/model/findings.py: safe -------------------------------------------------------------------


def test_findings_that_raise_are_logged_and_show_nothing(caplog):
    def broken(params, result, python):
        raise KeyError("missing")

    exp = load("experiments.race_counter")
    exp = type(exp)(**{**exp.__dict__, "findings": broken})
    with caplog.at_level(logging.ERROR, logger="app.model.findings"):
        assert app_findings(exp, {}, {"expected": 0, "actual": 0}, "3.11.7") == []
    assert "findings of race-counter failed" in caplog.text


def test_no_result_or_no_findings_says_nothing():
    exp = load("experiments.race_counter")
    assert app_findings(exp, {}, None, "3.11.7") == []
    assert app_findings(type(exp)(**{**exp.__dict__, "findings": None}), {}, {"a": 1}, "3.11.7") == []
    assert app_findings(
        exp, {"workers": 2, "iterations": 1000, "window": "none"}, {"expected": 0, "actual": 0}, "3.9.18"
    )[0].startswith("No update was lost")


def test_a_speedup_that_fell_short_is_explained_by_what_the_lab_measured_not_guessed():
    from experiments import cpu_threads_vs_processes as cpu_exp

    params = {"workers": 2, "first": 30, "tasks": 5, "start_method": "spawn"}
    slow = {
        "serial_ms": 1000,
        "thread_ms": 990,
        "process_ms": 1100,
        "thread_speedup": 1.01,
        "process_speedup": 0.91,
        "ideal_speedup": 2,
    }
    busy = {
        "cores": 2,
        "others_busy_cores": 0.8,
        "phases": {"process pool": {"others_busy_cores": 0.9}, "serial": {"others_busy_cores": 0.0}},
    }
    free = {"cores": 2, "others_busy_cores": 0.05, "phases": {"process pool": {"others_busy_cores": 0.05}}}
    assert "other programs used 0.9 of 2 cores while it ran" in cpu_exp.verdict(params, slow, "3.11.7", cpu=busy)[1]
    assert "the run cannot tell what did" in cpu_exp.verdict(params, slow, "3.11.7", cpu=free)[1]
    assert "not measured" in cpu_exp.verdict(params, slow, "3.11.7")[1]
    fast_threads = {**slow, "thread_speedup": 1.5, "process_speedup": 1.9}
    said = " ".join(
        cpu_exp.findings(
            params, fast_threads, "3.11.7", cpu={"cores": 2, "phases": {"serial": {"others_busy_cores": 1.2}}}
        )
    )
    assert "other programs used 1.2 cores during the serial run" in said
    no_gil = {**fast_threads, "gil_enabled": False}
    assert "they ran Python side by side" in " ".join(cpu_exp.findings(params, no_gil, "3.13.5"))
    # 3.13.5t measured here: no GIL, and still no faster; the sentence must not claim they ran side by side
    slow_no_gil = {**slow, "thread_speedup": 0.94, "gil_enabled": False}
    said = " ".join(cpu_exp.findings(params, slow_no_gil, "3.13.5"))
    assert "0.94× as fast as serial although" in said and "they ran Python side by side" not in said
    pool = {"cores": 2, "phases": {"thread pool": {"start_ms": 100.0, "end_ms": 1100.0, "together_ms": 850.0}}}
    said = " ".join(cpu_exp.findings(params, no_gil, "3.13.5", cpu=pool))
    assert (
        "side by side (by their on-CPU strips, two or more were on CPUs at once for at least 850 ms of the pool's "
        "1000 ms)" in said
    )
    assert cpu_exp.verdict(params, no_gil, "3.13.5")[1].startswith("Without a GIL")


# -- a cause named only when the run singles it out ------------------------------------------------

CPU_PARAMS = {"workers": 2, "first": 30, "tasks": 5, "start_method": "spawn"}
SLOW_POOL = {
    "serial_ms": 3000,
    "thread_ms": 3000,
    "process_ms": 4800,
    "thread_speedup": 1.0,
    "process_speedup": 0.63,
    "ideal_speedup": 2,
}


def pool_budget(others: float, first_task_ms: float | None, resolution: float = 0.02) -> dict:
    return {
        "cores": 2,
        "phases": {
            "process pool": {
                "others_busy_cores": others,
                "first_task_ms": first_task_ms,
                "resolution_cores": resolution,
            }
        },
    }


def test_a_process_pool_whose_first_task_began_late_is_blamed_on_start_up_not_on_other_programs():
    from experiments import cpu_threads_vs_processes as cpu_exp

    text = " ".join(cpu_exp.findings(CPU_PARAMS, SLOW_POOL, "3.11.7", cpu=pool_budget(0.1, 1_700.0)))
    assert "its first task began only 1700 ms into it, starting the processes: 52% of the 3300 ms" in text
    assert "other programs used" not in text


def test_a_process_pool_slowed_by_other_programs_names_them_and_not_start_up():
    from experiments import cpu_threads_vs_processes as cpu_exp

    text = " ".join(cpu_exp.findings(CPU_PARAMS, SLOW_POOL, "3.11.7", cpu=pool_budget(0.9, 66.0)))
    assert "other programs used 0.9 of 2 cores while it ran" in text and "starting the processes" not in text


def test_a_process_pool_neither_cause_accounts_for_gives_the_figures_and_says_the_run_cannot_tell():
    from experiments import cpu_threads_vs_processes as cpu_exp

    text = " ".join(cpu_exp.findings(CPU_PARAMS, SLOW_POOL, "3.11.7", cpu=pool_budget(0.1, 66.0)))
    assert "its first task began 66.0 ms into it, other programs used 0.1 cores meanwhile" in text
    assert "the run cannot tell what did" in text
    # load within the figure's resolution is not singled out either
    text = " ".join(cpu_exp.findings(CPU_PARAMS, SLOW_POOL, "3.11.7", cpu=pool_budget(0.35, 66.0, resolution=0.4)))
    assert "the run cannot tell what did" in text


def test_one_worker_with_both_pools_faster_than_a_loaded_serial_run_does_not_call_it_overhead():
    from experiments import cpu_threads_vs_processes as cpu_exp

    result = {
        "serial_ms": 1500,
        "thread_ms": 1000,
        "process_ms": 1200,
        "thread_speedup": 1.5,
        "process_speedup": 1.25,
        "ideal_speedup": 1,
    }
    loaded = {"cores": 2, "phases": {"serial": {"others_busy_cores": 1.1, "resolution_cores": 0.03}}}
    text = " ".join(cpu_exp.findings({**CPU_PARAMS, "workers": 1}, result, "3.11.7", cpu=loaded))
    assert "yet both pools were faster than serial: other programs used 1.1 cores during the serial run" in text
    assert "overhead" not in text
    text = " ".join(cpu_exp.findings({**CPU_PARAMS, "workers": 1}, result, "3.11.7", cpu=None))
    assert "the run cannot tell why" in text and "overhead" not in text
