"""A run's result in words: labels and units for its values, tables for its lists and dicts, the
threads-vs-processes bar chart, and the verdict on the lesson. Pure.

The values come from the experiment's `run()` (and the runner's run_call_ms); the verdict from the
experiment's own `verdict(params, result, python)` (app/model/findings.py), computed from the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.model.findings import Verdict, verdict

if TYPE_CHECKING:
    from app.model.runs import Run

# The words each known value is shown with: a label and its unit ("" for none). A value not
# listed is labelled by its key, underscores as spaces, its unit read off the key's suffix.
LABELS: dict[str, tuple[str, str]] = {
    "run_call_ms": ("run() took", "ms"),
    "expected": ("expected", ""),
    "actual": ("got", ""),
    "main_ms": ("main's start() calls took", "ms"),
    "total_ms": ("everything was done after", "ms"),
    "longest_ms": ("the longer fetch alone", "ms"),
    "sum_ms": ("both fetches one after the other", "ms"),
    "serial_ms": ("serial, on main", "ms"),
    "thread_ms": ("thread pool", "ms"),
    "process_ms": ("process pool", "ms"),
    "thread_speedup": ("thread pool's speedup over serial", "×"),
    "process_speedup": ("process pool's speedup over serial", "×"),
    "interpreter_ms": ("interpreter pool", "ms"),
    "interpreter_speedup": ("interpreter pool's speedup over serial", "×"),
    "interpreters": ("subinterpreters that ran tasks", ""),
    "interpreter_pool": ("its InterpreterPoolExecutor (stdlib: 3.14's; backport: interpreters-pep-734's)", ""),
    "ideal_speedup": ("the best speedup possible here", "×"),
    "gil_enabled": ("the GIL on (False: a free-threaded build running without it)", ""),
    "results": ("results", ""),
    "starmap_ms": ("Pool.starmap took", "ms"),
    "parent_pid": ("the parent's pid", ""),
    "child_pid": ("the child's pid", ""),
    "child_exit_code": ("the child's exit code", ""),
    "dialogue": ("the dialogue", ""),
    "messages": ("messages sent", ""),
    "sender_exitcode": ("the sender's exit code", ""),
    "receiver_exitcode": ("the receiver's exit code", ""),
    "items": ("items", ""),
    "producer_exitcode": ("the producer's exit code", ""),
    "consumer_exitcode": ("the consumer's exit code", ""),
    "consumers_still_running": ("consumers still running when main ended", ""),
    "permits": ("permits of the semaphore", ""),
    "max_concurrent": ("most permits in use at once", ""),
    "generator_took_permits": ("permits the URLGenerator took", ""),
    "crawl_order": ("the order crawlers got a permit", ""),
    "wasted_polls": ("looks that found the list empty", ""),
    "wasted_per_poller": ("empty looks, by poller", ""),
    "wasted_after_producer_done": ("empty looks after the last item came", ""),
    "items_left": ("items never processed", ""),
    "order": ("the order main got the results in (task numbers)", ""),
    "started_units": ("when each task started", "units"),
    "ready_units": ("when each task's result was ready", "units"),
    "received_units": ("when main received each result", "units"),
}
SUFFIX_UNITS = {"_ms": "ms", "_s": "s", "_units": "units", "_speedup": "×", "_mb": "MB"}
SHOWN_ELSEWHERE = {"correct"}  # said by the counter line (expected, got, ✓ or ✗)
ACROSS_MAX = 12  # lists of plain values up to this long are drawn across, one cell each
TABLE_ROWS = 50  # a list or dict longer than this shows its first rows and says how many more


@dataclass(frozen=True)
class Table:
    head: tuple[str, ...]
    rows: list[tuple[str, ...]]
    more: int = 0  # rows not shown
    across: bool = False  # a short list of plain values: drawn as one row of cells, numbered above


@dataclass(frozen=True)
class Value:
    """One value of the result, worded: a label, and either a text (with its unit) or a table."""

    key: str
    label: str
    text: str = ""
    table: Table | None = None


@dataclass(frozen=True)
class Bar:
    label: str
    ms: float
    width: float  # percent of the longest bar
    words: str  # written after the bar


@dataclass(frozen=True)
class Chart:
    """Serial, thread pool, process pool and the ideal time, as horizontal bars: shorter is faster."""

    bars: list[Bar]


@dataclass(frozen=True)
class Worded:
    verdict: Verdict | None
    values: list[Value]
    chart: Chart | None
    counter: bool  # the result is a counter against its expected value (the counter line says it)


def number(value: float | int) -> str:
    """1 234 567 or 12.3: thousands grouped by spaces (as the findings write them), floats shortened."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}".replace(",", " ")
    if value == int(value) and abs(value) >= 100:
        return number(int(value))
    if abs(value) >= 100:
        return f"{value:,.0f}".replace(",", " ")
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def scalar(value: Any) -> str:
    if isinstance(value, (int, float)):
        return number(value)
    if value is None:
        return "none"
    return str(value)


