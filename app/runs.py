"""A run: its params, status, event log and timeline; and the in-memory store of runs."""
from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from app.admission import Place
from app.conditions import from_header
from app.events import Event
from app.experiments import Experiment
from app.hangs import Blocked
from app.timeline import Timeline

FINISHED = ("done", "failed", "cancelled", "timed_out", "hung")
STATUS_WORDS = {
    "queued": "queued", "running": "running", "done": "done", "failed": "failed",
    "cancelled": "cancelled", "timed_out": "timed out", "hung": "hung",
}
# Why a span still open at the end never ended, by how the run ended. In a run that is done,
# the interpreter exited under it: a daemon thread (or a pool's worker) killed at exit.
CUT_WHY = {
    "done": "killed at exit",
    "failed": "never ended (the run failed)",
    "cancelled": "never ended (the run was cancelled)",
    "timed_out": "never ended (the run timed out)",
    "hung": "never ended (the run hung)",
}


@dataclass
class Run:
    id: str
    experiment: Experiment
    params: dict[str, Any]
    owner: str = ""  # the client that started it (app/clients.py): it may cancel it
    status: str = "queued"
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    ended_at: float | None = None
    error: str | None = None  # why the server ended it, in words (killed, timed out, ...)
    stderr_tail: str = ""
    blocked: list[Blocked] = field(default_factory=list)  # a hung run's workers and what each waited on
    place: Place | None = None  # while queued: where it stands (app/lab.py keeps it current)
    conditions: dict[str, Any] = field(default_factory=dict)  # what it ran under (app/conditions.py)
    events: list[Event] = field(default_factory=list)
    timeline: Timeline = field(default_factory=Timeline)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    cancel_requested: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def status_words(self) -> str:
        return STATUS_WORDS[self.status]

    @property
    def python(self) -> str | None:
        header = self.timeline.header
        return header.get("python") if header else None

    @property
    def result(self) -> dict[str, Any] | None:
        return self.timeline.result

    @property
    def failure(self) -> dict[str, Any] | None:
        return self.timeline.failure

    def ingest(self, events: list[Event]) -> None:
        self.events.extend(events)
        had_header = self.timeline.header is not None
        for event in events:
            self.timeline.apply(event)
        if not had_header and self.timeline.header is not None:
            self.conditions.update(from_header(self.timeline.header, self.params))
        self.changed.set()

    def start(self) -> None:
        self.status = "running"
        self.started_at = time.time()
        self.changed.set()

    def finish(self, status: str, error: str | None = None, cut_at_ns: int | None = None) -> None:
        """End the run; spans still open are cut at `cut_at_ns` (when it was killed) or at its last event."""
        self.timeline.close(cut_at_ns, CUT_WHY.get(status, "never ended"))
        self.status = status
        self.error = error
        self.ended_at = time.time()
        self.changed.set()

    def to_json(self) -> dict[str, Any]:
        result = dict(self.result) if self.result else None
        if self.failure:
            result = {**(result or {}), "error": {k: self.failure.get(k) for k in ("type", "message", "traceback")}}
        if self.blocked:
            result = {**(result or {}), "blocked": [b.to_json() for b in self.blocked]}
        return {
            "id": self.id,
            "experiment": self.experiment.id,
            "params": self.params,
            "status": self.status,
            "result": result,
            "error": self.error,
            "python": self.python,
            "conditions": self.conditions,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "url": f"/runs/{self.id}",
        }


class RunStore:
    """Runs by id, in memory (the SQLite store comes with the hosting issue)."""

    def __init__(self) -> None:
        self._runs: dict[str, Run] = {}

    def create(self, experiment: Experiment, params: dict[str, Any], owner: str = "") -> Run:
        run = Run(secrets.token_hex(6), experiment, params, owner)
        self._runs[run.id] = run
        return run

    def get(self, run_id: str) -> Run | None:
        return self._runs.get(run_id)

    def active(self) -> list[Run]:
        return [run for run in self._runs.values() if not run.finished]
