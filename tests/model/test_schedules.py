"""A stepper's schedule as data (app/model/schedules.py) and the words its page draws from an answer
(app/drawing/stepping.py): pure, no child process."""

from __future__ import annotations

from typing import Literal

import pytest

from app.drawing.stepping import page, words
from app.model.schedules import (
    MAX_STEPS,
    ScheduleError,
    StepAnswer,
    StepInstruction,
    ThreadState,
    encode,
    parse,
    runs,
)


def test_a_url_schedule_is_thread_numbers_and_round_trips():
    assert parse("1121", 2) == (0, 0, 1, 0)
    assert encode(parse("1121", 2)) == "1121"
    assert parse("", 4) == ()
    assert runs((0, 0, 1, 0)) == [(0, 0, 2), (1, 2, 1), (0, 3, 1)]


@pytest.mark.parametrize(
    ("text", "threads", "says"),
    [
        ("13", 2, "thread numbers from 1 to 2 (threads=2), got '3'"),
        ("10", 4, "got '0'"),
        ("1a", 2, "got 'a'"),
        ("1" * (MAX_STEPS + 1), 2, f"at most {MAX_STEPS} steps"),
    ],
)
def test_a_schedule_that_does_not_fit_its_threads_names_the_field_and_bound(text, threads, says):
    with pytest.raises(ScheduleError, match="^s: ") as raised:
        parse(text, threads)
    assert says in str(raised.value)


def test_numbers_are_words_up_to_ten_and_switch_takes_es():
    assert words(1, "forced switch") == "one forced switch"
    assert words(2, "forced switch") == "two forced switches"
    assert words(12, "step") == "12 steps"


def ready(at: int, loaded: int | None) -> ThreadState:
    """A thread ready to go on at `at`, holding `loaded` (the counter's value it read), waiting for nothing."""
    return {"at": at, "status": "ready", "loaded": loaded, "waits_for": None}


def answer(rule: Literal["any", "checks"] = "checks", free_threaded: bool = False) -> StepAnswer:
    """Two threads of a three-instruction function: thread 1 read 0, then thread 2 read 0 (a forced switch after a load)."""
    instructions: list[StepInstruction] = [
        {
            "offset": 0,
            "opname": "LOAD_GLOBAL",
            "argrepr": "counter",
            "line": 5,
            "line_start": True,
            "role": "load",
            "switch": rule == "any",
        },
        {
            "offset": 2,
            "opname": "STORE_GLOBAL",
            "argrepr": "counter",
            "line": 5,
            "line_start": False,
            "role": "store",
            "switch": rule == "any",
        },
        {
            "offset": 4,
            "opname": "JUMP_BACKWARD",
            "argrepr": "to 0",
            "line": 5,
            "line_start": False,
            "role": "",
            "switch": True,
        },
    ]
    return {
        "python": {"version": "3.11.7", "free_threaded": free_threaded, "rule": rule},
        "functions": [{"name": "increment", "instructions": instructions}] * 2,
        "expected": 0,
        "kinds": ["increment", "decrement"],
        "schedule": [0, 1],
        "states": [
            {
                "step": 0,
                "did": None,
                "counter": 0,
                "lost": 0,
                "owner": None,
                "threads": [ready(0, None), ready(0, None)],
            },
            {
                "step": 1,
                "did": {"thread": 0, "offset": 0, "switch": "", "said": ["thread 1 read 0"]},
                "counter": 0,
                "lost": 0,
                "owner": None,
                "threads": [ready(2, 0), ready(0, None)],
            },
            {
                "step": 2,
                "did": {
                    "thread": 1,
                    "offset": 0,
                    "switch": "never" if rule == "checks" else "forced",
                    "said": ["thread 2 read 0"],
                },
                "counter": 0,
                "lost": 0,
                "owner": None,
                "threads": [ready(2, 0), ready(2, 0)],
            },
        ],
        "refused": None,
        "found": None,
    }


def test_the_page_names_a_switch_the_interpreter_never_makes():
    drawn = page(answer("checks"))
    (switch,) = drawn.switches
    assert (switch.step, switch.before, switch.after, switch.instruction, switch.kind) == (
        2,
        0,
        1,
        "LOAD_GLOBAL counter",
        "never",
    )
    assert drawn.never == 1
    assert "only where its eval loop checks" in drawn.rule_says
    assert [c.holds for c in drawn.columns] == [
        "thread 1 read 0 and has not written it back yet.",
        "thread 2 read 0 and has not written it back yet.",
    ]
    assert [r.offset for c in drawn.columns for r in c.rows if r.current] == [2, 2]
    assert (
        drawn.schedule == "12" and drawn.schedule_says == "Thread 1 for 1 instruction, then thread 2 for 1 instruction."
    )


def test_on_an_interpreter_that_switches_anywhere_the_same_switch_is_one_it_can_make():
    drawn = page(answer("any", free_threaded=True))
    assert drawn.never == 0 and drawn.switches[0].kind == "forced"
    assert "run at the same time" in drawn.rule_says


def test_an_earlier_step_of_the_answer_is_drawn_as_it_was():
    drawn = page(answer(), 1)
    assert drawn.step == 1 and drawn.switches == () and drawn.last == ("thread 1 read 0",)
    assert drawn.columns[1].holds == ""
