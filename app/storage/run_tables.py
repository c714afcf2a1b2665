"""The runs and events tables: their schema, and the jobs the database thread (app/storage/database.py) runs
on them, each given the connection first. The run store (app/storage/store.py) hands these jobs over; only
that thread runs them. How events are stored is app/storage/wire.py, a run's row app/storage/records.py.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from app.model.documents import NumberedEventJson
from app.model.events import Event
from app.model.experiments import Experiment
from app.model.runs import Run, Truncation, cut_why
from app.model.status import FINISHED, Status
from app.model.timeline import Timeline
from app.storage import snapshots
from app.storage.records import HISTORY_COLUMNS, Page, RunRecord, history_row, run_of
from app.storage.wire import LogState, bounded, rows_of, unpack_events

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

NEVER_ENDED = (
    "the server stopped while it ran (found at restart): a run cannot go on from where it was cut, so run it again"
)

Batch = tuple[Run, int, list[Event], bytes]  # a run, the number of its first event, the events, the lines they came as

log = logging.getLogger(__name__)


def open_tables(conn: sqlite3.Connection) -> list[str]:
    """Create the tables if need be; every run stored as running (the server stopped or died under it) becomes
    interrupted. Returns the ids of the runs stored as queued, which never started: oldest first, the order
    they were queued in, to be queued again."""
    for statement in SCHEMA.split(";"):  # not executescript: it would commit the job's transaction
        conn.execute(statement)
    conn.execute(  # ended when this restart found it: the server that ran it left no time
        "UPDATE runs SET status = 'interrupted', error = ?, ended_at = ? WHERE status NOT IN (%s)"  # noqa: UP031
        % ",".join("?" * (len(FINISHED) + 1)),
        (NEVER_ENDED, time.time(), *FINISHED, Status.QUEUED),
    )
    # rowid: the order rows were written in, for runs queued within the clock's resolution of each other
    return [
        run_id
        for (run_id,) in conn.execute(
            "SELECT id FROM runs WHERE status = ? ORDER BY created_at, rowid", (Status.QUEUED,)
        )
    ]


def seen(conn: sqlite3.Connection, running: list[tuple[int, str]]) -> None:
    """Note (monotonic ns, run id) that each run still ran then."""
    conn.executemany("UPDATE runs SET cut_at_ns = ? WHERE id = ? AND status = 'running'", running)


@dataclass
class Writer:
    """Writes runs and their events, each run's log held to `max_log_bytes`; `truncated(run, truncation)` is
    called, on the database thread, when a run's log reaches it."""

    max_log_bytes: int
    truncated: Callable[[Run, Truncation], None]
    _logs: dict[str, LogState] = field(default_factory=dict)

    def write_events(self, conn: sqlite3.Connection, batches: list[Batch]) -> None:
        by_run: dict[str, tuple[Run, list[tuple[int, list[Event], bytes]]]] = {}
        for run, first, events, wire in batches:
            by_run.setdefault(run.id, (run, []))[1].append((first, events, wire))
        for run_id, (run, pieces) in by_run.items():
            log = self._logs.setdefault(run_id, LogState())
            last = 0
            for row in rows_of(pieces):
                last = row.last
                was_truncated = log.truncation is not None
                stored = bounded(row, log, self.max_log_bytes)
                if not was_truncated and log.truncation is not None:
                    self.truncated(run, log.truncation)
                if stored is not None:
                    conn.execute("INSERT OR REPLACE INTO events VALUES (?, ?, ?, ?)", (run_id, *stored))
            if not last:
                continue
            truncation = log.truncation
            conn.execute(
                "UPDATE runs SET events = max(events, ?), log_bytes = ?, truncated_at_bytes = ?, "
                "truncated_after_events = ? WHERE id = ?",
                (last, log.bytes, truncation and truncation.at_bytes, truncation and truncation.after_events, run_id),
            )

    def save(self, conn: sqlite3.Connection, record: RunRecord, timeline: Timeline | None) -> None:
        """A run's row (app/storage/records.py); with `timeline`, the run finished: its snapshot too."""
        names = list(record)
        conn.execute(
            f"INSERT INTO runs ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
            f"ON CONFLICT (id) DO UPDATE SET {', '.join(f'{n} = excluded.{n}' for n in names if n != 'id')}",
            list(record.values()),  # in the order of `names`
        )
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


