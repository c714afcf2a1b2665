"""The Bytecode view: `dis` text tagged with the load, modify and store of the shared counter."""

from __future__ import annotations

import dis
import io
from collections.abc import Callable

import pytest

from app.drawing.bytecode import Listing, annotate, listings, switches_only_at_calls_and_jumps
from tests.helpers import pyenv_python
from tests.runner_helpers import run_experiment

counter = 0


def pause():
    pass


def add_one():
    global counter
    counter += 1


def add_one_with_a_call_in_between():
    global counter
    value = counter
    pause()
    counter = value + 1


def dis_text(function: Callable[[], object]) -> str:
    out = io.StringIO()
    dis.dis(function, file=out)
    return out.getvalue()


def roles(listing: Listing) -> list[tuple[str, str]]:
    return [(line.role, line.text.split()[-1]) for line in listing.lines if line.role]


def test_the_shared_counter_is_read_modified_and_written_back():
    listing = annotate("add_one", dis_text(add_one), "3.11.7")
    assert listing.shared == ("counter",)
    tagged = [role for role, _ in roles(listing)]
    assert tagged.index("load") < tagged.index("modify") < tagged.index("store")
    assert "window" not in tagged  # nothing between the read and the write lets 3.10+ switch


def test_a_call_between_the_read_and_the_write_is_where_a_switch_loses_updates():
    listing = annotate("f", dis_text(add_one_with_a_call_in_between), "3.11.7")
    tagged = [role for role, _ in roles(listing)]
    assert tagged.index("load") < tagged.index("window") < tagged.index("store")


def test_before_3_10_no_instruction_is_singled_out_as_a_switch_point():
    listing = annotate("f", dis_text(add_one_with_a_call_in_between), "3.9.18")
    tagged = {role for role, _ in roles(listing)}
    assert tagged == {"load", "modify", "store"}
    assert not switches_only_at_calls_and_jumps("3.9.18")
    assert switches_only_at_calls_and_jumps("3.13.0")
    assert not switches_only_at_calls_and_jumps(None)


def test_a_run_without_bytecode_in_its_header_shows_none():
    assert listings(None) == []
    # A header comes from the runner's process, checked only as a JSON object: a null bytecode, on purpose.
    assert listings({"python": "3.11.7", "bytecode": None}) == []  # type: ignore[arg-type]


@pytest.mark.parametrize("version", ["3.9.18", "3.13.0"])
@pytest.mark.parametrize("window", ["none", "call"])
def test_race_counter_sends_the_bytecode_its_interpreter_ran(version, window):
    python = pyenv_python(version)
    if python is None:
        pytest.skip(f"no Python {version} here")
    out = run_experiment(
        "experiments.race_counter", {"workers": 2, "iterations": 1_000, "window": window}, python=python
    )
    assert out.returncode == 0, out.stderr
    header = out.of("header")[0].value
    assert header["python"] == version
    shown = listings(header)
    expected = ["increment", "decrement"] if window == "none" else ["increment_with_window", "decrement_with_window"]
    assert [listing.function for listing in shown] == expected
    for listing in shown:
        tagged = [role for role, _ in roles(listing)]
        assert tagged.count("load") == 1 and tagged.count("store") == 1
        assert ("window" in tagged) == (window == "call" and version != "3.9.18")
