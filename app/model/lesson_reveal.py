"""What a step's reveal shows, computed from the class's answers and the runs themselves: the predictions as a
histogram (each round), how many numbers fell within the question's tolerance of what the teacher's run
measured, the distribution of the class's own results with the teacher's run marked, and how long the class's
runs still need. Pure: answers, values and durations in; bars and sentences out.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app.model.lessons import Question

MAX_BARS = 10  # numbers beyond this many distinct values are grouped into this many equal ranges
SHARED_CORES = 0.5  # other programs' use during a run worth marking it for (half a core of the machine's)


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    marked: bool = False  # holds what the teacher's run measured (or, for a choice, nothing)


@dataclass(frozen=True)
class Histogram:
    bars: tuple[Bar, ...]
    total: int

    @property
    def most(self) -> int:
        return max((bar.count for bar in self.bars), default=0)


def number(value: float) -> str:
    """A value as a bar's label or a sentence says it: integers with thin spaces, others to 3 significant digits."""
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}".replace(",", "\u2009")
    return f"{value:.3g}"


def choices(question: Question, answers: Mapping[str, int | float]) -> Histogram:
    """One bar per choice, in the question's order, with how many picked it."""
    counts = [0] * len(question.choices)
    for value in answers.values():
        if isinstance(value, int) and 0 <= value < len(counts):
            counts[value] += 1
    return Histogram(tuple(Bar(text, n) for text, n in zip(question.choices, counts, strict=True)), sum(counts))


def numbers(values: Sequence[float], mark: float | None = None) -> Histogram:
    """Values as bars: one per distinct value when there are few, else MAX_BARS equal ranges over their span
    (and `mark`'s, so the bar holding it is drawn and marked)."""
    if not values:
        return Histogram((), 0)
    distinct = sorted(set(values) | ({mark} if mark is not None else set()))
    if len(distinct) <= MAX_BARS:
        return Histogram(
            tuple(Bar(number(v), sum(1 for x in values if x == v), v == mark) for v in distinct), len(values)
        )
    low, high = distinct[0], distinct[-1]
    width = (high - low) / MAX_BARS
    bars = []
    for i in range(MAX_BARS):
        start, stop = low + i * width, low + (i + 1) * width
        last = i == MAX_BARS - 1

        def inside(x: float, start: float = start, stop: float = stop, last: bool = last) -> bool:
            return start <= x < stop or (last and x == stop)

        bars.append(
            Bar(
                f"{number(start)}–{number(stop)}",
                sum(1 for x in values if inside(x)),
                mark is not None and inside(mark),
            )
        )
    return Histogram(tuple(bars), len(values))


def predictions(question: Question, answers: Mapping[str, int | float], mark: float | None = None) -> Histogram:
    if question.kind == "choice":
        return choices(question, answers)
    return numbers([float(v) for v in answers.values()], mark)


def within(question: Question, answers: Mapping[str, int | float], measured: float | None) -> str:
    """For a number question: how many answers fell within its tolerance of what the run measured."""
    if question.kind != "number" or not answers:
        return ""
    if measured is None:
        return "No run of this step has measured it yet: nothing to judge the predictions against."
    near = sum(1 for v in answers.values() if abs(float(v) - measured) <= question.tolerance)
    unit = f" {question.unit}" if question.unit else ""
    return (
        f"{near} of {len(answers)} predictions were within {number(question.tolerance)}{unit} "
        f"of the {number(measured)}{unit} the teacher's run measured."
    )


def spread(values: Sequence[float], label: str, teacher: float | None) -> str:
    """The class's results in words: how many, their range and median, and where the teacher's run fell."""
    if not values:
        return ""
    ordered = sorted(values)
    said = (
        f"{len(ordered)} runs measured {label} from {number(ordered[0])} to {number(ordered[-1])}, "
        f"median {number(statistics.median(ordered))}"
    )
    if len(set(ordered)) == 1:
        said = f"All {len(ordered)} runs measured {label} {number(ordered[0])}"
    if teacher is not None and all(v == teacher for v in ordered):
        said += f"; the teacher's run measured {number(teacher)} too"  # not "above 0 of them"
    elif teacher is not None:
        below = sum(1 for v in ordered if v < teacher)
        said += f"; the teacher's run measured {number(teacher)}, above {below} of them"
    return said + "."


def shared(others: Sequence[float | None]) -> str:
    """How many of the class's runs shared the machine with other programs (`others`: what they used during
    each run, in cores; None where a run was too short to tell, or had no budget)."""
    if not others:
        return ""
    known = [cores for cores in others if cores is not None]
    if not known:
        return "What other programs used during these runs could not be measured (each too short, or no budget)."
    busy = sum(1 for cores in known if cores >= SHARED_CORES)
    if busy == 0:
        return f"Other programs used less than half a core during each of the {len(known)} runs measured."
    return (
        f"{busy} of the {len(known)} runs measured shared the machine with other programs using half a core or "
        "more (marked below): they had fewer cores than the rest."
    )


def measured(result: Mapping[str, object] | None, field: str) -> float | None:
    """A run's value of `field`, if its result has a finite number there."""
    if not result or not field:
        return None
    value = result.get(field)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def time_left(runs_left: int, seconds_each: float | None, at_once: int) -> str:
    """How long the class's runs still need on this lab: `runs_left` (queued or executing), `at_once` executing
    together (1 for an experiment that runs alone), each taking about `seconds_each` (a finished run's)."""
    if runs_left <= 0:
        return ""
    runs = "1 run" if runs_left == 1 else f"{runs_left} runs"
    if seconds_each is None:
        return f"{runs} to go; how long they take is known once one has finished."
    return f"{runs} to go, {_pace(runs_left, seconds_each, at_once)} more."


def time_needed(runs: int, seconds_each: float | None, at_once: int) -> str:
    """Before the class runs a step: how long `runs` runs will take here, from a run of it that finished."""
    if runs <= 0:
        return ""
    if seconds_each is None:
        how = "one after another, alone on the CPU" if at_once <= 1 else f"{at_once} at a time"
        return f"The class's {runs} runs will execute {how}: run it yourself first to see how long one takes here."
    return f"The class's {runs} runs: {_pace(runs, seconds_each, at_once)}."


def _pace(runs: int, seconds_each: float, at_once: int) -> str:
    total = math.ceil(runs / max(at_once, 1)) * seconds_each
    alone = "one at a time, alone on the CPU, " if at_once <= 1 else f"{at_once} at a time, "
    return f"{alone}about {number(round(seconds_each, 1))} s each: about {clock(total)}"


def clock(seconds: float) -> str:
    if seconds < 90:
        return f"{math.ceil(seconds)} s"
    return f"{math.ceil(seconds / 60)} min"
