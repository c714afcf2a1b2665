"""The sweeps on Redis: each sweep (app/drawing/sweeps.py) the document `lab:sweep:{id}`, so every web replica
finds the sweeps any of them started. The Redis counterpart of app/storage/sweep_store.py, with its interface.

A sweep never changes once made (its status comes from its runs), so it is written once. As the SQLite store
writes it after the runs queued before it (its database thread takes jobs in order), `save` queues the write
for one writer task, which writes the sweeps in the order they were saved; `flush` waits for it.
"""
from __future__ import annotations

import asyncio
import logging
import secrets
from collections import OrderedDict

from redis.asyncio import Redis

from app.drawing.sweeps import Sweep
from app.storage import redis_formats as formats

log = logging.getLogger(__name__)
CACHE = 64  # sweeps kept in memory


class RedisSweeps:
    def __init__(self, redis: Redis):
        self.redis = redis
        self._cache: OrderedDict[str, Sweep] = OrderedDict()
        self._pending: list[Sweep] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()  # nothing queued yet
        self._writer: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Nothing to make: Redis has no schema. Here for the interface (the SQLite store makes its table)."""

    @staticmethod
    def new_id() -> str:
        return secrets.token_hex(6)

    def save(self, sweep: Sweep) -> None:
        """Keep it: found at once here, written in order by the writer (on Redis for every replica soon after)."""
        self._remember(sweep)
        self._pending.append(sweep)
        self._idle.clear()
        self._wake.set()
        if self._writer is None:
            self._writer = asyncio.create_task(self._write())

    async def find(self, sweep_id: str) -> Sweep | None:
        sweep = self._cache.get(sweep_id)
        if sweep is None and len(sweep_id) <= 64:
            raw = formats.value_of(await self.redis.get(formats.sweep_key(sweep_id)))
            if raw is not None:
                try:
                    sweep = formats.read_sweep(raw)
                except ValueError:
                    log.warning("sweep %s cannot be read", sweep_id, exc_info=True)
                    return None
                self._remember(sweep)
        return sweep

    async def flush(self) -> None:
        """Until every sweep saved so far is written (or could not be)."""
        await self._idle.wait()

    async def close(self) -> None:
        await self.flush()
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)

    def _remember(self, sweep: Sweep) -> None:
        self._cache[sweep.id] = sweep
        self._cache.move_to_end(sweep.id)
        while len(self._cache) > CACHE:
            self._cache.popitem(last=False)

    async def _write(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                sweeps, self._pending = self._pending, []
                try:
                    async with self.redis.pipeline(transaction=False) as pipe:
                        for sweep in sweeps:
                            pipe.set(formats.sweep_key(sweep.id), formats.dumps(formats.sweep_doc(sweep)))
                        await pipe.execute()
                except Exception:  # Redis unreachable: this replica still finds them, in its cache, for a while
                    log.exception("could not write %d sweeps to Redis", len(sweeps))
            self._idle.set()
