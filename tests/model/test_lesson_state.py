"""A class's way through a lesson (app/model/lesson_state.py): who may answer when, what locks the answers,
the second round, the runs a step records, and the document a storage keeps."""

from __future__ import annotations

import pytest

from app.model.lesson_state import (
    LessonError,
    answer,
    ask,
    begin,
    check_answer,
    end,
    everyone_runs,
    from_doc,
    go,
    join,
    lock,
    reveal,
    student_ran,
    teacher_ran,
    to_doc,
)
from app.model.lessons import Lesson, Question, Step

CHOICE = Question("Will updates be lost?", choices=("none", "a few", "many"))
NUMBER = Question("Final counter?", unit="updates", tolerance=1000)
LESSON = Lesson(
    "demo",
    "Demo",
    (
        Step("Race", "race-counter", {"window": "none"}, question=CHOICE),
        Step("Race with a call", "race-counter", {"window": "call"}, question=NUMBER, measure="actual", everyone=True),
        Step("Lock", "lock-counter"),
    ),
)


def started():
    return begin("s1", LESSON, 100.0)


def test_answers_are_taken_only_while_the_question_is_asked():
    state = started()
    with pytest.raises(LessonError, match="not open yet"):
        answer(state, "a", 0, 1)
    state = ask(state, CHOICE)
    state = answer(state, "a", 0, 1)
    state = answer(state, "a", 0, 2)  # their newest counts
    state = answer(state, "b", 0, 0)
    assert state.current.answers == {1: {"a": 2, "b": 0}}
    state = lock(state)
    with pytest.raises(LessonError, match="locked"):
        answer(state, "c", 0, 1)


def test_the_teachers_run_locks_the_answers_and_is_recorded():
    state = answer(ask(started(), CHOICE), "a", 0, 1)
    state = teacher_ran(state, "run-1")
    assert state.current.phase == "locked" and state.current.teacher_run == "run-1"
    with pytest.raises(LessonError, match="locked"):
        answer(state, "b", 0, 0)


def test_a_second_round_is_asked_only_after_the_reveal_and_keeps_the_first():
    state = answer(ask(started(), CHOICE), "a", 0, 0)
    state = lock(state)
    with pytest.raises(LessonError, match="reveal first"):
        ask(state, CHOICE)
    state = ask(reveal(state), CHOICE)
    assert state.current.round == 2 and state.current.phase == "asking"
    state = answer(state, "a", 0, 2)
    assert state.current.answers == {1: {"a": 0}, 2: {"a": 2}}
    with pytest.raises(LessonError, match="2 times"):
        ask(reveal(state), CHOICE)


def test_an_answer_to_a_step_the_lesson_left_is_refused():
    state = go(ask(started(), CHOICE), 1)
    with pytest.raises(LessonError, match="moved on"):
        answer(state, "a", 0, 1)


def test_students_run_a_step_once_and_only_when_everyone_was_asked():
    state = go(started(), 1)
    with pytest.raises(LessonError, match="not asked everyone"):
        student_ran(state, "a", 1, "r1")
    state = student_ran(everyone_runs(state), "a", 1, "r1")
    assert state.current.class_runs == {"a": "r1"}
    with pytest.raises(LessonError, match="already ran"):
        student_ran(state, "a", 1, "r2")


def test_submitted_answers_are_checked_against_the_question():
    assert check_answer(CHOICE, " 2 ") == 2
    assert check_answer(NUMBER, "1.5e3") == 1500
    with pytest.raises(LessonError, match="a choice from 1 to 3, got 4"):
        check_answer(CHOICE, "3")
    with pytest.raises(LessonError, match="a number of updates"):
        check_answer(NUMBER, "lots")
    with pytest.raises(LessonError, match="finite"):
        check_answer(NUMBER, "nan")


def test_steps_are_bounded_and_names_are_short_and_tidy():
    with pytest.raises(LessonError, match="step: from 1 to 3, got 4"):
        go(started(), 3)
    assert join(started(), "a", "  Ada   Lovelace ").people == {"a": "Ada Lovelace"}
    with pytest.raises(LessonError, match="name: at most 40"):
        join(started(), "a", "x" * 41)


def test_every_change_counts_a_version_and_an_ended_lesson_changes_no_more():
    state = started()
    moved = go(state, 1)
    assert moved.version == state.version + 1
    over = end(moved, 200.0)
    assert not over.live
    with pytest.raises(LessonError, match="ended"):
        go(over, 0)


def test_a_state_survives_its_document():
    state = student_ran(everyone_runs(go(answer(ask(started(), CHOICE), "a", 0, 1), 1)), "b", 1, "r9")
    state = join(state, "a", "Ada")
    assert from_doc(to_doc(state)) == state


def test_the_same_answer_again_changes_nothing():
    state = answer(ask(started(), CHOICE), "a", 0, 1)
    assert answer(state, "a", 0, 1) is state
