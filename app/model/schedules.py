"""A race stepper's schedule and what its controller answers. Pure.

A schedule is data: the threads stepped, in order, one bytecode instruction each. In a URL it is a
string of 1-based thread numbers ("1112221": thread 1 three instructions, thread 2 three, thread 1
one), so a losing schedule can be shared as a link; as JSON it is a list of the same numbers. The
controller (experiments/harness/stepper.py, run in the chosen interpreter) answers with the shapes below,
with 0-based thread indices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypedDict

from experiments.harness.stepper import (
    EXPERIMENTS,
    MAX_ITERATIONS,
    MAX_STEPS,
    MAX_THREADS,
    MIN_ITERATIONS,
    MIN_THREADS,
    WINDOWS,
)

__all__ = ["EXPERIMENTS", "MAX_ITERATIONS", "MAX_STEPS", "MAX_THREADS", "MIN_ITERATIONS", "MIN_THREADS", "WINDOWS"]

Move = Literal["instruction", "line", "end"]
MOVES: tuple[Move, ...] = ("instruction", "line", "end")


class StepInstruction(TypedDict):
    offset: int
    opname: str
    argrepr: str
    line: int | None
    line_start: bool
    role: str  # "load", "store", "acquire" or ""
    switch: bool  # the interpreter may switch threads right after it, scheduling normally


class StepFunction(TypedDict):
    name: str
    instructions: list[StepInstruction]


class ThreadState(TypedDict):
    at: int | None  # offset of the instruction it executes next; None once finished
    status: Literal["ready", "waiting", "done"]
    loaded: int | None  # the counter's value it read and has not written back yet
    waits_for: int | None  # the lock's owner, while it waits for the lock


class Did(TypedDict):
    thread: int
    offset: int
    switch: Literal["", "forced", "never"]  # "never": a switch this interpreter never makes there
    said: list[str]


class StepState(TypedDict):
    step: int
    did: Did | None
    counter: int
    lost: int
    owner: int | None
    threads: list[ThreadState]


class Refused(TypedDict):
    at: int
    thread: int
    why: str


class Found(TypedDict, total=False):
    found: list[int] | None
    preemptions: int
    never: bool
    bound: int
    tried: int
    complete: bool


class PythonFacts(TypedDict):
    version: str
    free_threaded: bool
    rule: Literal["any", "checks"]


class StepAnswer(TypedDict):
    python: PythonFacts
    functions: list[StepFunction]
    expected: int
    kinds: list[str]
    schedule: list[int]
    states: list[StepState]
    refused: Refused | None
    found: Found | None


@dataclass(frozen=True)
class StepRequest:
    """What to step: the experiment, its window, how many threads and iterations, on which interpreter;
    the schedule (0-based), then optionally one move of one thread, or a search instead."""

    experiment: str
    window: str
    threads: int
    iterations: int
    python: str  # the interpreter's key (app/running/pythons.py)
    schedule: tuple[int, ...] = ()
    then: tuple[int, Move] | None = None
    find: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "experiment": self.experiment,
            "window": self.window,
            "threads": self.threads,
            "iterations": self.iterations,
            "schedule": list(self.schedule),
            "then": list(self.then) if self.then else None,
            "find": self.find,
        }


class ScheduleError(ValueError):
    """A schedule that does not fit its threads: the message names the field and its bounds."""


def parse(text: str, threads: int) -> tuple[int, ...]:
    """A URL's schedule ("1121") as 0-based thread indices, each from 1 to `threads`, at most MAX_STEPS."""
    if len(text) > MAX_STEPS:
        raise ScheduleError(f"s: at most {MAX_STEPS} steps, got {len(text)}")
    bad = sorted({c for c in text if not c.isdigit() or not 1 <= int(c) <= threads})
    if bad:
        raise ScheduleError(f"s: thread numbers from 1 to {threads} (threads={threads}), got {''.join(bad)[:20]!r}")
    return tuple(int(c) - 1 for c in text)


def encode(schedule: list[int] | tuple[int, ...]) -> str:
    return "".join(str(t + 1) for t in schedule)


def runs(schedule: list[int] | tuple[int, ...]) -> list[tuple[int, int, int]]:
    """The schedule as runs of one thread: (thread, first step index, steps)."""
    out: list[tuple[int, int, int]] = []
    for k, thread in enumerate(schedule):
        if out and out[-1][0] == thread:
            out[-1] = (thread, out[-1][1], out[-1][2] + 1)
        else:
            out.append((thread, k, 1))
    return out
