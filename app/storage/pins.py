"""The run the teacher pinned to every home page (app/web/lobby.py): held in this process, or in Redis so that
every web replica shows the same one (`lab:pin`, app/storage/redis_formats.py). A restart of the embedded
server unpins; Redis keeps the pin as it keeps the runs."""

from __future__ import annotations

from typing import Protocol

from redis.asyncio import Redis

from app.storage.redis_formats import PIN


class Pin(Protocol):
    async def get(self) -> str | None:
        """The pinned run's id, if any."""
        ...

    async def set(self, run_id: str | None) -> None: ...


class MemoryPin:
    def __init__(self) -> None:
        self.run_id: str | None = None

    async def get(self) -> str | None:
        return self.run_id

    async def set(self, run_id: str | None) -> None:
        self.run_id = run_id


class RedisPin:
    def __init__(self, redis: Redis):
        self.redis = redis

    async def get(self) -> str | None:
        raw = await self.redis.get(PIN)
        return raw.decode() if isinstance(raw, bytes) else None

    async def set(self, run_id: str | None) -> None:
        if run_id is None:
            await self.redis.delete(PIN)
        else:
            await self.redis.set(PIN, run_id)
