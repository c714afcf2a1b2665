"""A web replica's writes to Redis, one after another in the order they were asked for, each sent again while
Redis is away (a restart takes a moment): a run is queued before the sweep that names it, a cancel after the
run it cancels, and none is lost to a short outage. `flush` waits until every write asked for so far is done,
so a replica answers a request only once any other replica would find what it made.

The run store and the sweep store of a replica share one (app/running/engines.py `distributed`)."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import RedisError

log = logging.getLogger(__name__)

RETRY_S = 0.5  # Redis unreachable: a write is tried again after this long
TRIES = 40  # ... this many times (20 s) before it is given up, logged

Write = Callable[[], Awaitable[Any]]


class OrderedWriter:
    def __init__(self) -> None:
        self._writes: asyncio.Queue[Write] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def write(self, write: Write) -> None:
        """Do `write` after every write asked for before it."""
        self._writes.put_nowait(write)
        if self._task is None:
            self._task = asyncio.create_task(self._write_in_order())

    async def flush(self) -> None:
        await self._writes.join()

    async def close(self) -> None:
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _write_in_order(self) -> None:
        while True:
            write = await self._writes.get()
            try:
                for attempt in range(1, TRIES + 1):
                    try:
                        await write()
                        break
                    except RedisError:
                        log.warning("Redis unreachable (a write, try %d of %d)", attempt, TRIES, exc_info=attempt == TRIES)
                        await asyncio.sleep(RETRY_S)
            except Exception:
                log.exception("a write to Redis failed")
            finally:
                self._writes.task_done()
