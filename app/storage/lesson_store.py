"""The lessons a class was given, in this process: each session (app/model/lesson_state.py) a row of the runs'
SQLite database, so a lesson's record survives a restart as its runs do. The embedded LessonStorage; the Redis
one, for web replicas, is app/storage/redis_lessons.py.

The live session, and every session read or changed lately, is held in memory, and memory is what a change
reads: `change` applies its pure function to the state held here and keeps the result with no await between,
so two changes at once (two answers) are applied one after the other on the loop and neither is lost. Each
new state is then written behind, in order, by the run store's database thread (app/storage/database.py),
whose later reads see every earlier write. A clean stop writes everything first (the run store's close); a
crash loses at most the changes made since the database thread's last commit (milliseconds of them).

The live session is read once, at `open`, and held from then on: a restart finds the lesson live before it.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from app.model.lesson_state import LessonError, LessonState, end, from_doc, to_doc
from app.storage.database import Database

log = logging.getLogger(__name__)
SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS lessons (
        id TEXT PRIMARY KEY,               -- the session
        lesson TEXT NOT NULL,              -- the lesson's id (its file)
        started_at REAL NOT NULL,
        ended_at REAL,                     -- NULL while it is live
        doc TEXT NOT NULL                  -- JSON: lesson_state.to_doc
    )
    """,
    "CREATE INDEX IF NOT EXISTS lessons_given ON lessons (lesson, started_at)",
)
CACHE = 64  # ended sessions kept in memory (the live one always is)
MAX_ID_CHARS = 64


class LessonStore:
    def __init__(self, db: Database):
        self.db = db  # the run store's: one thread owns the connection
        self._live: LessonState | None = None
        self._cache: OrderedDict[str, LessonState] = OrderedDict()  # sessions not live, lately read

    async def open(self) -> None:
        """Make the table; hold the session left live (a restart in class goes on with it)."""
        doc = await self.db.run(_open)
        self._live = None if doc is None else from_doc(json.loads(doc))

    async def live(self) -> LessonState | None:
        return self._live

    async def begin(self, state: LessonState) -> None:
        """`state` live from now; the one live before it ends as `state` starts. Its id must be new."""
        if await self.find(state.id) is not None or self._held(state.id) is not None:  # begun while we looked
            raise LessonError(f"session {state.id} was begun already")
        # From here to the write, no await: the live one ended is the one live now.
        before = self._live
        ended = None if before is None else end(before, state.started_at)
        if ended is not None:
            self._remember(ended)
        self._live = state
        self.db.submit(_write, [_record(s) for s in (ended, state) if s is not None])  # one transaction

    async def change(self, session: str, change: Callable[[LessonState], LessonState]) -> LessonState:
        if self._held(session) is None and await self._load(session) is None:
            raise LessonError(f"there is no lesson session {session[:MAX_ID_CHARS]!r}")
        # From here to the write, no await: this is the state as stored now, and no other change comes between.
        state = self._held(session)
        assert state is not None, "held since it was loaded: the live one, or in the cache it was just put in"
        changed = change(state)
        if changed is not state:
            if self._live is not None and self._live.id == session and changed.live:
                self._live = changed
            else:  # an ended one, or the live one just ended: none is live now
                if self._live is not None and self._live.id == session:
                    self._live = None
                self._remember(changed)
            self.db.submit(_write, [_record(changed)])
        return changed

    async def find(self, session: str) -> LessonState | None:
        return self._held(session) or await self._load(session)

    async def given(self, lesson: str) -> list[LessonState]:
        """Every session of `lesson`, newest first (each as held here, if newer than its row can be yet)."""
        docs = await self.db.run(_given, lesson)
        return [self._held(state.id) or state for state in (from_doc(json.loads(doc)) for doc in docs)]

    async def delete_before(self, cutoff: float) -> int:
        """Delete the ended sessions begun before `cutoff` (unix s); how many. The live one's row says it is
        live (written before this job runs), so it stays."""
        ids = await self.db.run(_delete_before, cutoff)
        for session in ids:
            self._cache.pop(session, None)
        return len(ids)

    def _held(self, session: str) -> LessonState | None:
        if self._live is not None and self._live.id == session:
            return self._live
        return self._cache.get(session)

    async def _load(self, session: str) -> LessonState | None:
        """The session from its row, held from now; what is held already wins (it can only be newer: the row
        was read by a job submitted after every write of what was held then)."""
        if len(session) > MAX_ID_CHARS:
            return None
        doc = await self.db.run(_select, session)
        held = self._held(session)
        if held is not None or doc is None:
            return held
        state = from_doc(json.loads(doc))
        self._remember(state)
        return state

    def _remember(self, state: LessonState) -> None:
        self._cache[state.id] = state
        self._cache.move_to_end(state.id)
        while len(self._cache) > CACHE:
            self._cache.popitem(last=False)


def _record(state: LessonState) -> tuple[Any, ...]:
    return (state.id, state.lesson, state.started_at, state.ended_at, json.dumps(to_doc(state)))


# ---- on the database thread ----


def _open(conn: sqlite3.Connection) -> str | None:
    for statement in SCHEMA:  # one by one: executescript would commit the database thread's transaction
        conn.execute(statement)
    row = conn.execute("SELECT doc FROM lessons WHERE ended_at IS NULL ORDER BY started_at DESC LIMIT 1").fetchone()
    return None if row is None else str(row[0])


def _write(conn: sqlite3.Connection, records: list[tuple[Any, ...]]) -> None:
    conn.executemany("INSERT OR REPLACE INTO lessons VALUES (?, ?, ?, ?, ?)", records)


def _select(conn: sqlite3.Connection, session: str) -> str | None:
    row = conn.execute("SELECT doc FROM lessons WHERE id = ?", (session,)).fetchone()
    return None if row is None else str(row[0])


def _delete_before(conn: sqlite3.Connection, cutoff: float) -> list[str]:
    ended = "FROM lessons WHERE started_at < ? AND ended_at IS NOT NULL"
    ids = [str(session) for (session,) in conn.execute(f"SELECT id {ended}", (cutoff,))]
    conn.execute(f"DELETE {ended}", (cutoff,))
    return ids


def _given(conn: sqlite3.Connection, lesson: str) -> list[str]:
    rows = conn.execute("SELECT doc FROM lessons WHERE lesson = ? ORDER BY started_at DESC, id DESC", (lesson,))
    return [str(doc) for (doc,) in rows]
