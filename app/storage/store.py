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
the database when asked for. How events are stored is app/storage/wire.py, a run's row
app/storage/records.py; this module is the cache, the batching and the jobs of the database thread.
"""
from __future__ import annotations

import asyncio
import logging
import secrets
import sqlite3
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from app.model.events import Event
from app.model.experiments import Experiment
from app.model.runs import Run, Truncation, cut_why
from app.model.status import FINISHED, Status
from app.model.timeline import Timeline
from app.storage import snapshots
from app.storage.database import Database
from app.storage.records import HISTORY_COLUMNS, Page, history_row, record_of, run_of
from app.storage.wire import KEEP_PAST_BOUND, encode, pack, pack_wire, rows_of, unpack_events

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    experiment TEXT NOT NULL,
    params TEXT NOT NULL,              -- JSON
    owner TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    ended_at REAL,
    error TEXT,
    stderr_tail TEXT NOT NULL DEFAULT '',
    blocked TEXT NOT NULL DEFAULT '[]', -- JSON: [{worker, waiting_on, since_ms}]
    result TEXT,                        -- JSON, as /api/runs/{id} shows it
    cut_at_ns INTEGER,                  -- where spans still open were cut when it ended (while it runs:
                                        -- when the server last saw it running, on the runner's clock)
    events INTEGER NOT NULL DEFAULT 0,  -- events received (stored or not)
    log_bytes INTEGER NOT NULL DEFAULT 0,
    truncated_at_bytes INTEGER,
    truncated_after_events INTEGER,
    snapshot BLOB,                      -- zlib(JSON) of the finished run's Timeline (app/storage/snapshots.py)
    extra TEXT NOT NULL DEFAULT '{}'    -- JSON: the run's other fields (conditions, ...)
);
CREATE INDEX IF NOT EXISTS runs_newest_first ON runs (created_at DESC);
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    data BLOB NOT NULL,                 -- zlib of JSON lines [seq, code, ts_ns, worker, ...], or of
                                        -- WIRE_MARK and the runner's own lines (events first_seq..last_seq)
    PRIMARY KEY (run_id, first_seq)
) WITHOUT ROWID;
"""

CACHE_FINISHED = 32  # finished runs kept in memory
BACKLOG_HIGH = 100_000  # events ingested and not yet written: past it, reading the pipe waits
HEARTBEAT_S = 1.0  # how often running runs are noted as alive: a killed server's runs are cut there
NEVER_ENDED = "never ended: the server stopped (found at restart)"

log = logging.getLogger(__name__)


@dataclass
class LogState:
    """What the writer knows of one run's stored log."""

    bytes: int = 0
    truncation: Truncation | None = None


# ---- The store ----

