"""A run: its params, status and timeline, and how it reports itself to the run store (app/storage/store.py).

A run keeps no event log in memory: each batch it ingests is folded into its timeline and handed
to its journal (the store), which writes the raw events to SQLite off the event loop."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.model.conditions import from_header
from app.model.cpu import Budget, budget
from app.model.documents import ErrorJson, FailureInfo, RunConditions, RunJson, TruncationJson
from app.model.events import Event
from app.model.experiments import Experiment
from app.model.findings import findings
from app.model.hangs import Blocked
from app.model.status import FINISHED, Status
from app.model.timeline import Timeline


def cut_why(status: str) -> str:
    """Why a span still open when a run ended with `status` (a plain string too: a database row's) never ended."""
    return Status(status).cut_why if status in FINISHED else "never ended"


class Journal(Protocol):
    """Where a run reports what must outlive the server process (app/storage/store.py)."""

    def append(self, run: Run, events: list[Event], wire: bytes = b"") -> None: ...

    def save(self, run: Run) -> None: ...

    async def room(self) -> None: ...


@dataclass(frozen=True)
class Truncation:
    """The stored event log reached the bound: from here on only the events replay needs are kept."""

    at_bytes: int  # the log's size when it reached the bound
    after_events: int  # events stored in full before that

    @property
    def at_mb(self) -> float:
        return round(self.at_bytes / 1e6, 3)

    def to_json(self) -> TruncationJson:
        return {"at_mb": self.at_mb, "after_events": self.after_events}


@dataclass
class Run:
    id: str
    experiment: Experiment
    params: dict[str, Any]
    owner: str = ""  # the client that started it (app/web/clients.py): it may cancel it
    sweep: str | None = None  # the sweep it is a point of (app/model/sweeps.py): with it, one request to the limits
    status: Status = Status.QUEUED  # a plain string (a database row's) is made a Status
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    ended_at: float | None = None
    error: str | None = None  # why the server ended it, in words (killed, timed out, ...)
    stderr_tail: str = ""
    blocked: list[Blocked] = field(default_factory=list)  # a hung run's workers and what each waited on
    place: Place | None = None  # while queued: where it stands (app/running/lab.py keeps it current)
    conditions: RunConditions = field(default_factory=RunConditions)  # what it ran under (app/model/conditions.py)
    received: int = 0  # events ingested so far (each is numbered, from 1, in the stored log)
    truncated: Truncation | None = None  # set by the store once the log reached settings.max_log_mb
    cut_at_ns: int | None = None  # where spans still open were cut when it ended (kept for replay)
    stop_as: Status = Status.CANCELLED  # the status a stop request ends it with (INTERRUPTED on server shutdown)
    stopped_by: str = "the server"  # who stops it when it ends INTERRUPTED (a runner node, app/running/node.py)
    journal: Journal | None = field(default=None, repr=False, compare=False)
    timeline: Timeline = field(default_factory=Timeline)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    cancel_requested: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.status = Status(self.status)

    @property
    def finished(self) -> bool:
        return self.status.finished

    @property
    def status_words(self) -> str:
        return self.status.words

    @property
    def python(self) -> str | None:
        header = self.timeline.header
        return header.get("python") if header else None

    @property
    def notice(self) -> str:
        """What to notice on this run: its experiment's words for an interpreter with the GIL, or without."""
        return self.experiment.notice_for(bool(self.conditions.get("gil_enabled", True)))

    @property
    def result(self) -> dict[str, Any] | None:
        """The experiment's result: free-form, its own keys (Timeline.result)."""
        return self.timeline.result

    @property
    def findings(self) -> list[str]:
        """What this run showed, in sentences computed from its result (app/model/findings.py)."""
        return findings(self.experiment, self.params, self.result, self.python, self.cpu)

    @property
    def failure(self) -> FailureInfo | None:
        return self.timeline.failure

    @property
    def cpu(self) -> Budget | None:
        """How many cores the run's workers and other programs kept busy (app/model/cpu.py)."""
        return budget(self.timeline)

    @property
    def oncpu_unavailable(self) -> str | None:
        """Why this run has no on-CPU lanes, if it has none (said by the runner's header)."""
        oncpu = (self.timeline.header or {}).get("oncpu")
        return oncpu.get("unavailable") if isinstance(oncpu, dict) else None

    @property
    def lost_records(self) -> int:
        """Context-switch records the kernel dropped in this run (drawn as gaps in the strips)."""
        return self.timeline.lost_records()

    @property
    def torn_lines(self) -> int:
        """Lines of events another write cut into (app/model/events.py `looks_torn`): their events are lost."""
        return self.timeline.torn

    def ingest(self, events: list[Event], wire: bytes = b"") -> None:
        """Fold `events` in and journal them; `wire`, if given, is the runner's lines they were parsed
        from (StreamParser.wire), which the store keeps as they are."""
        had_header = self.timeline.header is not None
        self.timeline.apply_all(events)
        new_header = None if had_header else self.timeline.header  # the header these events brought, if any
        if new_header is not None:
            self.conditions.update(from_header(new_header, self.params))
        self.received += len(events)
        if self.journal is not None:
            self.journal.append(self, events, wire)
            if (
                new_header is not None
            ):  # stored now: a server killed before the run ends must not lose what it ran under
                self.journal.save(self)
        self.changed.set()

    def ran_beside(self, others: int) -> None:
        """`others` runs execute beside it now: its conditions keep the most there ever were, stored at once."""
        if others > self.conditions.get("beside", -1):
            self.conditions["beside"] = others
            if self.journal is not None and self.status == Status.RUNNING:  # start() stores it otherwise
                self.journal.save(self)

    def start(self) -> None:
        self.status = Status.RUNNING
        self.started_at = time.time()
        if self.journal is not None:
            self.journal.save(self)
        self.changed.set()

    def finish(self, status: Status, error: str | None = None, cut_at_ns: int | None = None) -> None:
        """End the run; spans still open are cut at `cut_at_ns` (when it was killed) or at its last event."""
        status = Status(status)
        self.timeline.close(cut_at_ns, status.cut_why)
        self.cut_at_ns = cut_at_ns
        self.status = status
        self.error = error
        self.ended_at = time.time()
        if self.journal is not None:
            self.journal.save(self)
        self.changed.set()

    def result_json(self) -> dict[str, Any] | None:
        """The result as the API shows it: the experiment's, with its error or who was blocked. Free-form (the
        experiment's own keys, each experiment's): `error` is an ErrorJson, `blocked` a list of BlockedJson."""
        result = dict(self.result) if self.result else None
        if self.failure:
            failure = self.failure
            error: ErrorJson = {
                "type": failure.get("type"),
                "message": failure.get("message"),
                "traceback": failure.get("traceback"),
            }
            result = {**(result or {}), "error": error}
        if self.blocked:
            result = {**(result or {}), "blocked": [b.to_json() for b in self.blocked]}
        return result

    def to_json(self) -> RunJson:
        result = self.result_json()
        cpu = self.cpu
        return {
            "id": self.id,
            "experiment": self.experiment.id,
            "params": self.params,
            "status": self.status,
            "result": result,
            "error": self.error,
            "python": self.python,
            "conditions": self.conditions,
            "cpu": cpu.to_json() if cpu else None,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "sweep": self.sweep,
            "log": {"events": self.received, "truncated": self.truncated.to_json() if self.truncated else None},
        }


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass(frozen=True)
class Place:
    """Where a queued run stands: its 1-based position, in words for its page. Who executes the runs words it
    (app/running/seams.py Execution.place): only they know what it waits for."""

    position: int
    words: str


def in_line(position: int, executing: int) -> str:
    runs = "run" if executing == 1 else "runs"
    return f"{ordinal(position)} in line, {executing} {runs} ahead of it executing"
