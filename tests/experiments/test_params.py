"""Param validation: the messages a user sees name the field, the bound and the value."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from experiments.harness.params import Choice, Int, ParamError, defaults, from_form, validate


def specs():
    """An experiment's params, declared as its module declares them (here, in the test, so that what
    declaring them does is tested too)."""
    return Int("workers", 2, 1, 16), Choice("window", "call", ("none", "call"))


def errors_of(raw: Mapping[str, object]) -> list[str]:
    with pytest.raises(ParamError) as info:
        validate(specs(), raw)
    return info.value.errors


def test_valid_params_pass_through():
    assert validate(specs(), {"workers": 16, "window": "none"}) == {"workers": 16, "window": "none"}


def test_out_of_bounds_names_field_bounds_and_value():
    assert errors_of({"workers": 17, "window": "call"}) == ["workers: must be an integer from 1 to 16, got 17"]
    assert errors_of({"workers": 0, "window": "call"}) == ["workers: must be an integer from 1 to 16, got 0"]


@pytest.mark.parametrize("value", ["2", 2.0, True, None, [2]])
def test_mistyped_ints_are_refused(value):
    assert errors_of({"workers": value, "window": "call"})[0].startswith("workers: must be an integer from 1 to 16")


def test_unknown_and_bad_choice_are_all_reported():
    errors = errors_of({"window": "often", "speed": 3})
    assert "speed: unknown parameter (known: window, workers)" in errors
    assert "window: must be one of 'none', 'call', got 'often'" in errors


def test_a_param_left_out_takes_its_default():
    assert validate(specs(), {"window": "none"}) == {"workers": specs()[0].default, "window": "none"}


def test_form_strings_become_ints_where_they_parse():
    assert from_form(specs(), {"workers": " 3 ", "window": "none"}) == {"workers": 3, "window": "none"}
    assert from_form(specs(), {"workers": "three"})["workers"] == "three"  # left for validate() to refuse


def test_defaults_are_valid():
    assert validate(specs(), defaults(specs())) == {"workers": 2, "window": "call"}


def test_a_default_outside_its_bounds_is_a_programming_error():
    with pytest.raises(AssertionError):
        Int("workers", 0, 1, 4)


def test_the_api_describes_each_param_with_its_bounds_or_choices_their_labels_and_help():
    assert Int("workers", 2, 1, 16, "threads to start").describe() == {
        "type": "int",
        "default": 2,
        "min": 1,
        "max": 16,
        "help": "threads to start",
    }
    assert Int("workers", 2, 1, 16).describe() == {"type": "int", "default": 2, "min": 1, "max": 16}  # no help
    window = Choice("window", "call", ["none", "call"], "where a thread may switch", labels=["never", "at a call"])
    assert tuple(window) == (  # its fields, in order (a Param is a named tuple)
        "window",
        "choice",
        "call",
        "where a thread may switch",
        None,
        None,
        ("none", "call"),
        ("never", "at a call"),
        (),
    )
    assert window.describe() == {
        "type": "choice",
        "default": "call",
        "min": None,
        "max": None,
        "choices": ["none", "call"],
        "labels": {"none": "never", "call": "at a call"},
        "help": "where a thread may switch",
    }
    assert Choice("window", "call", ("none", "call")).describe() == {
        "type": "choice",
        "default": "call",
        "min": None,
        "max": None,
        "choices": ["none", "call"],
    }  # no labels, no help


def test_a_value_refused_here_is_described_and_its_422_says_why():
    """An interpreter that cannot run an experiment (app/running/pythons.py) is a refused value of its `python`
    param: the API lists it with why, and a run asking for it is told why, not just the allowed values."""
    python = Choice("python", "3.13.0", ["3.13.0"], refused=[("3.11.7", "no InterpreterPoolExecutor")])
    assert python.describe()["refused"] == {"3.11.7": "no InterpreterPoolExecutor"}
    with pytest.raises(ParamError) as refused:
        validate([python], {"python": "3.11.7"})
    assert refused.value.errors == [
        "python: '3.11.7' cannot run this experiment: no InterpreterPoolExecutor; must be one of '3.13.0'"
    ]
    with pytest.raises(ParamError) as unknown:
        validate([python], {"python": "2.7"})
    assert unknown.value.errors == ["python: must be one of '3.13.0', got '2.7'"]


def test_an_int_may_default_to_either_bound_and_take_either():
    edges = (Int("low", 1, 1, 4), Int("high", 4, 1, 4))
    assert validate(edges, {"low": 4, "high": 1}) == {"low": 4, "high": 1}
    assert validate(edges, {}) == {"low": 1, "high": 4}


def test_a_choice_must_default_to_one_of_its_choices_with_one_label_each_if_any():
    with pytest.raises(AssertionError, match="window: default 'often' not in"):
        Choice("window", "often", ("none", "call"))
    with pytest.raises(AssertionError, match="window: one label per choice"):
        Choice("window", "call", ("none", "call"), labels=("never",))


def test_a_choice_that_looks_like_a_number_stays_a_string_from_the_form():
    size = Choice("size", "1", ("1", "2"))
    assert validate([size], from_form([size], {"size": "2"})) == {"size": "2"}


def test_every_problem_is_in_the_errors_message():
    error = ParamError(["a: bad", "b: worse"])
    assert str(error) == "a: bad; b: worse" and error.errors == ["a: bad", "b: worse"]


@pytest.mark.parametrize(
    "value, quoted",
    [
        (float("nan"), "NaN"),
        (float("inf"), "Infinity (or a number too large for a float)"),
        (float("-inf"), "-Infinity (or a number too large for a float)"),
        (2.5, "2.5"),
        (-3.0, "-3.0"),
        ("2", "'2'"),
        (None, "None"),
    ],
)
def test_a_422_quotes_a_number_that_is_not_finite_as_the_json_that_sent_it(value: object, quoted: str) -> None:
    """JSON's NaN, Infinity and 1e400 reach the lab as Python's nan and inf: a message saying "got nan" or
    "got inf" would not name what the request held; any other value is quoted as Python writes it."""
    assert errors_of({"workers": value}) == [f"workers: must be an integer from 1 to 16, got {quoted}"]