def label_of(key: str) -> tuple[str, str]:
    if key in LABELS:
        return LABELS[key]
    unit = next((u for suffix, u in SUFFIX_UNITS.items() if key.endswith(suffix)), "")
    words = key[: -len(next(s for s in SUFFIX_UNITS if key.endswith(s)))] if unit else key
    return words.replace("_", " "), unit


def table(value: list[Any] | tuple[Any, ...] | dict[Any, Any]) -> Table:
    """A list as (#, value) rows from 1, a dict as (key, value) rows; nested values as text."""
    if isinstance(value, dict):
        rows: list[tuple[str, ...]] = [(str(k), cell(v)) for k, v in value.items()]
        head: tuple[str, ...] = ("", "")
    elif len(value) <= ACROSS_MAX and not any(isinstance(v, (list, tuple, dict)) for v in value):
        return Table(tuple(str(i) for i in range(1, len(value) + 1)), [tuple(cell(v) for v in value)], across=True)
    else:
        rows = [(str(i), cell(v)) for i, v in enumerate(value, 1)]
        head = ("#", "")
    return Table(head, rows[:TABLE_ROWS], max(0, len(rows) - TABLE_ROWS))


def cell(value: Any) -> str:
    """A value in one line of text: lists joined with commas, dicts as `key: value` pairs."""
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {cell(v)}" for k, v in value.items())
    return scalar(value)


def worded_value(key: str, value: Any) -> Value:
    label, unit = label_of(key)
    if isinstance(value, (list, tuple, dict)):
        return Value(key, label, table=table(value))
    text = scalar(value)
    if unit == "×":
        text += "×"
    elif unit:
        text += f" {unit}"
    return Value(key, label, text)


def speedup_chart(result: dict[str, Any]) -> Chart | None:
    """The bars of a threads-vs-processes run: each way's time, and the ideal (serial / ideal speedup)."""
    try:
        serial, threads, processes = (float(result[k]) for k in ("serial_ms", "thread_ms", "process_ms"))
        ideal = float(result["ideal_speedup"])
    except (KeyError, TypeError, ValueError):
        return None
    if serial <= 0 or ideal <= 0:
        return None
    times = [("serial, on main", serial), ("thread pool", threads)]
    if isinstance(result.get("interpreter_ms"), (int, float)):  # interpreters-cpu's third pool
        times.append(("interpreter pool", float(result["interpreter_ms"])))
    times += [("process pool", processes), (f"ideal ({number(ideal)}× faster)", serial / ideal)]
    longest = max(ms for _, ms in times)
    bars = []
    for name, ms in times:
        speed = serial / ms if ms > 0 else 0.0
        words = f"{number(ms)} ms" + ("" if name.startswith(("serial", "ideal")) else f" ({speed:.2f}× serial)")
        bars.append(Bar(name, round(ms, 3), round(100 * ms / longest, 2) if longest else 0.0, words))
    return Chart(bars)


def words_for(run: Run) -> Worded | None:
    """Everything the result panel says about `run`'s result, or None if it has none."""
    result = run.result
    if not result:
        return None
    counter = (
        "expected" in result
        and "actual" in result
        and all(isinstance(result[k], (int, float)) for k in ("expected", "actual"))
    )
    skip = SHOWN_ELSEWHERE | ({"expected", "actual"} if counter else set())
    values = [worded_value(k, v) for k, v in result.items() if k not in skip]
    if run.python:
        values.append(Value("python", "Python", run.python))
    return Worded(
        verdict(run.experiment, run.params, result, run.python, run.cpu), values, speedup_chart(result), counter
    )
