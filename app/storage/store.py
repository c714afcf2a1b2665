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
snapshot), so a finished run replays identically after a restart, truncated or not; a run that
never ended (the server was killed) is replayed from its stored events.

Live runs and a few recently finished ones are kept in memory; any other run is loaded from
the database when asked for.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import pickle
import secrets
import sqlite3
import time
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from app.model import timeline as timeline_module
from app.model.events import KINDS, Event, decode, decode_wire
from app.model.experiments import Experiment
from app.model.hangs import Blocked
from app.model.runs import FINISHED, Run, Truncation, cut_why
from app.model.timeline import Timeline
from app.storage.database import Database

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
    snapshot BLOB,                      -- zlib(pickle(Timeline)) of the finished run
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

CHUNK_EVENTS = 4096  # events per stored row: what a page read decompresses at most, twice
WIRE_MARK = b"#wire\n"  # a row of the runner's lines as they came (no event line starts with #)
KEEP_PAST_BOUND = frozenset({"header", "lane", "result", "failure"})  # what replay cannot do without
CODES = {kind: code for code, kind in KINDS.items()} | {"output": "O"}


def timeline_shape() -> str:
    """The fields of every class a pickled Timeline holds, in words. Unpickling does not call
    __init__, so a snapshot of another shape (an older server's) would lack new fields: it is
    replayed from the stored events instead."""
    parts = []
    for name, cls in sorted(vars(timeline_module).items()):
        if isinstance(cls, type) and cls.__module__ == timeline_module.__name__:
            names = ([f.name for f in dataclasses.fields(cls)] if dataclasses.is_dataclass(cls)
                     else list(getattr(cls, "__slots__", ())))
            parts.append(f"{name}({','.join(names)})")
    return ";".join(parts)


SNAPSHOT_SHAPE = timeline_shape()
CACHE_FINISHED = 32  # finished runs kept in memory
BACKLOG_HIGH = 100_000  # events ingested and not yet written: past it, reading the pipe waits
HEARTBEAT_S = 1.0  # how often running runs are noted as alive: a killed server's runs are cut there
NEVER_ENDED = "never ended: the server stopped (found at restart)"

# Run fields with a column of their own, or that only make sense in a live server.
COLUMNS = {"id", "experiment", "params", "owner", "status", "created_at", "started_at", "ended_at", "error",
           "stderr_tail", "blocked", "cut_at_ns", "received", "truncated"}
RUNTIME = {"timeline", "changed", "cancel_requested", "journal", "stop_as"}


# ---- The stored form of events and runs (pure) ----

def encode(seq: int, event: Event) -> str:
    """One event as a stored line: the wire format (experiments/recorder.py) with its number first."""
    code = CODES[event.kind]
    if code in ("B", "I"):
        raw = [seq, code, event.ts_ns, event.worker, event.name, event.category]
        if event.value is not None:  # a notify's or woken's key
            raw.append(event.value)
    elif code == "C":
        raw = [seq, code, event.ts_ns, event.worker, event.name, event.value]
    elif code == "E":
        raw = [seq, code, event.ts_ns, event.worker]
    elif code == "T":
        raw = [seq, code, event.ts_ns, event.worker, *event.value]
    elif code == "O":
        raw = [seq, code, event.ts_ns, event.worker, event.name]
    else:
        raw = [seq, code, event.ts_ns, event.worker, event.value]
    return json.dumps(raw, separators=(",", ":"), default=str)


def decode_line(line: str) -> tuple[int, Event]:
    seq, *raw = json.loads(line)
    if raw[0] == "O":
        return seq, Event("output", int(raw[1]), str(raw[2]), str(raw[3]), "output")
    return seq, decode(raw)


def pack(lines: list[str]) -> bytes:
    return zlib.compress("\n".join(lines).encode(), 1)  # level 1: 3x faster than 6, 30% bigger


def pack_wire(parts: list[bytes]) -> bytes:
    """Runner lines (each part a StreamParser.wire) as one row: no event decoded or encoded again."""
    return zlib.compress(WIRE_MARK + b"\n".join(parts), 1)


def unpack_events(blob: bytes, first_seq: int) -> list[tuple[int, Event]]:
    """A stored row's events, numbered; a wire row's are numbered on from its first_seq."""
    data = zlib.decompress(blob)
    if data.startswith(WIRE_MARK):
        return list(enumerate(decode_wire(data[len(WIRE_MARK):]), first_seq))
    return [decode_line(line) for line in data.decode().split("\n")]


@dataclass
class Row:
    """Events for one stored row: either the runner's lines (wire) or events to encode one by one."""

    first: int
    last: int
    pieces: list[tuple[int, list[Event]]]  # (seq of the first, events)
    wire: list[bytes] | None = None

    def numbered(self) -> list[tuple[int, Event]]:
        return [(seq, e) for first, events in self.pieces for seq, e in enumerate(events, first)]


