"""What a lesson is: a title and an ordered list of steps, each an experiment run with params, the teacher's
notes, a question the class answers before the run, and what to notice at the reveal. Plain data: the files
they are written in (TOML, lessons/*.toml) are read and checked by app/model/lesson_files.py; a class's way
through one, live, is app/model/lesson_state.py's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

QuestionKind = Literal["choice", "number"]


@dataclass(frozen=True)
class Question:
    """Asked before the step's run: one of `choices`, or (no choices) a number in `unit`; a number within
    `tolerance` of the run's `measure` counts as right at the reveal."""

    text: str
    choices: tuple[str, ...] = ()
    unit: str = ""
    tolerance: float = 0.0

    @property
    def kind(self) -> QuestionKind:
        return "choice" if self.choices else "number"


@dataclass(frozen=True)
class Beside:
    """A second run the teacher's run is compared with (the page /compare draws the two on one axis):
    `experiment` (the step's own when empty) with `params` changed, the step's others carried over."""

    experiment: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    title: str
    experiment: str  # an experiment's id (app/model/experiments.py)
    params: Mapping[str, Any] = field(default_factory=dict)  # checked against its params; the rest default
    notes: str = ""  # for the teacher only
    notice: str = ""  # what to notice, shown to everyone at the reveal
    question: Question | None = None
    # A number in the run's result (e.g. race-counter's `actual`, cpu-threads-vs-processes' `thread_speedup`):
    # the reveal draws the class's runs' values of it, and a number question is judged against it.
    measure: str = ""
    measure_label: str = ""  # its words, e.g. "final counter"; the field's name when empty
    everyone: bool = False  # every student runs it too (the teacher may still run it alone)
    compare: Beside | None = None  # the teacher's run starts this one beside it, and the two are compared
    sweep: Mapping[str, tuple[Any, ...]] | None = None  # the teacher's run is a sweep of these params' values


@dataclass(frozen=True)
class Lesson:
    id: str  # the file's name without .toml: its address, /lessons/{id}
    title: str
    steps: tuple[Step, ...]
    summary: str = ""
    minutes: int = 0  # how long it takes a class, as its author guessed
    path: str = ""  # the file it was read from
