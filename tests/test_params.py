"""Param validation: the messages a user sees name the field, the bound and the value."""
from __future__ import annotations

import pytest

from experiments.params import Choice, Int, ParamError, defaults, from_form, validate

SPECS = (Int("workers", 2, 1, 16), Choice("window", "call", ("none", "call")))


def errors_of(raw) -> list[str]:
    with pytest.raises(ParamError) as info:
        validate(SPECS, raw)
    return info.value.errors


def test_valid_params_pass_through():
    assert validate(SPECS, {"workers": 16, "window": "none"}) == {"workers": 16, "window": "none"}


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
    assert validate(SPECS, {"window": "none"}) == {"workers": SPECS[0].default, "window": "none"}


def test_form_strings_become_ints_where_they_parse():
    assert from_form(SPECS, {"workers": " 3 ", "window": "none"}) == {"workers": 3, "window": "none"}
    assert from_form(SPECS, {"workers": "three"})["workers"] == "three"  # left for validate() to refuse


def test_defaults_are_valid():
    assert validate(SPECS, defaults(SPECS)) == {"workers": 2, "window": "call"}


def test_a_default_outside_its_bounds_is_a_programming_error():
    with pytest.raises(AssertionError):
        Int("workers", 0, 1, 4)
