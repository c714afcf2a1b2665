"""The sweep store: each sweep (app/model/sweeps.py) a row of the runs' SQLite database, so a sweep survives a
restart as its runs do. A sweep never changes once made (its status comes from its runs), so it is
written once; it is read back on the database thread of the run store (app/storage/database.py).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections import OrderedDict
from typing import Any

from app.model.sweeps import Point, Sweep
from app.storage.database import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS sweeps (
    id TEXT PRIMARY KEY,
    experiment TEXT NOT NULL,
    params TEXT NOT NULL,              -- JSON: the base params, every one
    vary TEXT NOT NULL,                -- JSON: {param: [values]}
    points TEXT NOT NULL,              -- JSON: [{"params", "run_id"}], in the order the runs were queued
    owner TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
)
"""
CACHE = 64  # sweeps kept in memory


def record_of(sweep: Sweep) -> tuple[Any, ...]:
    points = [{"params": p.params, "run_id": p.run_id} for p in sweep.points]
    return (
        sweep.id,
        sweep.experiment,
        json.dumps(sweep.params),
        json.dumps(sweep.vary),
        json.dumps(points),
        sweep.owner,
        sweep.created_at,
    )


def sweep_of(row: tuple[Any, ...]) -> Sweep:
    id_, experiment, params, vary, points, owner, created_at = row
    return Sweep(
        id_,
        experiment,
        json.loads(params),
        json.loads(vary),
        tuple(Point(p["params"], p["run_id"]) for p in json.loads(points)),
        owner,
        created_at,
    )


class SweepStore:
    def __init__(self, db: Database):
        self.db = db  # the run store's: one thread owns the connection
        self._cache: OrderedDict[str, Sweep] = OrderedDict()

    async def open(self) -> None:
        await self.db.run(self._create_table)

    @staticmethod
    def _create_table(conn: sqlite3.Connection) -> None:
        conn.execute(SCHEMA)

    @staticmethod
    def new_id() -> str:
        return secrets.token_hex(6)

    def save(self, sweep: Sweep) -> None:
        """Keep it (written after the runs queued before it: the database thread takes jobs in order)."""
        self._remember(sweep)
        self.db.submit(self._insert, record_of(sweep))

    async def find(self, sweep_id: str) -> Sweep | None:
        sweep = self._cache.get(sweep_id)
        if sweep is None and len(sweep_id) <= 64:
            row = await self.db.run(self._select, sweep_id)
            if row is not None:
                sweep = sweep_of(row)
                self._remember(sweep)
        return sweep

    async def delete_before(self, cutoff: float) -> int:
        """Delete the sweeps made before `cutoff` (unix s); how many (their runs go with the run store's)."""
        ids = await self.db.run(self._delete_before, cutoff)
        for sweep_id in ids:
            self._cache.pop(sweep_id, None)
        return len(ids)

    @staticmethod
    def _delete_before(conn: sqlite3.Connection, cutoff: float) -> list[str]:
        ids = [sweep_id for (sweep_id,) in conn.execute("SELECT id FROM sweeps WHERE created_at < ?", (cutoff,))]
        conn.execute("DELETE FROM sweeps WHERE created_at < ?", (cutoff,))
        return ids

    def _remember(self, sweep: Sweep) -> None:
        self._cache[sweep.id] = sweep
        self._cache.move_to_end(sweep.id)
        while len(self._cache) > CACHE:
            self._cache.popitem(last=False)

    @staticmethod
    def _insert(conn: sqlite3.Connection, record: tuple[Any, ...]) -> None:
        conn.execute("INSERT INTO sweeps VALUES (?, ?, ?, ?, ?, ?, ?)", record)

    @staticmethod
    def _select(conn: sqlite3.Connection, sweep_id: str) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = conn.execute(
            "SELECT id, experiment, params, vary, points, owner, created_at FROM sweeps WHERE id = ?",
            (sweep_id,),
        ).fetchone()
        return row
