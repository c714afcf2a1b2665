"""What a sweep's runs measured (the sweep itself, its points and status: app/model/sweeps.py), drawn as
speedup lines against workers beside the ideal, in words, and as a table. Pure: plain data in, plain
data out.

Points that differ only in `workers` make one line: a line per value of the other varied params
(per interpreter, say).

What a point's speedup is:
- where its result reports speedups of its own (keys ending in `_speedup` but `ideal_speedup`: the
  threads-vs-processes experiments' `thread_speedup` and `process_speedup`, each pool against the
  serial run measured in the same run, experiments/harness/speedup.py), those: a line each;
- otherwise the line's workers=1 point's `run_call_ms` over its own; a line without a workers=1
  point has no speedup to show.
The ideal of a point is min(workers, free cores, tasks). Free cores: the cores of the run's measured
CPU budget less what other programs kept busy on average while it ran (app/model/cpu.py), or, where that
was not measured, the CPUs its runner reported; at least 1 (a speedup of 1 needs no second core).
Tasks: the `tasks` param where the experiment has one. The ideal bounds work that needs a core; a
speedup can pass it when what it is measured against ran slower than it could (other programs took the
cores meanwhile): the page says where one passed it. An experiment whose tasks wait (sleeps, I/O:
TASKS_WAIT, experiments/__init__.py) needs no core per task: its ideal is the `ideal_speedup` its
result reports (tasks over rounds of workers).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.drawing.result_words import LABELS, number
from app.model.status import Status, status_words
from app.model.sweeps import X
from experiments.harness.wording import plural

TASKS = "tasks"
OWN_SUFFIX = "_speedup"  # a speedup the result reports itself
IDEAL = "ideal"  # the figure of the ideal line
BASELINE = "run_call_ms"  # without speedups of its own: this time at workers=1 over the point's
IDEAL_WORDS = "min(workers, free cores, tasks)"
WAITING_IDEAL_WORDS = "the run's own ideal_speedup: its tasks wait, needing no core"
OWN_IDEAL = "ideal_speedup"


@dataclass(frozen=True)
class Outcome:
    """One point's run, as far as the sweep cares (read off the run by app/web/sweep_routes.py)."""

    params: dict[str, Any]
    run_id: str
    status: str
    result: dict[str, Any] | None = None
    free_cores: float | None = None  # None until measured

    @property
    def done(self) -> bool:
        return self.status == Status.DONE and self.result is not None

    @property
    def workers(self) -> int | None:
        value = self.params.get(X)
        return value if isinstance(value, int) and not isinstance(value, bool) else None


def free_cores(cores: int | None, others_busy_cores: float | None, cpus: int | None) -> float | None:
    """The cores a run had to itself: its CPU budget's less what others used (else the CPUs reported); at least 1."""
    if cores:
        return max(1.0, round(cores - (others_busy_cores or 0.0), 1))
    if cpus:
        return float(cpus)
    return None


def ideal(workers: int, free: float, tasks: Any = None) -> float:
    """min(workers, free cores, tasks): how many tasks could at best run at once."""
    bound = float(tasks) if isinstance(tasks, int) and not isinstance(tasks, bool) else math.inf
    return round(min(float(workers), free, bound), 2)


def ideal_of(o: Outcome, tasks_wait: bool) -> float | None:
    """A point's ideal (the module's docstring); None while it cannot be known."""
    if tasks_wait:
        return _figure((o.result or {}).get(OWN_IDEAL)) if o.done else None
    return None if o.free_cores is None else ideal(o.workers or 1, o.free_cores, o.params.get(TASKS))


