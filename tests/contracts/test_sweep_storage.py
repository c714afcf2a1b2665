"""The sweep store, one suite over both implementations: SweepStore (a table of the embedded lab's SQLite
database) and RedisSweeps (a document per sweep, for every web replica). A saved sweep is found at once,
found afresh once written (after a restart, or by another replica), and retention deletes only the sweeps
made before its cutoff."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from app.model.sweeps import Point, Sweep
from app.storage.redis_sweeps import RedisSweeps
from app.storage.seams import SweepStorage
from app.storage.store import RunStore
from app.storage.sweep_store import SweepStore


class Sweeps:
    """Sweeps kept by one implementation; `again` is the same sweeps seen afresh."""

    def __init__(self, where: str, tmp_path: Path, redis_url: str):
        self.path = str(tmp_path / "lab.db")
        self.redis = Redis.from_url(redis_url) if where == "redis" else None
        self.stores: list[RunStore] = []
        self.writers: list[RedisSweeps] = []

    async def open(self) -> SweepStorage:
        sweeps: SweepStorage
        if self.redis is None:
            store = RunStore(self.path, {})
            await store.open()
            self.stores.append(store)
            sweeps = SweepStore(store.db)
        else:
            self.writers.append(RedisSweeps(self.redis))
            sweeps = self.writers[-1]
        await sweeps.open()
        return sweeps

    async def again(self) -> SweepStorage:
        """The embedded store reopened after its server stopped (what it was given written first), or another
        web replica once this one's writes are in Redis."""
        for writer in self.writers:
            await writer.flush()
        for store in self.stores:
            await store.close()
        self.stores.clear()
        return await self.open()

    async def close(self) -> None:
        for store in self.stores:
            await store.close()
        for writer in self.writers:
            await writer.close()
        if self.redis is not None:
            await self.redis.aclose()


def with_sweeps(where: str, tmp_path: Path, redis_url: str, body: Callable[[Sweeps], Awaitable[Any]]) -> Any:
    async def go() -> Any:
        sweeps = Sweeps(where, tmp_path, redis_url)
        try:
            return await body(sweeps)
        finally:
            await sweeps.close()

    return asyncio.run(go())


def sweep(sweep_id: str, created_at: float, owner: str = "") -> Sweep:
    return Sweep(
        sweep_id,
        "race-counter",
        {"increments": 1000},
        {"workers": [1, 2]},
        (Point({"increments": 1000, "workers": 1}, "run1"), Point({"increments": 1000, "workers": 2}, "run2")),
        owner,
        created_at,
    )


def test_new_ids_are_distinct_and_fit_a_url(where, tmp_path, redis_url):
    async def body(sweeps: Sweeps) -> None:
        store = await sweeps.open()
        ids = {store.new_id() for _ in range(100)}
        assert len(ids) == 100 and all(sweep_id.isalnum() and len(sweep_id) <= 64 for sweep_id in ids)

    with_sweeps(where, tmp_path, redis_url, body)


def test_a_saved_sweep_is_found_at_once_and_found_afresh_as_it_was(where, tmp_path, redis_url):
    async def body(sweeps: Sweeps) -> None:
        store = await sweeps.open()
        saved = sweep(store.new_id(), 1000.5, owner="c" * 32)
        store.save(saved)
        assert await store.find(saved.id) == saved
        assert await (await sweeps.again()).find(saved.id) == saved

    with_sweeps(where, tmp_path, redis_url, body)


def test_retention_deletes_only_the_sweeps_made_before_its_cutoff(where, tmp_path, redis_url):
    async def body(sweeps: Sweeps) -> None:
        store = await sweeps.open()
        old, new = sweep("old", 1000.0), sweep("new", 2000.0)
        store.save(old)
        store.save(new)
        store = await sweeps.again()
        assert await store.delete_before(1500.0) == 1
        assert await store.find("old") is None and await store.find("new") == new
        assert await store.delete_before(1500.0) == 0
        assert await (await sweeps.again()).find("old") is None

    with_sweeps(where, tmp_path, redis_url, body)


def test_an_unknown_sweep_is_none(where, tmp_path, redis_url):
    async def body(sweeps: Sweeps) -> None:
        store = await sweeps.open()
        assert await store.find("0" * 12) is None and await store.find("x" * 65) is None
        assert await store.delete_before(10**10) == 0

    with_sweeps(where, tmp_path, redis_url, body)
