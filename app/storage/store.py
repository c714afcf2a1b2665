"""The run store: runs and their event logs in SQLite, so nothing is lost when the server stops.

One thread owns the SQLite connection (app/storage/database.py); the event loop only hands it jobs.
Events a run ingests are queued on the loop and handed to that thread once per loop tick, and
the thread writes everything it finds waiting in one transaction: a run emitting a million
events costs a few hundred compressed rows, never an INSERT per event, and the loop never
waits for the disk. No Event object is kept once written; while the writer is more than
BACKLOG_HIGH events behind, `room()` makes the supervisor stop reading the runner's pipe.

Each run's stored log is bounded by `max_log_bytes` (settings.max_log_mb). Past the bound only
the events replay cannot do without (header, lane, result, failure) are stored, and the run
says where its log was truncated. When a run ends, its finished Timeline is stored too (a
snapshot: a versioned JSON document, app/storage/snapshots.py), so a finished run replays
identically after a restart, truncated or not; a run that never ended (the server was killed),
or whose snapshot is of another version, is replayed from its stored events.

Live runs and a few recently finished ones are kept in memory; any other run is loaded from
the database when asked for. The tables, and the jobs the database thread runs on them, are
app/storage/run_tables.py; this module is the cache, the batching and the back-pressure.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

from app.model.documents import NumberedEventJson
from app.model.events import Event
from app.model.experiments import Experiment
from app.model.runs import Run, Truncation
from app.model.status import Status
from app.storage import run_tables
from app.storage.database import Database
from app.storage.loads import Loads
from app.storage.records import Page, record_of
from app.storage.run_cache import RunCache
from app.storage.run_tables import Batch, Writer

BACKLOG_HIGH = 100_000  # events ingested and not yet written: past it, reading the pipe waits
HEARTBEAT_S = 1.0  # how often running runs are noted as alive: a killed server's runs are cut there


@dataclass
class RunStore:
    path: str
    experiments: dict[str, Experiment]
    max_log_bytes: int = 50_000_000
    db: Database = field(init=False)
    _writer: Writer = field(init=False)  # the database thread's own
    _cache: RunCache = field(default_factory=RunCache)
    _loads: Loads[str, Run | None] = field(default_factory=Loads)
    _pending: list[Batch] = field(default_factory=list)  # ingested this tick
    _handover: asyncio.Handle | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _heartbeat: asyncio.Task[None] | None = None
    _backlog: int = 0  # events ingested, not yet written
    _caught_up: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.db = Database(self.path)
        self._writer = Writer(self.max_log_bytes, self._truncated)

    # -- life cycle --

    async def open(self) -> list[Run]:
        """Start the writer; every run stored as running (the server stopped or died under it) becomes
        interrupted. Returns the runs stored as queued, which never started, in the order they were queued:
        journalled here again, for the lab to queue again."""
        self._loop = asyncio.get_running_loop()
        self.db.start()
        left_queued = await self.db.run(run_tables.open_tables)
        self._heartbeat = asyncio.create_task(self._beat())
        runs = [run for run in [await self.find(run_id) for run_id in left_queued] if run is not None]
        for run in runs:
            run.journal = self
        return runs

    async def close(self) -> None:
        """Write whatever is still waiting, then stop the writer."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        self._hand_over()
        await self.db.stop()

    async def flush(self) -> None:
        """Until what was saved so far (runs, sweeps: one database thread) is committed, so the process that finds
        it may be this one started again: a run the lab answered for outlives a SIGKILL right after."""
        self._hand_over()
        with contextlib.suppress(sqlite3.Error):  # a commit that failed (a full disk) is logged by the database
            await self.db.run(_committed)  # thread; the run goes on in memory, as its events do

    # -- the interface the lab uses --

    def create(self, experiment: Experiment, params: dict[str, Any], owner: str = "", sweep: str | None = None) -> Run:
        run = Run(secrets.token_hex(6), experiment, params, owner, sweep=sweep)
        run.journal = self
        self._cache.remember(run)
        self.save(run)
        return run

    def get(self, run_id: str) -> Run | None:
        """A run in memory (live, or finished recently); `find` also looks in the database."""
        return self._cache.get(run_id)

    def active(self) -> list[Run]:
        return self._cache.active()

    async def find(self, run_id: str) -> Run | None:
        run = self.get(run_id)
        if run is not None:
            return run
        if len(run_id) > 64:
            return None
        run = await self._loads.once(run_id, lambda: self.db.run(run_tables.load, run_id, self.experiments))
        if run is not None and run.id not in self._cache.recent:
            self._cache.remember(run)
        return run

    async def events(
        self, run_id: str, after: int, limit: int, lane_of_tid: dict[int, str] | None = None
    ) -> list[NumberedEventJson]:
        """Stored events numbered after `after`, at most `limit`, each as JSON with its `seq`;
        on-CPU intervals on the lane of their thread (`lane_of_tid`, the run's timeline knows it)."""
        self._hand_over()  # so the read sees every event ingested so far
        return await self.db.run(run_tables.read_events, run_id, after, limit, lane_of_tid)

    async def stored_events(self, run_id: str, after: int, limit: int) -> list[tuple[int, Event]]:
        """Stored events numbered after `after`, at most `limit`, as (seq, Event): for exports (app/drawing/trace.py)."""
        self._hand_over()  # so the read sees every event ingested so far
        return await self.db.run(run_tables.read_stored, run_id, after, limit)

    async def rows(self, run_id: str, first: int, last: int, limit: int) -> list[tuple[int, bytes]]:
        """Stored rows of a run as they are, (first_seq, blob) with first <= first_seq <= last, at most
        `limit`: a zoomed window decodes them off the database thread (unpack_events)."""
        self._hand_over()
        return await self.db.run(run_tables.read_rows, run_id, first, last, limit)

    async def history(self, page: int, size: int) -> Page:
        self._hand_over()
        return await self.db.run(run_tables.history, page, size)

    async def delete_before(self, cutoff: float) -> int:
        """Delete the finished runs created before `cutoff` (unix s), events and all (LAB_RETAIN_DAYS); how many."""
        self._hand_over()
        deleted = await self.db.run(run_tables.delete_before, cutoff)
        self._cache.forget(deleted)
        return len(deleted)

    # -- the Journal a run reports to --

    def append(self, run: Run, events: list[Event], wire: bytes = b"") -> None:
        """Queue events for the writer; `wire` (the runner's lines they came from) is stored as it is."""
        if events:
            self._pending.append((run, run.received - len(events) + 1, events, wire))
            self._backlog += len(events)
            self._schedule()

    async def room(self) -> None:
        """Wait while the writer is far behind: the supervisor then stops reading the runner's pipe, so
        a run that emits events faster than they can be stored slows down instead of filling memory."""
        while self._backlog > BACKLOG_HIGH:
            self._hand_over()  # what this tick ingested, too
            self._caught_up.clear()
            await self._caught_up.wait()

    def save(self, run: Run) -> None:
        record = record_of(run)
        if run.finished:
            self._cache.remember(run)
        self._hand_over()  # the events before it, first
        self.db.submit(self._writer.save, record, run.timeline if run.finished else None)

    # -- on the loop --

    def _schedule(self) -> None:
        if self._handover is None:
            loop = self._loop or asyncio.get_running_loop()
            self._handover = loop.call_soon(self._hand_over)

    def _hand_over(self) -> None:
        """Give the writer every batch ingested since the last hand-over, as one job."""
        if self._handover is not None:
            self._handover.cancel()
            self._handover = None
        if self._pending:
            batches, self._pending = self._pending, []
            count = sum(len(events) for _, _, events, _ in batches)
            loop = self._loop
            assert loop is not None, "events are ingested only into an opened store"
            future = self.db.submit(self._writer.write_events, batches)
            future.add_done_callback(lambda _: loop.call_soon_threadsafe(self._written, count))

    def _written(self, count: int) -> None:
        self._backlog -= count
        if self._backlog <= BACKLOG_HIGH // 2:
            self._caught_up.set()

    async def _beat(self) -> None:
        """Note, every HEARTBEAT_S, that the running runs still run: if the server is killed, a run it
        leaves behind is drawn cut where it was last seen running, not at its last event."""
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            now = time.monotonic_ns()  # the clock the runner stamps events with (one per machine on Linux)
            running = [(now, run.id) for run in self._cache.live.values() if run.status == Status.RUNNING]
            if running:
                self.db.submit(run_tables.seen, running)

    def _truncated(self, run: Run, truncation: Truncation) -> None:
        """On the database thread: the writer reached the run's bound; the run says so, on the loop."""
        assert self._loop is not None  # open() set it, before any job ran
        self._loop.call_soon_threadsafe(_say_truncated, run, truncation)


def _committed(conn: object) -> None:
    """A job that does nothing: its result comes once every job before it is committed (app/storage/database.py)."""


def _say_truncated(run: Run, truncation: Truncation) -> None:
    run.truncated = truncation
    run.changed.set()