@dataclass
class RunStore:
    path: str
    experiments: dict[str, Experiment]
    max_log_bytes: int = 50_000_000
    db: Database = field(init=False)
    _live: dict[str, Run] = field(default_factory=dict)  # not finished yet
    _recent: OrderedDict[str, Run] = field(default_factory=OrderedDict)  # finished, most recent last
    _loading: dict[str, asyncio.Future[Run | None]] = field(default_factory=dict)
    _pending: list[tuple[Run, int, list[Event], bytes]] = field(default_factory=list)  # ingested this tick
    _handover: asyncio.Handle | None = None
    _logs: dict[str, LogState] = field(default_factory=dict)  # the writer thread's own
    _loop: asyncio.AbstractEventLoop | None = None
    _heartbeat: asyncio.Task[None] | None = None
    _backlog: int = 0  # events ingested, not yet written
    _caught_up: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.db = Database(self.path)

    # -- life cycle --

    async def open(self) -> int:
        """Start the writer; every run stored as queued or running (the server died under it) becomes
        interrupted. Returns how many."""
        self._loop = asyncio.get_running_loop()
        self.db.start()
        interrupted = await self.db.run(self._open)
        self._heartbeat = asyncio.create_task(self._beat())
        return interrupted

    @staticmethod
    def _open(conn: sqlite3.Connection) -> int:
        for statement in SCHEMA.split(";"):  # not executescript: it would commit the job's transaction
            conn.execute(statement)
        cursor = conn.execute(  # ended when this restart found it: the server that ran it left no time
            "UPDATE runs SET status = 'interrupted', error = ?, ended_at = ? WHERE status NOT IN (%s)"
            % ",".join("?" * len(FINISHED)), (NEVER_ENDED, time.time(), *FINISHED))
        return cursor.rowcount

    async def close(self) -> None:
        """Write whatever is still waiting, then stop the writer."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        self._hand_over()
        await self.db.stop()

    # -- the interface the lab uses --

    def create(self, experiment: Experiment, params: dict[str, Any], owner: str = "", sweep: str | None = None) -> Run:
        run = Run(secrets.token_hex(6), experiment, params, owner, sweep=sweep)
        run.journal = self
        self._live[run.id] = run
        self.save(run)
        return run

    def get(self, run_id: str) -> Run | None:
        """A run in memory (live, or finished recently); `find` also looks in the database."""
        return self._live.get(run_id) or self._recent.get(run_id)

    def active(self) -> list[Run]:
        return [run for run in self._live.values() if not run.finished]

    async def find(self, run_id: str) -> Run | None:
        run = self.get(run_id)
        if run is not None:
            return run
        if len(run_id) > 64:
            return None
        loading = self._loading.get(run_id)
        if loading is None:  # one load per run however many ask at once
            loading = asyncio.ensure_future(self.db.run(self._load, run_id))
            self._loading[run_id] = loading
            loading.add_done_callback(lambda _: self._loading.pop(run_id, None))
        run = await asyncio.shield(loading)
        if run is not None and run.id not in self._recent:
            self._remember(run)
        return run

    async def events(self, run_id: str, after: int, limit: int,
                     lane_of_tid: dict[int, str] | None = None) -> list[dict[str, Any]]:
        """Stored events numbered after `after`, at most `limit`, each as JSON with its `seq`;
        on-CPU intervals on the lane of their thread (`lane_of_tid`, the run's timeline knows it)."""
        self._hand_over()  # so the read sees every event ingested so far
        return await self.db.run(self._read_events, run_id, after, limit, lane_of_tid)

    async def stored_events(self, run_id: str, after: int, limit: int) -> list[tuple[int, Event]]:
        """Stored events numbered after `after`, at most `limit`, as (seq, Event): for exports (app/drawing/trace.py)."""
        self._hand_over()  # so the read sees every event ingested so far
        return await self.db.run(self._read_stored, run_id, after, limit)
    async def rows(self, run_id: str, first: int, last: int, limit: int) -> list[tuple[int, bytes]]:
        """Stored rows of a run as they are, (first_seq, blob) with first <= first_seq <= last, at most
        `limit`: a zoomed window decodes them off the database thread (unpack_events)."""
        self._hand_over()
        return await self.db.run(self._read_rows, run_id, first, last, limit)

    async def history(self, page: int, size: int) -> Page:
        self._hand_over()
        return await self.db.run(self._history, page, size)

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
            self._live.pop(run.id, None)
            self._remember(run)
        self._hand_over()  # the events before it, first
        self.db.submit(self._save, record, run.timeline if run.finished else None)

    # -- on the loop --

    def _remember(self, run: Run) -> None:
        self._recent[run.id] = run
        self._recent.move_to_end(run.id)
        while len(self._recent) > CACHE_FINISHED:
            self._recent.popitem(last=False)

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
            future = self.db.submit(self._write_events, batches)
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
            running = [(now, run.id) for run in self._live.values() if run.status == Status.RUNNING]
            if running:
                self.db.submit(self._seen, running)

    @staticmethod
    def _seen(conn: sqlite3.Connection, running: list[tuple[int, str]]) -> None:
        conn.executemany("UPDATE runs SET cut_at_ns = ? WHERE id = ? AND status = 'running'", running)

    def _truncated(self, run: Run, truncation: Truncation) -> None:
        run.truncated = truncation
        run.changed.set()

    # -- on the writer thread --

    def _write_events(self, conn: sqlite3.Connection, batches: list[tuple[Run, int, list[Event], bytes]]) -> None:
        by_run: dict[str, tuple[Run, list[tuple[int, list[Event], bytes]]]] = {}
        for run, first, events, wire in batches:
            by_run.setdefault(run.id, (run, []))[1].append((first, events, wire))
        for run_id, (run, pieces) in by_run.items():
            log = self._logs.setdefault(run_id, LogState())
            last = 0
            for row in rows_of(pieces):
                last = row.last
                first = row.first
                blob = None
                if log.truncation is None:
                    # The flood's usual case: the runner's lines compressed as they came (no re-encoding).
                    blob = pack_wire(row.wire) if row.wire else pack([encode(seq, e) for seq, e in row.numbered()])
                    if log.bytes + len(blob) > self.max_log_bytes:
                        # This row would cross the bound: from its first event on, keep only what replay needs.
                        log.truncation = Truncation(log.bytes, row.first - 1)
                        assert self._loop is not None  # _hand_over, which wrote these, asserted it
                        self._loop.call_soon_threadsafe(self._truncated, run, log.truncation)
                        blob = None
                if blob is None:
                    kept = [(seq, e) for seq, e in row.numbered() if e.kind in KEEP_PAST_BOUND]
                    if not kept:
                        continue
                    blob = pack([encode(seq, e) for seq, e in kept])
                    first, last_kept = kept[0][0], kept[-1][0]
                else:
                    last_kept = row.last
                conn.execute("INSERT OR REPLACE INTO events VALUES (?, ?, ?, ?)", (run_id, first, last_kept, blob))
                log.bytes += len(blob)
            if not last:
                continue
            truncation = log.truncation
            conn.execute("UPDATE runs SET events = max(events, ?), log_bytes = ?, truncated_at_bytes = ?, "
                         "truncated_after_events = ? WHERE id = ?",
                         (last, log.bytes, truncation and truncation.at_bytes,
                          truncation and truncation.after_events, run_id))

    def _save(self, conn: sqlite3.Connection, record: dict[str, Any], timeline: Timeline | None) -> None:
        names = list(record)
        conn.execute(
            f"INSERT INTO runs ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
            f"ON CONFLICT (id) DO UPDATE SET {', '.join(f'{n} = excluded.{n}' for n in names if n != 'id')}",
            [record[n] for n in names])
        if timeline is not None:
            self._logs.pop(record["id"], None)
            try:
                snapshot: bytes | None = snapshots.dump(timeline)
            except (TypeError, ValueError, RecursionError):  # something a document cannot hold: replayed instead
                log.warning("run %s: its timeline could not be stored as a snapshot", record["id"], exc_info=True)
                snapshot = None
            if snapshot is not None and len(snapshot) > self.max_log_bytes:  # replay falls back to the stored events
                snapshot = None
            # NULL when there is none: a snapshot of the same run saved before (an older server's) never stays
            conn.execute("UPDATE runs SET snapshot = ? WHERE id = ?", (snapshot, record["id"]))

    def _read_events(self, conn: sqlite3.Connection, run_id: str, after: int, limit: int,
                     lane_of_tid: dict[int, str] | None = None) -> list[dict[str, Any]]:
        return [{"seq": seq, **event.to_json(lane_of_tid)} for seq, event in self._read_stored(conn, run_id, after, limit)]

    @staticmethod
    def _read_stored(conn: sqlite3.Connection, run_id: str, after: int, limit: int) -> list[tuple[int, Event]]:
        out: list[tuple[int, Event]] = []
        rows = conn.execute("SELECT data, first_seq FROM events WHERE run_id = ? AND last_seq > ? ORDER BY first_seq",
                            (run_id, after))
        for blob, first_seq in rows:
            for seq, event in unpack_events(blob, first_seq):
                if seq > after:
                    out.append((seq, event))
                    if len(out) >= limit:
                        return out
        return out
    @staticmethod
    def _read_rows(conn: sqlite3.Connection, run_id: str, first: int, last: int, limit: int) -> list[tuple[int, bytes]]:
        return conn.execute("SELECT first_seq, data FROM events WHERE run_id = ? AND first_seq BETWEEN ? AND ? "
                            "ORDER BY first_seq LIMIT ?", (run_id, first, last, limit)).fetchall()

    def _history(self, conn: sqlite3.Connection, page: int, size: int) -> Page:
        total = conn.execute("SELECT count(*) FROM runs").fetchone()[0]
        rows = conn.execute(f"SELECT {HISTORY_COLUMNS} FROM runs ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
                            (size, (page - 1) * size))
        runs = [history_row(r) for r in rows]
        return Page(runs, page, size, total)

    def _load(self, conn: sqlite3.Connection, run_id: str) -> Run | None:
        conn.row_factory = sqlite3.Row
        try:
            row = conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        finally:
            conn.row_factory = None
        if row is None:
            return None
        run = run_of(row, self.experiments)
        run.timeline = snapshots.load(row["snapshot"], run.id) or self._replay(conn, run)
        return run

    @staticmethod
    def _replay(conn: sqlite3.Connection, run: Run) -> Timeline:
        """The timeline from the stored events, closed as the run ended (or where its events stop)."""
        timeline = Timeline()
        for blob, first_seq in conn.execute("SELECT data, first_seq FROM events WHERE run_id = ? ORDER BY first_seq",
                                            (run.id,)):
            timeline.apply_all([event for _, event in unpack_events(blob, first_seq)])
        if run.status in FINISHED:
            timeline.close(run.cut_at_ns, cut_why(run.status))
        return timeline

