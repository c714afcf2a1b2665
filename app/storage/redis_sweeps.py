"""The sweeps on Redis: each sweep (app/model/sweeps.py) the document `lab:sweep:{id}`, so every web replica
finds the sweeps any of them started. The Redis counterpart of app/storage/sweep_store.py, with its interface.

A sweep never changes once made (its status comes from its runs), so it is written once. As the SQLite store
writes it after the runs queued before it (its database thread takes jobs in order), `save` queues the write
for the replica's one writer (app/storage/redis_writer.py), after the runs queued before it; `flush` waits.
"""

from __future__ import annotations

import logging
import secrets
from collections import OrderedDict

from redis.asyncio import Redis

from app.model.sweeps import Sweep
from app.storage import redis_formats as formats
from app.storage import redis_replies as replies
from app.storage.redis_writer import OrderedWriter

log = logging.getLogger(__name__)
CACHE = 64  # sweeps kept in memory


class RedisSweeps:
    def __init__(self, redis: Redis, writer: OrderedWriter | None = None):
        self.redis = redis
        self.writer = writer or OrderedWriter()  # a replica's run store's: a sweep is written after its runs
        self._cache: OrderedDict[str, Sweep] = OrderedDict()

    async def open(self) -> None:
        """Nothing to make: Redis has no schema. Here for the interface (the SQLite store makes its table)."""

    @staticmethod
    def new_id() -> str:
        return secrets.token_hex(6)

    def save(self, sweep: Sweep) -> None:
        """Keep it: found at once here, written in order by the writer (on Redis for every replica soon after)."""
        self._remember(sweep)
        doc = formats.dumps(formats.sweep_doc(sweep))
        self.writer.write(lambda: self._write(sweep, doc))

    async def _write(self, sweep: Sweep, doc: bytes) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(formats.sweep_key(sweep.id), doc)
            pipe.zadd(formats.SWEEPS, {sweep.id: sweep.created_at})
            await pipe.execute()

    async def delete_before(self, cutoff: float) -> int:
        """Delete the sweeps made before `cutoff` (unix s); how many (their runs go with the run store's)."""
        ids = [
            member.decode()
            for member in replies.keys_of(await self.redis.zrangebyscore(formats.SWEEPS, "-inf", f"({cutoff!r}"))
        ]
        if ids:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.delete(*(formats.sweep_key(sweep_id) for sweep_id in ids))
                pipe.zrem(formats.SWEEPS, *ids)
                await pipe.execute()
        for sweep_id in ids:
            self._cache.pop(sweep_id, None)
        return len(ids)

    async def find(self, sweep_id: str) -> Sweep | None:
        sweep = self._cache.get(sweep_id)
        if sweep is None and len(sweep_id) <= 64:
            raw = replies.value_of(await self.redis.get(formats.sweep_key(sweep_id)))
            if raw is not None:
                try:
                    sweep = formats.read_sweep(raw)
                except ValueError:
                    log.warning("sweep %s cannot be read", sweep_id, exc_info=True)
                    return None
                self._remember(sweep)
        return sweep

    async def flush(self) -> None:
        """Until every sweep saved so far is written (or given up, logged)."""
        await self.writer.flush()

    async def close(self) -> None:
        await self.writer.close()

    def _remember(self, sweep: Sweep) -> None:
        self._cache[sweep.id] = sweep
        self._cache.move_to_end(sweep.id)
        while len(self._cache) > CACHE:
            self._cache.popitem(last=False)