def rows_of(pieces: list[tuple[int, list[Event], bytes]]) -> list[Row]:
    """Group one run's ingested pieces (first seq, events, wire lines or b"") into stored rows in order:
    consecutive pieces with their wire lines join until a row holds CHUNK_EVENTS events (a piece is
    never split); pieces without are numbered and cut every CHUNK_EVENTS events."""
    rows: list[Row] = []
    loose: list[tuple[int, Event]] = []

    def cut_loose() -> None:
        for start in range(0, len(loose), CHUNK_EVENTS):
            chunk = loose[start:start + CHUNK_EVENTS]
            rows.append(Row(chunk[0][0], chunk[-1][0], [(chunk[0][0], [e for _, e in chunk])]))
        loose.clear()

    row: Row | None = None
    for first, events, wire in pieces:
        if not events:
            continue
        if not wire:
            row = None
            loose.extend(enumerate(events, first))
            continue
        cut_loose()
        if row is None or row.last - row.first + 1 >= CHUNK_EVENTS:
            row = Row(first, first - 1, [], [])
            rows.append(row)
        row.pieces.append((first, events))
        row.wire.append(wire)
        row.last = first + len(events) - 1
    cut_loose()
    return rows


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
        if f.name in COLUMNS or f.name in RUNTIME:
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
        if dataclasses.is_dataclass(current) and isinstance(value, dict):
            try:
                value = type(current)(**value)
            except TypeError:
                pass
        setattr(run, name, value)


def record_of(run: Run) -> dict[str, Any]:
    """The run's row (without the snapshot), taken on the loop at the moment it is saved."""
    result = run.result_json()
    return {
        "id": run.id, "experiment": run.experiment.id, "params": json.dumps(run.params), "owner": run.owner,
        "status": run.status, "created_at": run.created_at, "started_at": run.started_at, "ended_at": run.ended_at,
        "error": run.error, "stderr_tail": run.stderr_tail,
        "blocked": json.dumps([dataclasses.asdict(b) for b in run.blocked]),
        "result": json.dumps(result) if result is not None else None,
        "cut_at_ns": run.cut_at_ns, "events": run.received,
        "extra": json.dumps(extra_of(run), default=_plain),
    }


def placeholder(experiment_id: str) -> Experiment:
    """A stored run of an experiment this server no longer lists: shown, never run again."""
    return Experiment(experiment_id, "", experiment_id, "", "unknown", "(this experiment is no longer in the catalogue)",
                      "", (), "")


@dataclass
class LogState:
    """What the writer knows of one run's stored log."""

    bytes: int = 0
    truncation: Truncation | None = None


@dataclass
class Page:
    """One page of the run history."""

    runs: list[dict[str, Any]]
    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))


# ---- The store ----

@dataclass
class RunStore:
    path: str
    experiments: dict[str, Experiment]
    max_log_bytes: int = 50_000_000
    db: Database = field(init=False)
    _live: dict[str, Run] = field(default_factory=dict)  # not finished yet
    _recent: OrderedDict[str, Run] = field(default_factory=OrderedDict)  # finished, most recent last
    _loading: dict[str, asyncio.Future] = field(default_factory=dict)
    _pending: list[tuple[Run, int, list[Event], bytes]] = field(default_factory=list)  # ingested this tick
    _handover: asyncio.Handle | None = None
    _logs: dict[str, LogState] = field(default_factory=dict)  # the writer thread's own
    _loop: asyncio.AbstractEventLoop | None = None
    _heartbeat: asyncio.Task | None = None
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
            running = [(now, run.id) for run in self._live.values() if run.status == "running"]
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
            snapshot = zlib.compress(pickle.dumps((SNAPSHOT_SHAPE, timeline), pickle.HIGHEST_PROTOCOL), 6)
            if len(snapshot) <= self.max_log_bytes:  # else replay falls back to the stored events
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
        rows = conn.execute(
            "SELECT id, experiment, params, status, created_at, started_at, ended_at FROM runs "
            "ORDER BY created_at DESC, id LIMIT ? OFFSET ?", (size, (page - 1) * size))
        runs = [{"id": r[0], "experiment": r[1], "params": json.loads(r[2]), "status": r[3], "created_at": r[4],
                 "started_at": r[5], "ended_at": r[6], "url": f"/runs/{r[0]}"} for r in rows]
        return Page(runs, page, size, total)

    def _load(self, conn: sqlite3.Connection, run_id: str) -> Run | None:
        conn.row_factory = sqlite3.Row
        try:
            row = conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        finally:
            conn.row_factory = None
        if row is None:
            return None
        experiment = self.experiments.get(row["experiment"]) or placeholder(row["experiment"])
        run = Run(row["id"], experiment, json.loads(row["params"]), row["owner"], status=row["status"],
                  created_at=row["created_at"], started_at=row["started_at"], ended_at=row["ended_at"],
                  error=row["error"], stderr_tail=row["stderr_tail"],
                  blocked=[Blocked(**b) for b in json.loads(row["blocked"])], received=row["events"],
                  cut_at_ns=row["cut_at_ns"])
        if row["truncated_at_bytes"] is not None:
            run.truncated = Truncation(row["truncated_at_bytes"], row["truncated_after_events"])
        restore_extra(run, json.loads(row["extra"]))
        run.timeline = self._snapshot(row["snapshot"]) or self._replay(conn, run)
        return run

    @staticmethod
    def _snapshot(blob: bytes | None) -> Timeline | None:
        if blob is None:
            return None
        try:  # written by this server; a server whose Timeline had another shape: replayed instead
            shape, timeline = pickle.loads(zlib.decompress(blob))
        except Exception:  # not even a (shape, timeline) pair: an older server's
            return None
        return timeline if shape == SNAPSHOT_SHAPE and isinstance(timeline, Timeline) else None

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

