"""The JSON documents the model makes of a run, its events and its CPU budget, as TypedDicts. Types only.

What the `to_json` methods of app/model/ return, which the API (app/web/api.py), the stored rows
(app/storage/records.py) and the Redis documents (app/storage/redis_documents.py) pass on as they are.
app/web/schemas.py describes the same shapes for OpenAPI; these say them to mypy. What an experiment
decides (its params, its result, what it ran under) stays `dict[str, Any]`: each experiment has its own keys.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

from app.model.status import Status

# What an event is (app/model/events.py): the wire carries a one-letter code (KINDS there); the API and the stored
# form the word.
Kind = Literal[
    "header",
    "lane",
    "begin",
    "end",
    "instant",
    "counter",
    "result",
    "failure",
    "service",
    "oncpu",
    "exit",
    "machine",
    "gap",
    "output",
    "torn",  # a line that was not an event batch: a program's text, or a batch another write cut
]

# ---- what the runner sends (experiments/harness/runner.py, recorder.py): an event's info object ----
# It comes from another process, checked on arrival only as a JSON object (app/model/events.py decode): its
# readers take each key with .get and check a value where a wrong one would do harm. total=False: an older
# runner, or one that died early, may leave any key out.


class OncpuInfo(TypedDict, total=False):
    """How the run's on-CPU strips are drawn (experiments/harness/sampler.py): by `source`, or why not (`unavailable`)."""

    sampler_pid: int
    source: str  # "switches", "proc", or "" (none)
    reason: str  # why the /proc sampler rather than the switch records
    fix: str  # what would give the switch records
    unavailable: str  # why there are no on-CPU strips at all
    late: str  # what the sampler did instead of following the run from its start (absent: it did)


class HeaderInfo(TypedDict, total=False):
    """A header event's info: what the run runs under, as its runner found it."""

    format: int
    experiment: str
    params: dict[str, Any]  # the experiment's own params
    python: str
    implementation: str
    free_threaded: bool  # a PEP 703 build
    gil_enabled: bool
    executable: str
    pid: int
    start_method: str
    cpus: int | None
    loadavg: float
    bytecode: dict[str, str]  # by function name, its disassembly
    oncpu: OncpuInfo


class FailureInfo(TypedDict, total=False):
    """A failure event's info: the exception the experiment raised."""

    type: str
    message: str
    traceback: str


# ---- what the model makes ----


class EventJson(TypedDict):
    """An event as the API shows it (Event.to_json). An on-CPU interval has `tid`, `start_ns`, `end_ns`, and, where
    the kernel's switch records told it, `cpu` and how it `ended`; a begin its `start_ns`, an end its `end_ns`."""

    ts_ns: int
    worker: str
    kind: Kind
    tid: NotRequired[int]
    start_ns: NotRequired[int]
    end_ns: NotRequired[int]
    cpu: NotRequired[int]
    ended: NotRequired[Literal["preempted", "voluntary", ""]]
    name: NotRequired[str]
    category: NotRequired[str]
    # A header's, result's or failure's info object, a counter's value, a notify's or woken's key: as the runner sent it.
    value: NotRequired[Any]


class NumberedEventJson(EventJson):
    """A stored event as GET /api/runs/{id}/events pages it: with its number in the run's log, from 1."""

    seq: int


class TruncationJson(TypedDict):
    at_mb: float
    after_events: int


class BlockedJson(TypedDict):
    worker: str
    waiting_on: str


class OverlapJson(TypedDict):
    together_ms: float
    span_ms: float


class StretchJson(TypedDict):
    name: str
    start_ms: float
    end_ms: float
    workers_busy_cores: float
    others_busy_cores: float | None
    lab_busy_cores: float | None
    resolution_cores: float
    first_task_ms: float | None
    together_ms: float | None


class BudgetJson(TypedDict):
    cores: int
    workers_busy_cores: float
    others_busy_cores: float | None
    on_cpu_ms: dict[str, float]
    recorder_ms: float
    sampler_ms: float
    unlaned_ms: float
    waited_for_cpu_ms: float
    phases: list[StretchJson]
    resolution_cores: float
    parallel: OverlapJson | None
    lab_busy_cores: float | None


class ErrorJson(TypedDict):
    """The exception a failed run's experiment raised, as its runner's failure event said it (keys it left out: None)."""

    type: str | None
    message: str | None
    traceback: str | None


class LogJson(TypedDict):
    events: int  # received so far
    truncated: TruncationJson | None


class RunConditions(TypedDict, total=False):
    """What a run ran under (app/model/conditions.py from_header, and Run.ran_beside): none of it until its
    runner's header came; a run stored by an older server may lack any key."""

    loadavg: float | None  # the machine's, as it started
    python: str | None
    free_threaded: bool
    gil_enabled: bool
    start_method: str | None
    cpus: int | None
    oncpu_source: str  # "switches", "proc", or "" (see OncpuInfo)
    oncpu_reason: str
    oncpu_fix: str
    oncpu_late: str  # what the sampler did instead of following the run from its start ("" if it did)
    beside: int  # the most runs that ever executed beside it


class RunJson(TypedDict):
    """A run as the API shows it (Run.to_json): app/web/schemas.py's RunOut, without the web's `url` and place."""

    id: str
    experiment: str
    params: dict[str, Any]  # the experiment's own params (experiments/harness/params.py checked them)
    status: Status
    # The experiment's result, its own keys (with `error`, an ErrorJson, if it raised; `blocked`, a list of
    # BlockedJson, if it hung): free-form, each experiment returns what it measured.
    result: dict[str, Any] | None
    error: str | None
    python: str | None
    conditions: RunConditions
    cpu: BudgetJson | None
    created_at: float
    started_at: float | None
    ended_at: float | None
    sweep: str | None
    log: LogJson


class HistoryRow(TypedDict):
    """A run as the history lists it (app/storage/records.py history_row): its stored row's first columns."""

    id: str
    experiment: str
    params: dict[str, Any]  # the experiment's own params
    status: str  # a Status
    created_at: float
    started_at: float | None
    ended_at: float | None
