"""The Compare view's data: which runs were asked for, and their params, conditions, status and
results side by side with the differences marked. Pure.

The timelines themselves are drawn on one shared axis by app/drawing/compare_timelines.py;
this module only words the table and checks the `runs` query.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.drawing.result_words import cell, label_of, scalar
from app.model.findings import verdict

if TYPE_CHECKING:
    from app.model.runs import Run

MIN_RUNS, MAX_RUNS = 2, 4
BOUND = f"{MIN_RUNS} to {MAX_RUNS} run ids"
CELL_MAX = 120  # characters of a long value (a list, a dict) shown in a cell; the run's page has all of it
PENDING = "still running"


class CompareError(ValueError):
    """The `runs` query is not 2 to 4 distinct run ids: the message says what it got."""


def run_ids(values: Iterable[str]) -> list[str]:
    """The run ids of `runs=a,b` and of `runs=a&runs=b` (or both mixed), in order, each checked once."""
    ids = [part.strip() for value in values for part in value.split(",") if part.strip()]
    if not MIN_RUNS <= len(ids) <= MAX_RUNS:
        got = (
            "none"
            if not ids
            else f"{len(ids)}: {', '.join(ids[: MAX_RUNS + 1])}{' ...' if len(ids) > MAX_RUNS + 1 else ''}"
        )
        raise CompareError(f"runs: must be {BOUND}, comma-separated or repeated (runs=a,b or runs=a&runs=b), got {got}")
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise CompareError(f"runs: must be {BOUND}, each once, got {', '.join(twice)} more than once")
    return ids


@dataclass(frozen=True)
class Cell:
    text: str
    pending: bool = False  # the run has not got this far yet: not compared
    differs: bool = False  # not the same as the first run's (the first compared) value


@dataclass(frozen=True)
class Row:
    label: str
    cells: tuple[Cell, ...]

    @property
    def differs(self) -> bool:
        return any(cell.differs for cell in self.cells)


@dataclass(frozen=True)
class Section:
    title: str
    rows: tuple[Row, ...]


_MISSING = object()


def _key(value: Any) -> str:
    """A value as compared: equal JSON, equal value (1 and 1.0 alike, dict order aside)."""
    if value is _MISSING:
        return "\0missing"
    return json.dumps(value, sort_keys=True, default=str)


def _text(value: Any, unit: str = "") -> str:
    """A value in a cell: a scalar with its unit, a list or dict flattened and cut at CELL_MAX."""
    if value is _MISSING:
        return "—"
    if isinstance(value, (list, tuple, dict)):
        text = cell(value)
        return text if len(text) <= CELL_MAX else text[: CELL_MAX - 1] + "…"
    return scalar(value) + ("×" if unit == "×" else f" {unit}" if unit else "")


def row(label: str, values: list[Any], pending: list[bool], unit: str = "", texts: list[str] | None = None) -> Row:
    """One row: a cell per run; a cell differs when its value is not the first compared run's and that shows:
    two values that read the same (12.34 and 12.341 both shown as 12.3) are not marked as different, unless
    what is shown is cut short (then the reader cannot tell)."""
    shown = [
        PENDING if waiting else texts[i] if texts else _text(value, unit)
        for i, (value, waiting) in enumerate(zip(values, pending))
    ]
    compared = [(_key(v), text) for v, p, text in zip(values, pending, shown) if not p]
    first_key, first_text = compared[0] if compared else (None, None)
    cells = []
    for value, waiting, text in zip(values, pending, shown):
        differs = not waiting and _key(value) != first_key and (text != first_text or text.endswith("…"))
        cells.append(Cell(text, waiting, differs))
    return Row(label, tuple(cells))


def elapsed_ms(run: Run) -> float | None:
    timeline = run.timeline
    if timeline.t0_ns is None:
        return None
    return (timeline.last_ns - timeline.t0_ns) / 1e6


def _union(dicts: Iterable[dict[str, Any]]) -> list[str]:
    keys: dict[str, None] = {}
    for d in dicts:
        keys.update(dict.fromkeys(d))
    return list(keys)


CONDITIONS = (  # key in run.conditions, label, unit
    ("python", "Python", ""),
    ("gil_enabled", "GIL on", ""),  # off only on a free-threaded build
    ("start_method", "start method", ""),
    ("loadavg", "load average at start", ""),
    ("cpus", "CPUs", ""),
    ("beside", "runs executing beside it", ""),
)


def sections(runs: list[Run]) -> list[Section]:
    """The table beside the timelines: the runs as columns, in the order asked."""
    finished = [run.finished for run in runs]
    nowhere = [False] * len(runs)
    durations = [elapsed_ms(r) if r.finished else _MISSING for r in runs]
    overview = (
        row("experiment", [r.experiment.id for r in runs], nowhere, texts=[r.experiment.title for r in runs]),
        row("status", [r.status for r in runs], nowhere, texts=[r.status_words for r in runs]),
        row(
            "timeline's length",
            [_MISSING if d is None else d for d in durations],
            [not f for f in finished],
            texts=[
                PENDING if not f else "—" if d in (None, _MISSING) else f"{d:.1f} ms"
                for f, d in zip(finished, durations)
            ],
        ),
    )
    params = tuple(
        row(name, [r.params.get(name, _MISSING) for r in runs], nowhere) for name in _union(r.params for r in runs)
    )
    # A condition is known once the runner's header came: before that the run is still starting.
    conditions = tuple(
        row(
            label,
            [r.conditions.get(key, _MISSING) for r in runs],
            [r.conditions.get(key) is None and not r.finished for r in runs],
            unit,
        )
        for key, label, unit in CONDITIONS
        if any(r.conditions.get(key) is not None for r in runs)
    )
    results = [r.result_json() or {} for r in runs]
    result_rows = []
    verdicts = [verdict(r.experiment, r.params, r.result, r.python, r.cpu) if r.finished else None for r in runs]
    if any(verdicts):
        result_rows.append(
            row("what it showed", [v.words if v else _MISSING for v in verdicts], [not f for f in finished])
        )
    for key in _union(results):
        label, unit = label_of(key)
        if key == "error":
            values = [res.get("error", _MISSING) for res in results]
            texts = ["—" if v is _MISSING else f"{v.get('type')}: {v.get('message')}" for v in values]
            result_rows.append(row("the experiment failed", values, [not f for f in finished], texts=texts))
            continue
        result_rows.append(row(label, [res.get(key, _MISSING) for res in results], [not f for f in finished], unit))
    if not result_rows:
        result_rows.append(row("result", [_MISSING] * len(runs), [not f for f in finished]))
    return [
        Section("Run", overview),
        Section("Params", params),
        Section("Conditions", conditions),
        Section("Result", tuple(result_rows)),
    ]
