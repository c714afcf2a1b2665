"""A step's reveal (app/model/lesson_reveal.py): the predictions' bars hold the exact counts, numbers are
grouped only when there are many, the teacher's value is marked, and the sentences come from the values."""

from __future__ import annotations

from app.model.lesson_reveal import choices, numbers, shared, spread, time_left, time_needed, within
from app.model.lessons import Question

CHOICE = Question("Lost updates?", choices=("none", "some", "many"))
NUMBER = Question("Final counter?", unit="updates", tolerance=100)


def test_a_choice_histogram_counts_each_choice_in_the_questions_order():
    h = choices(CHOICE, {"a": 2, "b": 2, "c": 0, "d": 2})
    assert [(bar.label, bar.count) for bar in h.bars] == [("none", 1), ("some", 0), ("many", 3)]
    assert h.total == 4 and h.most == 3


def test_few_distinct_numbers_get_a_bar_each_with_the_teachers_value_marked():
    h = numbers([0, 0, 5, 7], mark=5)
    assert [(bar.label, bar.count, bar.marked) for bar in h.bars] == [("0", 2, False), ("5", 1, True), ("7", 1, False)]


def test_a_teachers_value_no_one_guessed_still_gets_its_own_bar():
    h = numbers([1, 2], mark=9)
    assert [(bar.label, bar.count, bar.marked) for bar in h.bars][-1] == ("9", 0, True)


def test_many_numbers_are_grouped_in_ten_ranges_that_hold_every_value_once():
    values = [float(v) for v in range(0, 1000, 7)]
    h = numbers(values, mark=999)
    assert len(h.bars) == 10
    assert sum(bar.count for bar in h.bars) == len(values)
    assert [bar.marked for bar in h.bars] == [False] * 9 + [True]


def test_predictions_are_judged_against_what_the_run_measured():
    answers = {"a": 1000, "b": 1099, "c": 1200}
    assert within(NUMBER, answers, 1050.0).startswith("2 of 3 predictions were within 100 updates of the 1\u2009050")
    assert "nothing to judge" in within(NUMBER, answers, None)
    assert within(CHOICE, {"a": 1}, 3.0) == ""


def test_the_class_spread_names_its_range_median_and_the_teachers_place():
    said = spread([3.0, 1.0, 2.0, 10.0], "final counter", 2.5)
    assert (
        said
        == "4 runs measured final counter from 1 to 10, median 2.5; the teacher's run measured 2.5, above 2 of them."
    )
    assert spread([4.0, 4.0], "x", None) == "All 2 runs measured x 4."
    assert spread([0.0, 0.0, 0.0], "x", 0.0) == "All 3 runs measured x 0; the teacher's run measured 0 too."


def test_time_left_counts_runs_that_execute_alone_one_after_another():
    assert time_left(0, 11.0, 1) == ""
    assert (
        time_left(30, 11.0, 1) == "30 runs to go, one at a time, alone on the CPU, about 11 s each: about 6 min more."
    )
    assert time_left(4, 2.0, 2).endswith("about 4 s more.")
    assert "once one has finished" in time_left(3, None, 1)
    assert time_left(1, None, 1).startswith("1 run to go;")


def test_before_the_class_runs_it_the_teacher_is_told_how_long_from_a_run_of_it():
    assert (
        time_needed(30, 11.0, 1)
        == "The class's 30 runs: one at a time, alone on the CPU, about 11 s each: about 6 min."
    )
    assert "run it yourself first" in time_needed(30, None, 1)
    assert time_needed(0, 11.0, 1) == ""


def test_the_class_is_told_how_many_of_its_runs_shared_the_machine():
    assert shared([0.1, 0.7, None, 0.5]) == (
        "2 of the 3 runs measured shared the machine with other programs using half a core or more "
        "(marked below): they had fewer cores than the rest."
    )
    assert shared([0.1, 0.2]) == "Other programs used less than half a core during each of the 2 runs measured."
    assert "could not be measured" in shared([None])
    assert shared([]) == ""
