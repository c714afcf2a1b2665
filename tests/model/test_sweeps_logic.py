"""Sweeps, pure (app/model/sweeps.py, app/drawing/sweeps.py, app/drawing/sweep_plot.py): points, speedup lines,
the ideal, the plot's places."""

from __future__ import annotations

import pytest

from app.drawing.sweep_plot import layout
from app.drawing.sweeps import (
    BASELINE,
    IDEAL,
    Outcome,
    free_cores,
    ideal,
    lines,
    sentences,
    table,
)
from app.model.sweeps import MAX_POINTS, expand, shared, status, worker_choices
from experiments.cpu_threads_vs_processes import PARAMS as CPU
from experiments.harness.params import Choice, Int, ParamError

SPECS = (Int("workers", 2, 1, 8), Int("tasks", 5, 1, 10), Choice("python", "3.11", ("3.9", "3.11")))


def test_points_are_the_product_of_the_lists_over_the_params_and_their_defaults():
    points = expand(SPECS, {"tasks": 3}, {"workers": [1, 2], "python": ["3.9", "3.11"]})
    assert points == [
        {"workers": 1, "tasks": 3, "python": "3.9"},
        {"workers": 1, "tasks": 3, "python": "3.11"},
        {"workers": 2, "tasks": 3, "python": "3.9"},
        {"workers": 2, "tasks": 3, "python": "3.11"},
    ]
    assert len(expand(SPECS, {}, {"workers": list(range(1, 9)), "python": ["3.9", "3.11"]})) == MAX_POINTS == 16


def test_the_params_every_point_shares_are_all_but_the_varied_ones():
    vary: dict[str, list[object]] = {"workers": [1, 2], "python": ["3.9", "3.11"]}
    assert shared(expand(SPECS, {"tasks": 3}, vary), vary) == {"tasks": 3}  # what the sweep page lists once
    assert shared(expand(SPECS, {}, {"workers": [4]}), {"workers": [4]}) == {"tasks": 5, "python": "3.11"}


@pytest.mark.parametrize(
    "params, vary, said",
    [
        ({"turbo": 1}, {"workers": [1]}, "turbo: unknown parameter"),
        ({}, {"turbo": [1]}, "vary.turbo: unknown parameter (known: python, tasks, workers)"),
        ({}, {"workers": []}, "vary.workers: empty list"),
        ({}, {"workers": [1, 1]}, "vary.workers: 1 is listed twice"),
        ({}, {"workers": [1, 9]}, "workers: must be an integer from 1 to 8, got 9"),
        ({"tasks": 0}, {"workers": [1, 2]}, "tasks: must be an integer from 1 to 10, got 0"),
        ({}, {"python": ["3.9", "2.7"]}, "python: must be one of '3.9', '3.11', got '2.7'"),
        ({}, {}, "vary: name at least one param"),
        (
            {},
            {"workers": [1, 2, 3, 4, 5, 6], "tasks": [1, 2, 3]},
            "vary: 6 workers × 3 tasks make 18 points; a sweep has at most 16",
        ),
    ],
)
def test_bad_sweeps_name_the_param_and_the_bound(params, vary, said):
    with pytest.raises(ParamError) as raised:
        expand(SPECS, params, vary)
    assert any(said in error for error in raised.value.errors), raised.value.errors


def test_a_problem_shared_by_every_point_is_said_once():
    with pytest.raises(ParamError) as raised:
        expand(SPECS, {"tasks": 99}, {"workers": [1, 2, 4]})
    assert raised.value.errors == ["tasks: must be an integer from 1 to 10, got 99"]


def test_the_ideal_is_the_fewest_of_workers_free_cores_and_tasks():
    assert ideal(4, 2.0, 10) == 2.0
    assert ideal(1, 2.0, 10) == 1.0
    assert ideal(8, 4.0, 3) == 3.0
    assert ideal(8, 1.6) == 1.6  # no tasks param: only workers and cores bound it


def test_free_cores_are_the_budget_s_cores_less_what_others_used_at_least_one():
    assert free_cores(4, 0.5, 8) == 3.5
    assert free_cores(2, 1.9, 2) == 1.0
    assert free_cores(2, None, 2) == 2.0  # the machine's busy time unreadable: none counted
    assert free_cores(None, None, 8) == 8.0  # not measured: the CPUs the runner reported
    assert free_cores(None, None, None) is None


