"""A web replica's writes to Redis, one after another in the order they were asked for, each sent again while
Redis is unreachable (a restart takes a moment): a run is queued before the sweep that names it, a cancel after the
run it cancels, and none is lost to a short outage. `flush` waits until every write asked for so far is done,
so a replica answers a request only once any other replica would find what it made; a write Redis refuses
(full) or that it gives up on is told to its caller, and `flush` raises it.

The run store and the sweep store of a replica share one (app/running/engines.py `distributed`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

RETRY_S = 0.5  # Redis unreachable: a write is tried again after this long
TRIES = 40  # ... this many times (20 s) before it is given up

Write = Callable[[], Awaitable[Any]]
Failed = Callable[[RedisError], None]


class OrderedWriter:
    def __init__(self) -> None:
        self._writes: asyncio.Queue[tuple[Write, Failed | None]] = asyncio.Queue()
        self._failed: list[RedisError] = []  # given up since the last flush
        self._task: asyncio.Task[None] | None = None

    def write(self, write: Write, failed: Failed | None = None) -> None:
        """Do `write` after every write asked for before it; if Redis refuses it (full, say) or stays away,
        `failed` is told why."""
        self._writes.put_nowait((write, failed))
        if self._task is None:
            self._task = asyncio.create_task(self._write_in_order())

    async def flush(self) -> None:
        """Until every write asked for so far is done; a RedisError if one was given up meanwhile (the
        caller answers that Redis could not do it, rather than say it was done)."""
        await self._writes.join()
        failed, self._failed = self._failed, []
        if failed:
            raise failed[0]

    async def close(self) -> None:
        await self._writes.join()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _write_in_order(self) -> None:
        while True:
            write, failed = await self._writes.get()
            try:
                await self._try(write)
            except RedisError as exc:
                log.error("a write to Redis was given up: %s", exc)
                self._failed.append(exc)
                if failed is not None:
                    failed(exc)
            except Exception:  # a bug in the write itself: said, and the writes after it still done (else, with
                # this task ended, they never would be, and flush and close would wait for them for ever)
                log.exception("a write to Redis failed")
            finally:
                self._writes.task_done()

    @staticmethod
    async def _try(write: Write) -> None:
        """Sent again while Redis is unreachable, up to TRIES times; any other refusal at once."""
        for attempt in range(1, TRIES + 1):
            try:
                await write()
                return
            except (RedisConnectionError, RedisTimeoutError):
                if attempt == TRIES:
                    raise
                if attempt == 1:
                    log.warning("Redis unreachable: a write is tried again every %g s", RETRY_S)
                await asyncio.sleep(RETRY_S)
