"""A run's row in the `runs` table: a Run turned into its columns, and its columns back into a Run.

RUN_COLUMNS names, once, each column that holds a field of Run and how the value is stored; the
fields without a column of their own travel in `extra` (JSON), those of a live server only
(RUNTIME) nowhere. Pure: the store (app/storage/store.py) runs the SQL.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypedDict, cast

from app.model.documents import HistoryRow
from app.model.experiments import Experiment
from app.model.hangs import Blocked
from app.model.runs import Run, Truncation


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Column:
    """A column of `runs` holding a field of Run: how its value is stored and read back."""

    name: str
    field: str = ""  # the Run field, if not named as the column
    stored: Callable[[Any], Any] = _same
    read: Callable[[Any], Any] = _same

    @property
    def attr(self) -> str:
        return self.field or self.name


RUN_COLUMNS = (
    Column("id"),
    Column("experiment", stored=lambda experiment: experiment.id),  # read back from the catalogue
    Column("params", stored=json.dumps, read=json.loads),
    Column("owner"),
    Column("status"),
    Column("created_at"),
    Column("started_at"),
    Column("ended_at"),
    Column("error"),
    Column("stderr_tail"),
    Column(
        "blocked",
        stored=lambda blocked: json.dumps([dataclasses.asdict(b) for b in blocked]),
        read=lambda text: [Blocked(**b) for b in json.loads(text)],
    ),
    Column("cut_at_ns"),
    Column("events", "received"),
)
# Kept by the writer as it stores the log (truncated_at_bytes, truncated_after_events), or only in a live server.
WRITTEN_BY_THE_LOG = {"truncated"}
RUNTIME = {"timeline", "changed", "cancel_requested", "journal", "stop_as"}
NOT_EXTRA = {column.attr for column in RUN_COLUMNS} | WRITTEN_BY_THE_LOG | RUNTIME


class RunRecord(TypedDict):
    """A run's row as `record_of` makes it: RUN_COLUMNS's columns as stored, then its result and extra (JSON)."""

    id: str
    experiment: str  # its id
    params: str  # JSON
    owner: str
    status: str  # a Status
    created_at: float
    started_at: float | None
    ended_at: float | None
    error: str | None
    stderr_tail: str
    blocked: str  # JSON: [{"worker", "waiting_on"}]
    cut_at_ns: int | None
    events: int
    result: str | None  # JSON: Run.result_json()
    extra: str  # JSON: extra_of(run)


# RUN_COLUMNS names the row's columns once; RunRecord types them: the two say the same names.
assert [column.name for column in RUN_COLUMNS] + ["result", "extra"] == list(RunRecord.__annotations__)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def extra_of(run: Run) -> dict[str, Any]:
    """The run's fields other helpers add (conditions, queue facts, ...), those that are JSON."""
    extra = {}
    for f in dataclasses.fields(run):
        if f.name in NOT_EXTRA:
            continue
        try:
            json.dumps(getattr(run, f.name), default=_plain)
        except (TypeError, ValueError):
            continue  # live-only state (an asyncio object, a handle): nothing to keep
        extra[f.name] = getattr(run, f.name)
    return extra


def restore_extra(run: Run, extra: dict[str, Any]) -> None:
    """Put stored extra fields back; a dataclass field is rebuilt from its dict when its default says so."""
    for name, value in extra.items():
        if not hasattr(run, name):
            continue  # a field this version of the server no longer has
        current = getattr(run, name)
        if dataclasses.is_dataclass(current) and not isinstance(current, type) and isinstance(value, dict):
            try:
                value = type(current)(**value)
            except TypeError:
                pass
        setattr(run, name, value)


def record_of(run: Run) -> RunRecord:
    """The run's row (without the snapshot), taken on the loop at the moment it is saved."""
    result = run.result_json()
    record = {column.name: column.stored(getattr(run, column.attr)) for column in RUN_COLUMNS}
    record["result"] = json.dumps(result) if result is not None else None
    record["extra"] = json.dumps(extra_of(run), default=_plain)
    return cast(RunRecord, record)  # RunRecord's keys are RUN_COLUMNS's (checked above) and these two


def placeholder(experiment_id: str) -> Experiment:
    """A stored run of an experiment this server no longer lists: shown, never run again."""
    return Experiment(
        experiment_id, "", experiment_id, "", "unknown", "(this experiment is no longer in the catalogue)", "", (), ""
    )


def run_of(row: Any, experiments: dict[str, Experiment]) -> Run:
    """The Run a row of `runs` (a sqlite3.Row) holds, its timeline still empty."""
    fields = {column.attr: column.read(row[column.name]) for column in RUN_COLUMNS if column.name != "experiment"}
    run = Run(experiment=experiments.get(row["experiment"]) or placeholder(row["experiment"]), **fields)
    if row["truncated_at_bytes"] is not None:
        run.truncated = Truncation(row["truncated_at_bytes"], row["truncated_after_events"])
    restore_extra(run, json.loads(row["extra"]))
    return run


def history_row(row: tuple[Any, ...]) -> HistoryRow:
    """A row of HISTORY_COLUMNS as the history page and /api/runs list it."""
    run_id, experiment, params, status, created_at, started_at, ended_at = row
    return {
        "id": run_id,
        "experiment": experiment,
        "params": json.loads(params),
        "status": status,
        "created_at": created_at,
        "started_at": started_at,
        "ended_at": ended_at,
    }


HISTORY_COLUMNS = "id, experiment, params, status, created_at, started_at, ended_at"


@dataclass
class Page:
    """One page of the run history."""

    runs: list[HistoryRow]
    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))