def own(workers, run_id, thread, process, python="3.11", status="done", free=2.0):
    result = {"thread_speedup": thread, "process_speedup": process, "ideal_speedup": 2, "run_call_ms": 100.0}
    return Outcome(
        {"workers": workers, "tasks": 5, "python": python},
        run_id,
        status,
        result if status == "done" else None,
        free if status == "done" else None,
    )


VARY = {"workers": [1, 2, 4], "python": ["3.9", "3.11"]}


def test_the_results_own_speedups_make_a_line_each_per_value_of_the_other_varied_param():
    outcomes = [
        own(1, "a", 1.0, 0.9, "3.9"),
        own(2, "b", 1.0, 1.8, "3.9"),
        own(4, "c", 0.9, 1.9, "3.9"),
        own(1, "d", 1.0, 0.9),
        own(2, "e", 1.7, 1.8),
        own(4, "f", 0, 0, status="running"),
    ]
    found = lines(VARY, outcomes)
    assert [(line.group, line.figure) for line in found] == [
        ((("python", "3.9"),), "thread_speedup"),
        ((("python", "3.9"),), "process_speedup"),
        ((("python", "3.9"),), IDEAL),
        ((("python", "3.11"),), "thread_speedup"),
        ((("python", "3.11"),), "process_speedup"),
        ((("python", "3.11"),), IDEAL),
    ]
    process_39 = found[1]
    assert [(m.workers, m.value, m.run_id) for m in process_39.marks] == [(1, 0.9, "a"), (2, 1.8, "b"), (4, 1.9, "c")]
    assert [(m.workers, m.value) for m in found[2].marks] == [
        (1, 1.0),
        (2, 2.0),
        (4, 2.0),
    ]  # min(workers, 2 cores, 5 tasks)
    assert [m.run_id for m in found[3].marks] == ["d", "e"]  # the running point has no mark yet
    assert found[4].label == "process pool's speedup over serial (python=3.11)"


def test_without_speedups_of_its_own_a_point_s_speedup_is_over_the_workers_1_point_of_its_line():
    def timed(workers, run_id, ms, python="3.11"):
        return Outcome({"workers": workers, "python": python}, run_id, "done", {"run_call_ms": ms}, 4.0)

    found = lines(
        {"workers": [1, 2, 4], "python": ["3.9", "3.11"]},
        [timed(1, "a", 400.0), timed(2, "b", 200.0), timed(4, "c", 160.0), timed(2, "d", 100.0, "3.9")],
    )
    by = {(line.group, line.figure): line for line in found}
    assert [(m.workers, m.value) for m in by[((("python", "3.11"),), BASELINE)].marks] == [(1, 1.0), (2, 2.0), (4, 2.5)]
    no_base = by[((("python", "3.9"),), BASELINE)]
    assert no_base.marks == () and "no point with workers=1" in no_base.note
    assert [(m.workers, m.value) for m in by[((("python", "3.11"),), IDEAL)].marks] == [(1, 1.0), (2, 2.0), (4, 4.0)]
    assert any("no point with workers=1" in s for s in sentences(found))


def test_a_line_whose_workers_1_point_is_still_running_waits_for_it_and_one_without_any_does_not():
    # lock-counter's workers start at 2: a sweep of it never has a workers=1 point to wait for
    def point(workers, run_id, status="done"):
        return Outcome({"workers": workers}, run_id, status, {"run_call_ms": 100.0} if status == "done" else None, 2.0)

    (without, _) = lines({"workers": [2, 4]}, [point(2, "a"), point(4, "b")])
    assert "has no point with workers=1" in without.note and "finished" not in without.note
    (waiting, _) = lines({"workers": [1, 2]}, [point(1, "a", "running"), point(2, "b")])
    assert "has not finished" in waiting.note


def test_the_sentences_carry_the_measured_figures_and_say_where_a_speedup_passed_the_ideal():
    outcomes = [own(1, "a", 1.0, 0.95), own(2, "b", 2.6, 1.8), own(4, "c", 3.1, 1.9)]
    said = sentences(lines({"workers": [1, 2, 4]}, outcomes))
    thread, process = said
    assert thread.startswith(
        "thread pool's speedup over serial: 1.00× with 1 worker, 2.60× with 2 workers, 3.10× with 4 workers."
    )
    assert "Above the ideal at workers=2 (2.60× against 2.00×) and workers=4 (3.10× against 2.00×)" in thread
    assert "Its best, 1.90× at workers=4, is 95% of the ideal there (2.00×)." in process and "Above" not in process


