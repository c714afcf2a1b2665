"""The JSON documents the lab keeps in Redis, as TypedDicts: app/storage/redis_formats.py writes them, and
says where each is kept (docs/distributed.md). Types only.

Each carries `"v": 1` (VERSION). A reader checks the version, then takes the rest as written: these say what
the writers of this version put there, not what another process may have left.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from app.storage.records import RunRecord

Version = Literal[1]


class JobDoc(TypedDict):
    """A queue entry's `job` (`lab:runs`): a run for a node to take. A reader allows owner, sweep and created_at
    left out (redis_formats.read_job checks each field it reads)."""

    v: Version
    run: str
    experiment: str
    params: dict[str, Any]  # the experiment's own params, checked when the run was requested
    measures_time: bool
    owner: str
    sweep: str | None
    created_at: float


class StateDoc(RunRecord):
    """A run's state (`lab:run:{id}`, and each `state` entry of its stream): its SQLite row, with the node
    running it and where its stored log was cut."""

    v: Version
    node: str | None
    truncated_at_bytes: int | None
    truncated_after_events: int | None


class TruncatedDoc(TypedDict):
    """A `truncated` entry of a run's stream: its stored log reached LAB_MAX_LOG_MB."""

    v: Version
    at_bytes: int
    after_events: int


class CancelDoc(TypedDict):
    """A cancel request (`lab:run:{id}:cancel`)."""

    v: Version
    at: float  # unix s


class HeartbeatDoc(TypedDict):
    """A node's heartbeat (`lab:node:{name}`)."""

    v: Version
    name: str
    host: str
    pid: int
    run: str | None  # the run it runs; None: idle
    at: float  # unix s


class SweepPointDoc(TypedDict):
    params: dict[str, Any]
    run_id: str


class SweepDoc(TypedDict):
    """A sweep (`lab:sweep:{id}`): sweep_store's row as one document."""

    v: Version
    id: str
    experiment: str
    params: dict[str, Any]  # the params every point shares
    vary: dict[str, list[Any]]
    points: list[SweepPointDoc]
    owner: str
    created_at: float