def _figure(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _workers(outcome: Outcome) -> int:
    """The point's workers, where lines() has already returned unless every point has them."""
    assert outcome.workers is not None, "lines() draws only points with (integer) workers"
    return outcome.workers


def _result(outcome: Outcome) -> dict[str, Any]:
    """The result of a point that is done (a done point has one)."""
    assert outcome.result is not None, "only a done point's result is read"
    return outcome.result


def own_figures(outcomes: Sequence[Outcome]) -> list[str]:
    """The speedups the points' results report themselves, in the order first met ([]: none do)."""
    keys: list[str] = []
    for o in outcomes:
        for key, value in (o.result or {}).items() if o.done else ():
            if key.endswith(OWN_SUFFIX) and key != "ideal_speedup" and _figure(value) is not None and key not in keys:
                keys.append(key)
    return keys


def figure_label(figure: str, tasks_wait: bool = False) -> str:
    if figure == IDEAL:
        return f"ideal: {WAITING_IDEAL_WORDS if tasks_wait else IDEAL_WORDS}"
    if figure == BASELINE:
        return "speedup over workers=1 (run() time)"
    return LABELS.get(figure, (figure.replace("_", " "), ""))[0]


@dataclass(frozen=True)
class Mark:
    workers: int
    value: float
    run_id: str


@dataclass(frozen=True)
class Line:
    group: tuple[tuple[str, Any], ...]  # the other varied params' values
    figure: str  # a speedup the result reports, BASELINE (over workers=1), or IDEAL
    marks: tuple[Mark, ...]
    note: str = ""  # why it has no marks, when that is not just "nothing finished yet"
    tasks_wait: bool = False  # an IDEAL line of tasks that wait: the runs' own ideal_speedup

    @property
    def group_words(self) -> str:
        return " ".join(f"{name}={value}" for name, value in self.group)

    @property
    def label(self) -> str:
        return figure_label(self.figure, self.tasks_wait) + (f" ({self.group_words})" if self.group else "")


def group_of(params: Mapping[str, Any], vary: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple((name, params[name]) for name in vary if name != X)


def lines(vary: Mapping[str, Any], outcomes: Sequence[Outcome], tasks_wait: bool = False) -> list[Line]:
    """Per group (the other varied params' values): its measured speedup lines, then its ideal line;
    each mark a finished point. None when the points have no (integer) `workers` to draw against.
    `tasks_wait`: the experiment's (TASKS_WAIT), which decides what the ideal is."""
    if not outcomes or any(o.workers is None for o in outcomes):
        return []
    groups: dict[tuple[tuple[str, Any], ...], list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault(group_of(o.params, vary), []).append(o)
    own = own_figures(outcomes)
    # Until a run has finished, which speedups there are is not known: no measured line yet.
    over_one_worker = not own and any(o.done for o in outcomes)
    out = []
    for group, members in groups.items():
        members = sorted(members, key=_workers)
        done = [o for o in members if o.done]
        for key in own:
            out.append(
                Line(
                    group,
                    key,
                    tuple(
                        Mark(_workers(o), figure, o.run_id)
                        for o in done
                        if (figure := _figure(_result(o).get(key))) is not None
                    ),
                )
            )
        if over_one_worker:
            out.append(_over_one_worker(group, done, any(o.workers == 1 for o in members)))
        ideals = [(o, ideal_of(o, tasks_wait)) for o in members]
        out.append(
            Line(
                group,
                IDEAL,
                tuple(Mark(_workers(o), value, o.run_id) for o, value in ideals if value is not None),
                tasks_wait=tasks_wait,
            )
        )
    return out


def _over_one_worker(group: tuple[tuple[str, Any], ...], done: list[Outcome], has_one: bool) -> Line:
    figures = [(o, _figure(_result(o).get(BASELINE))) for o in done]
    timed = [(o, ms) for o, ms in figures if ms]
    base = next((ms for o, ms in timed if o.workers == 1), None)
    if base is None:
        if not has_one:  # none to wait for (lock-counter's workers start at 2): say so, not that it is coming
            note = "this line has no point with workers=1, so no speedup over one worker to compute"
        else:
            note = "its point with workers=1 has not finished: no speedup to compute yet" if done else ""
        return Line(group, BASELINE, (), note)
    return Line(group, BASELINE, tuple(Mark(_workers(o), round(base / ms, 2), o.run_id) for o, ms in timed))


def sentences(found: Sequence[Line]) -> list[str]:
    """What the lines show, in words, every figure from the runs' results."""
    ideals = {line.group: {m.run_id: m for m in line.marks} for line in found if line.figure == IDEAL}
    said = []
    for line in found:
        if line.figure == IDEAL:
            continue
        if not line.marks:
            if line.note:
                said.append(f"{line.label}: {line.note}.")
            continue
        words = ", ".join(f"{number(m.value)}× with {plural(m.workers, 'worker')}" for m in line.marks)
        sentence = f"{line.label}: {words}."
        best = max(line.marks, key=lambda m: m.value)
        at = ideals.get(line.group, {})
        if best.run_id in at:
            bound = at[best.run_id].value
            sentence += (
                f" Its best, {number(best.value)}× at workers={best.workers}, is {best.value / bound:.0%} "
                f"of the ideal there ({number(bound)}×)."
            )
        above = [m for m in line.marks if m.run_id in at and m.value > at[m.run_id].value * 1.05]
        if above:
            where = " and ".join(
                f"workers={m.workers} ({number(m.value)}× against {number(at[m.run_id].value)}×)" for m in above
            )
            sentence += (
                f" Above the ideal at {where}: either its tasks did not each need a core, or what it is "
                "measured against ran slower than it could (the run's page says what else used the cores)."
            )
        said.append(sentence)
    return said


# ---- The table of figures ----


@dataclass(frozen=True)
class Column:
    name: str
    title: str  # what the figure is, in words


@dataclass(frozen=True)
class Row:
    run_id: str
    varied: tuple[str, ...]  # the varied params' values, in the sweep's order
    status: str
    status_words: str
    cells: tuple[str, ...]  # one per column ("—": none)


@dataclass(frozen=True)
class Table:
    varied: tuple[str, ...]
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]


def table(
    vary: Mapping[str, Any], outcomes: Sequence[Outcome], found: Sequence[Line], tasks_wait: bool = False
) -> Table:
    """A row per point: its varied params, status, run, then the figures: its speedup over workers=1
    (where that is how it is computed), the ideal, the free cores, and every number its result reports."""
    baseline = {m.run_id: m.value for line in found if line.figure == BASELINE for m in line.marks}
    ideals = {m.run_id: m.value for line in found if line.figure == IDEAL for m in line.marks}
    keys: list[str] = []
    for o in outcomes:
        keys.extend(k for k, v in (o.result or {}).items() if _figure(v) is not None and k not in keys)
    columns = [Column("speedup", figure_label(BASELINE))] if any(line.figure == BASELINE for line in found) else []
    columns += [
        Column("ideal", WAITING_IDEAL_WORDS if tasks_wait else IDEAL_WORDS),
        Column("free cores", "the run's cores less what other programs used meanwhile"),
    ]
    columns += [Column(k, LABELS.get(k, (k.replace("_", " "), ""))[0]) for k in keys]
    rows = []
    for o in outcomes:
        figures: list[float | None] = [baseline.get(o.run_id)] if columns[0].name == "speedup" else []
        figures += [ideals.get(o.run_id), o.free_cores]
        figures += [_figure((o.result or {}).get(k)) for k in keys]
        rows.append(
            Row(
                o.run_id,
                tuple(str(o.params.get(name)) for name in vary),
                o.status,
                status_words(o.status),
                tuple("—" if f is None else number(f) for f in figures),
            )
        )
    return Table(tuple(vary), tuple(columns), tuple(rows))