def test_tasks_that_wait_take_the_run_s_own_ideal_which_no_core_bounds():
    """io-threads-vs-processes: 10 sleeps on 4 workers go in 3 rounds, 3.33 at best, on 2 cores."""

    def io(workers, run_id, thread, own_ideal, status="done"):
        result = {"thread_speedup": thread, "process_speedup": 1.0, "ideal_speedup": own_ideal}
        return Outcome(
            {"workers": workers, "tasks": 10},
            run_id,
            status,
            result if status == "done" else None,
            2.0 if status == "done" else None,
        )

    outcomes = [io(1, "a", 1.0, 1.0), io(4, "b", 3.2, 3.33), io(8, "c", 0, 0, status="running")]
    found = lines({"workers": [1, 4, 8]}, outcomes, tasks_wait=True)
    (drawn_ideal,) = [line for line in found if line.figure == IDEAL]
    assert [(m.workers, m.value) for m in drawn_ideal.marks] == [(1, 1.0), (4, 3.33)]  # not min(4, 2 cores)
    assert drawn_ideal.label == "ideal: the run's own ideal_speedup: its tasks wait, needing no core"
    thread = sentences(found)[0]
    assert "96% of the ideal there (3.33×)" in thread and "Above the ideal" not in thread
    # The same figures read as work that needs a core: the threads would pass a 2-core ideal.
    assert "Above the ideal at workers=4 (3.20× against 2.00×)" in sentences(lines({"workers": [1, 4, 8]}, outcomes))[0]
    assert table({"workers": [1, 4, 8]}, outcomes, found, tasks_wait=True).columns[0].title.startswith("the run's own")


def test_the_table_has_a_row_per_point_with_its_figures():
    outcomes = [own(1, "a", 1.0, 0.95), own(2, "b", 1.1, 1.8, status="queued")]
    t = table({"workers": [1, 2]}, outcomes, lines({"workers": [1, 2]}, outcomes))
    names = [c.name for c in t.columns]
    assert names[:2] == ["ideal", "free cores"] and "process_speedup" in names and "run_call_ms" in names
    done, queued = t.rows
    assert done.varied == ("1",) and done.cells[names.index("process_speedup")] == "0.95"
    assert queued.status_words == "queued" and set(queued.cells) == {"—"}


def test_the_plot_places_a_mark_per_finished_run_on_linear_axes_from_zero():
    outcomes = [own(1, "a", 1.0, 0.9), own(2, "b", 1.0, 1.8), own(4, "c", 0.9, 1.9), own(8, "d", 0, 0, status="queued")]
    found = lines({"workers": [1, 2, 4, 8]}, outcomes)
    plot = layout(found, [1, 2, 4, 8])
    assert plot is not None, "some runs finished: a plot"
    process = next(t for t in plot.traces if t.figure == "process_speedup")
    assert [d.run_id for d in process.dots] == ["a", "b", "c"]
    xs = [d.x for d in process.dots]
    assert xs == sorted(xs) and xs[1] - plot.left == pytest.approx(
        2 * (xs[0] - plot.left), abs=0.2
    )  # linear in workers
    assert process.dots[0].y > process.dots[1].y  # a higher speedup is higher up
    assert plot.x_ticks[-1].label == "8" and plot.x_ticks[-1].at == plot.right  # the axis holds the point still queued
    zero = next(t for t in plot.y_ticks if t.label == "0")
    assert zero.at == plot.bottom and max(float(t.label) for t in plot.y_ticks) >= 2.0  # the ideal fits
    assert len({t.shape for t in plot.traces if not t.ideal}) == 2  # the two measured lines differ by marker too


def test_the_sweep_is_queued_then_running_then_finished():
    assert status(["queued", "queued"]) == "queued"
    assert status(["done", "queued"]) == "running"
    assert status(["done", "failed", "interrupted"]) == "finished"


def test_the_experiment_page_offers_powers_of_two_within_the_workers_bounds():
    assert worker_choices(CPU) == [1, 2, 4, 8]
    assert worker_choices((Int("workers", 2, 2, 12),)) == [2, 4, 8, 12]
    assert worker_choices((Int("workers", 10, 10, 40),)) == [10, 16, 32, 40]
    assert worker_choices((Int("workers", 1, 1, 1),)) == []  # nothing to sweep
    assert worker_choices((Int("items", 1, 1, 9),)) == []


def test_before_any_run_has_finished_there_is_no_measured_line_to_name():
    queued = [own(1, "a", 0, 0, status="queued"), own(2, "b", 0, 0, status="running")]
    found = lines({"workers": [1, 2]}, queued)
    assert [(line.figure, line.marks) for line in found] == [(IDEAL, ())]
    assert sentences(found) == []
