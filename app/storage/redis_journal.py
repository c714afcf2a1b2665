"""The Journal a run reports to on a runner node: its events and states appended to its Redis stream.

The Redis counterpart of the SQLite store's journal side (app/storage/store.py), in the formats of
app/storage/redis_formats.py. As there, what a run ingests is queued on the loop and written by one writer
task, everything waiting at once (one pipeline: an XADD per stored row of up to CHUNK_EVENTS events, never
one per event), in the order it came, states included; `room()` makes the supervisor stop reading the
runner's pipe while the writer is more than BACKLOG_HIGH events behind.

The log is bounded as the store bounds it (LAB_MAX_LOG_MB): rows are counted by their stored bytes, and the
first row that would cross the bound, and every row after it, keeps only the events replay needs (header,
lane, result, failure); the stream says so with a `truncated` entry, and the run's state with
`truncated_at_bytes`.

A finished run's state is written with its timeline's snapshot (`lab:run:{id}:snapshot`, app/storage/
snapshots.py's document, as the SQLite store keeps it), in the same pipeline: a finished run is not replayed.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.model.events import Event
from app.model.runs import Run
from app.model.status import Status
from app.model.timeline import Timeline
from app.storage import redis_formats as formats
from app.storage import snapshots
from app.storage.store import BACKLOG_HIGH
from app.storage.wire import LogState, bounded, rows_of

WRITE_RETRY_S = 60.0  # a write is sent again while Redis is away, for this long
RETRY_EVERY_S = 0.5

log = logging.getLogger(__name__)


@dataclass
class RedisJournal:
    """Runs on this node report here; `node` names it in their state documents."""

    redis: Redis
    node: str
    max_log_bytes: int = 50_000_000
    _pending: list[tuple[str, Run, Any]] = field(default_factory=list)  # ("events", run, piece), ("state", run, ...)
    _logs: dict[str, LogState] = field(default_factory=dict)
    _backlog: int = 0
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _idle: asyncio.Event = field(default_factory=asyncio.Event)
    _caught_up: asyncio.Event = field(default_factory=asyncio.Event)
    _writer: asyncio.Task[None] | None = None

    # -- the Journal --

    def append(self, run: Run, events: list[Event], wire: bytes = b"") -> None:
        if events:
            self._queue("events", run, (run.received - len(events) + 1, events, wire))
            self._backlog += len(events)

    def save(self, run: Run) -> None:
        # The document is taken now: the run goes on changing. Its timeline, once it has finished, is final.
        self._queue("state", run, (formats.state_doc(run, self.node), run.timeline if run.finished else None))

    async def room(self) -> None:
        while self._backlog > BACKLOG_HIGH:
            self._caught_up.clear()
            await self._caught_up.wait()

    # -- life cycle --

    def __post_init__(self) -> None:
        self._idle.set()  # nothing queued yet

    async def flush(self) -> None:
        """Until everything queued so far is written (or could not be)."""
        await self._idle.wait()

    async def close(self) -> None:
        await self.flush()
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)

    # -- the writer --

    def _queue(self, kind: str, run: Run, item: Any) -> None:
        self._pending.append((kind, run, item))
        self._idle.clear()
        self._wake.set()
        if self._writer is None:
            self._writer = asyncio.create_task(self._write())

    async def _write(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                ops, self._pending = self._pending, []
                count = sum(len(item[1]) for kind, _, item in ops if kind == "events")
                try:
                    await self._send(ops)
                except Exception:  # Redis away for longer than the retries: the run goes on without these
                    log.exception("node %s: could not write %d events and states to Redis", self.node, len(ops))
                self._backlog -= count
                if self._backlog <= BACKLOG_HIGH // 2:
                    self._caught_up.set()
            self._idle.set()

    async def _send(self, ops: list[tuple[str, Run, Any]]) -> None:
        """Write `ops` in one transaction, sent again while Redis is away (restarting, say), for up to
        WRITE_RETRY_S: meanwhile the backlog grows and `room()` holds the run back, rather than lose its end."""
        writes = Writes()
        await self._add(writes, ops)
        for attempt in range(int(WRITE_RETRY_S / RETRY_EVERY_S)):
            try:
                await writes.send(self.redis)
                return
            except (RedisConnectionError, RedisTimeoutError):
                if attempt == 0:
                    log.warning("node %s: Redis unreachable; writing again every %g s", self.node, RETRY_EVERY_S)
                await asyncio.sleep(RETRY_EVERY_S)
        await writes.send(self.redis)  # the last try: its error is logged by the writer

    async def _add(self, pipe: Writes, ops: list[tuple[str, Run, Any]]) -> None:
        pieces: list[tuple[int, list[Event], bytes]] = []
        piece_run: Run | None = None

        def add_events() -> None:
            if piece_run is not None and pieces:
                self._add_rows(pipe, piece_run, pieces)
            pieces.clear()

        for kind, run, item in ops:
            if kind == "events":
                if piece_run is not None and piece_run.id != run.id:
                    add_events()
                piece_run = run
                pieces.append(item)
                continue
            add_events()  # the events before a state, first
            doc, timeline = item
            if run.truncated is not None:  # learnt by the writer, maybe after the state was taken
                doc = {
                    **doc,
                    "truncated_at_bytes": run.truncated.at_bytes,
                    "truncated_after_events": run.truncated.after_events,
                }
            if Status(doc["status"]).finished:
                self._logs.pop(run.id, None)
            if timeline is not None:  # with its end, in the same pipeline: a finished run always has both
                await self._add_snapshot(pipe, run.id, timeline)
            pipe.set(formats.state_key(run.id), formats.dumps(doc))
            pipe.xadd(formats.events_key(run.id), formats.state_entry(doc))
        add_events()

    async def _add_snapshot(self, pipe: Writes, run_id: str, timeline: Timeline) -> None:
        """The finished timeline as the SQLite store keeps it; none (replayed) if a document cannot hold it
        or it is bigger than the log's bound: a snapshot saved before never stays."""
        try:  # off the loop, as the store dumps it on its database thread: a big run's takes a while
            snapshot: bytes | None = await asyncio.to_thread(snapshots.dump, timeline)
        except (TypeError, ValueError, RecursionError):
            log.warning("run %s: its timeline could not be stored as a snapshot", run_id, exc_info=True)
            snapshot = None
        if snapshot is not None and len(snapshot) <= self.max_log_bytes:
            pipe.set(formats.snapshot_key(run_id), snapshot)
        else:
            pipe.delete(formats.snapshot_key(run_id))

    def _add_rows(self, pipe: Writes, run: Run, pieces: list[tuple[int, list[Event], bytes]]) -> None:
        log_state = self._logs.setdefault(run.id, LogState())
        for row in rows_of(pieces):
            was_truncated = log_state.truncation is not None
            stored = bounded(row, log_state, self.max_log_bytes)
            if not was_truncated and log_state.truncation is not None:
                run.truncated = log_state.truncation
                run.changed.set()
                pipe.xadd(formats.events_key(run.id), formats.truncated_entry(log_state.truncation))
            if stored is not None:
                pipe.xadd(formats.events_key(run.id), formats.events_entry(*stored))


@dataclass
class Writes:
    """Commands to send in one transaction, kept so that they can be sent again: a pipeline forgets its
    commands once executed, failed or not."""

    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)

    def set(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append(("set", args, kwargs))

    def xadd(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append(("xadd", args, kwargs))

    def delete(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append(("delete", args, kwargs))

    async def send(self, redis: Redis) -> None:
        async with redis.pipeline(transaction=True) as pipe:
            for name, args, kwargs in self.calls:
                getattr(pipe, name)(*args, **kwargs)
            await pipe.execute()
