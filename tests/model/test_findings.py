"""What a run page says of a run's outcome, through its experiment's findings() and verdict() (app/model/findings.py).

Pure: an experiment built from a real module, with its findings or verdict replaced where a test needs one
that raises or returns odd values. tests/experiments/test_findings_words.py has each experiment's own words.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import pytest

from app.model.cpu import Budget, Stretch
from app.model.experiments import Experiment, load
from app.model.findings import Verdict, cpu_data, findings, verdict
from app.model.overlap import Overlap

RACE = load("experiments.race_counter")
PARAMS = {"workers": 2, "iterations": 1000, "window": "call"}

BUDGET = Budget(
    cores=2,
    workers_busy_cores=1.5,
    others_busy_cores=0.2,
    on_cpu_ms={"main": 10.0},
    recorder_ms=1.0,
    sampler_ms=2.0,
    unlaned_ms=0.0,
    waited_for_cpu_ms=0.0,
    phases=[
        Stretch("thread pool", 10.0, 510.0, 1.8, 0.1, 0.05, 0.02, 3.5, 420.0),
        Stretch("process pool", 510.0, 900.0, 1.9, None),
    ],
    parallel=Overlap(84.0, 175.0),
)


def test_a_budget_reaches_an_experiment_as_plain_data_by_phase():
    assert cpu_data(BUDGET) == {
        "cores": 2,
        "others_busy_cores": 0.2,
        "phases": {
            "thread pool": {
                "workers_busy_cores": 1.8,
                "others_busy_cores": 0.1,
                "start_ms": 10.0,
                "end_ms": 510.0,
                "resolution_cores": 0.05,
                "first_task_ms": 3.5,
                "together_ms": 420.0,
            },
            "process pool": {
                "workers_busy_cores": 1.9,
                "others_busy_cores": None,
                "start_ms": 510.0,
                "end_ms": 900.0,
                "resolution_cores": 0.0,
                "first_task_ms": None,
                "together_ms": None,
            },
        },
        "parallel": {"together_ms": 84.0, "span_ms": 175.0},
    }
    assert cpu_data(replace(BUDGET, parallel=None))["parallel"] is None  # type: ignore[index]
    assert cpu_data(None) is None


def test_findings_that_take_the_budget_get_it_and_the_others_do_not():
    got: dict[str, Any] = {}

    def with_cpu(params: dict[str, Any], result: dict[str, Any], python: str, cpu: Any = None) -> list[str]:
        got.update(params=params, result=result, python=python, cpu=cpu)
        return ["said", 3]  # type: ignore[list-item]

    def without(params: dict[str, Any], result: dict[str, Any], python: str) -> list[str]:
        got.update(python=python)
        return ["plain"]

    assert findings(replace(RACE, findings=with_cpu), PARAMS, {"a": 1}, "3.11.7", BUDGET) == ["said", "3"]
    assert got == {"params": PARAMS, "result": {"a": 1}, "python": "3.11.7", "cpu": cpu_data(BUDGET)}
    assert findings(replace(RACE, findings=without), PARAMS, {"a": 1}, None, BUDGET) == ["plain"]
    assert got["python"] == ""  # an interpreter not known is passed as ""


def test_a_verdict_is_whether_the_run_showed_the_lesson_and_one_sentence():
    shown = verdict(RACE, PARAMS, {"expected": 0, "actual": 7}, "3.11.7")
    assert shown == Verdict(True, "The race lost updates: the counter ended at 7, not 0 (at least 7 lost).")
    assert shown.tone == "shown"
    missed = verdict(RACE, PARAMS, {"expected": 0, "actual": 0}, "3.11.7")
    assert missed is not None and missed.shown is False and missed.tone == "not-shown"
    assert Verdict(None, "cannot tell").tone == "unsure"


def test_a_verdict_of_truthy_or_falsy_values_is_read_as_shown_or_not_and_none_as_cannot_tell():
    def judge(value: Any) -> Experiment:
        def judged(params: dict[str, Any], result: dict[str, Any], python: str) -> Any:
            return value, 42

        return replace(RACE, verdict=judged)

    assert verdict(judge(1), PARAMS, {"a": 1}, "3.11.7") == Verdict(True, "42")
    assert verdict(judge(0), PARAMS, {"a": 1}, "3.11.7") == Verdict(False, "42")
    assert verdict(judge(None), PARAMS, {"a": 1}, "3.11.7") == Verdict(None, "42")
    seen: list[Any] = []

    def with_cpu(params: dict[str, Any], result: dict[str, Any], python: str, cpu: Any = None) -> Any:
        seen.append((python, cpu))
        return True, ""

    verdict(replace(RACE, verdict=with_cpu), PARAMS, {"a": 1}, None, BUDGET)
    assert seen == [("", cpu_data(BUDGET))]


def test_no_result_or_no_verdict_judges_nothing():
    assert verdict(RACE, PARAMS, None, "3.11.7") is None
    assert verdict(RACE, PARAMS, {}, "3.11.7") is None
    assert verdict(replace(RACE, verdict=None), PARAMS, {"a": 1}, "3.11.7") is None
    assert findings(RACE, PARAMS, {}, "3.11.7") == []


@pytest.mark.parametrize("part", ["findings", "verdict"])
def test_a_findings_or_verdict_that_raises_is_logged_and_shows_nothing(
    part: str, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(params: dict[str, Any], result: dict[str, Any], python: str) -> Any:
        raise KeyError("missing")

    exp = replace(RACE, findings=broken) if part == "findings" else replace(RACE, verdict=broken)
    with caplog.at_level(logging.ERROR, logger="app.model.findings"):
        said = findings(exp, PARAMS, {"a": 1}, "3.11.7") if part == "findings" else verdict(exp, PARAMS, {"a": 1}, "")
    assert said in ([], None)
    assert [r.getMessage() for r in caplog.records] == [
        f"{part} of race-counter failed for params {PARAMS!r} and result {{'a': 1}}"
    ]


def test_no_result_says_and_judges_nothing_even_where_the_experiment_would():
    def says(params: dict[str, Any], result: dict[str, Any], python: str) -> list[str]:
        return ["something"]

    def judges(params: dict[str, Any], result: dict[str, Any], python: str) -> Any:
        return True, "something"

    assert findings(replace(RACE, findings=says), PARAMS, {}, "3.11.7") == []
    assert verdict(replace(RACE, verdict=judges), PARAMS, {}, "3.11.7") is None
    assert verdict(RACE, PARAMS, {"expected": 0, "actual": 0}, "3.9.18") == Verdict(
        False, "No update was lost this time on CPython 3.9 (window=call): the race is there, this run did not hit it."
    )