def read_events(
    conn: sqlite3.Connection, run_id: str, after: int, limit: int, lane_of_tid: dict[int, str] | None = None
) -> list[NumberedEventJson]:
    return [{"seq": seq, **event.to_json(lane_of_tid)} for seq, event in read_stored(conn, run_id, after, limit)]


def read_stored(conn: sqlite3.Connection, run_id: str, after: int, limit: int) -> list[tuple[int, Event]]:
    out: list[tuple[int, Event]] = []
    rows = conn.execute(
        "SELECT data, first_seq FROM events WHERE run_id = ? AND last_seq > ? ORDER BY first_seq", (run_id, after)
    )
    for blob, first_seq in rows:
        for seq, event in unpack_events(blob, first_seq):
            if seq > after:
                out.append((seq, event))
                if len(out) >= limit:
                    return out
    return out


def read_rows(conn: sqlite3.Connection, run_id: str, first: int, last: int, limit: int) -> list[tuple[int, bytes]]:
    return conn.execute(
        "SELECT first_seq, data FROM events WHERE run_id = ? AND first_seq BETWEEN ? AND ? ORDER BY first_seq LIMIT ?",
        (run_id, first, last, limit),
    ).fetchall()


def delete_before(conn: sqlite3.Connection, cutoff: float) -> list[str]:
    """Delete the finished runs created before `cutoff` (unix s) with their events; their ids. A run still
    queued or running is never deleted, however old."""
    finished = tuple(status.value for status in FINISHED)
    marks = ",".join("?" * len(finished))
    ids = [
        run_id
        for (run_id,) in conn.execute(
            f"SELECT id FROM runs WHERE created_at < ? AND status IN ({marks})", (cutoff, *finished)
        )
    ]
    for at in range(0, len(ids), 500):  # SQLite's host parameters are bounded
        chunk = ids[at : at + 500]
        holes = ",".join("?" * len(chunk))
        conn.execute(f"DELETE FROM events WHERE run_id IN ({holes})", chunk)
        conn.execute(f"DELETE FROM runs WHERE id IN ({holes})", chunk)
    return ids


def history(conn: sqlite3.Connection, page: int, size: int) -> Page:
    total = conn.execute("SELECT count(*) FROM runs").fetchone()[0]
    rows = conn.execute(
        f"SELECT {HISTORY_COLUMNS} FROM runs ORDER BY created_at DESC, id LIMIT ? OFFSET ?", (size, (page - 1) * size)
    )
    runs = [history_row(r) for r in rows]
    return Page(runs, page, size, total)


def load(conn: sqlite3.Connection, run_id: str, experiments: dict[str, Experiment]) -> Run | None:
    """A stored run with its timeline: its snapshot, or else replayed from its events."""
    conn.row_factory = sqlite3.Row
    try:
        row = conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
    finally:
        conn.row_factory = None
    if row is None:
        return None
    run = run_of(row, experiments)
    run.timeline = snapshots.load(row["snapshot"], run.id) or replay(conn, run)
    return run


def replay(conn: sqlite3.Connection, run: Run) -> Timeline:
    """The timeline from the stored events, closed as the run ended (or where its events stop)."""
    timeline = Timeline()
    for blob, first_seq in conn.execute(
        "SELECT data, first_seq FROM events WHERE run_id = ? ORDER BY first_seq", (run.id,)
    ):
        timeline.apply_all([event for _, event in unpack_events(blob, first_seq)])
    if run.status in FINISHED:
        timeline.close(run.cut_at_ns, cut_why(run.status))
    return timeline
