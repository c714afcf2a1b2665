"""A web replica's ordered writer (app/storage/redis_writer.py), on a real redis-server: writes land in the order
they were asked for, wait out a Redis restart, and one Redis refuses is told to its caller and raised by flush,
the others going on."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from app.storage import redis_writer
from app.storage.redis_writer import OrderedWriter, Write
from tests.helpers import until_async


def test_writes_land_in_order_and_wait_out_a_restart(redis_server, monkeypatch, caplog):
    monkeypatch.setattr(redis_writer, "RETRY_S", 0.05)

    async def go() -> list[bytes | str]:
        async with Redis.from_url(redis_server.url) as redis:

            def push(n: int) -> Write:
                return lambda: redis.rpush("order", n)

            writer = OrderedWriter()
            for n in range(5):
                writer.write(push(n))
            await writer.flush()
            redis_server.stop()
            for n in range(5, 8):
                writer.write(push(n))
            await until_async(lambda: "Redis unreachable" in caplog.text, what="the writer meeting Redis away")
            await asyncio.to_thread(redis_server.restart)
            await writer.flush()
            await writer.close()
            return await redis.lrange("order", 0, -1)

    assert asyncio.run(go()) == [str(n).encode() for n in range(8)]


def test_a_write_redis_refuses_is_told_to_its_caller_and_raised_by_flush_and_the_next_goes_on(redis_server):
    async def go() -> tuple[list[RedisError], list[bytes | str]]:
        async with Redis.from_url(redis_server.url) as redis:
            await redis.set("text", "not a number")
            writer = OrderedWriter()
            told: list[RedisError] = []
            writer.write(lambda: redis.incr("text"), told.append)  # Redis refuses: not an integer
            writer.write(lambda: redis.rpush("after", "still written"))
            with pytest.raises(ResponseError):
                await writer.flush()
            await writer.flush()  # told once: the next flush has nothing to raise
            await writer.close()
            return told, await redis.lrange("after", 0, -1)

    told, after = asyncio.run(go())
    assert len(told) == 1 and isinstance(told[0], ResponseError)
    assert after == [b"still written"]


def test_a_write_that_raises_anything_else_is_logged_and_the_writes_after_it_are_still_done(redis_server, caplog):
    async def go() -> list[bytes | str]:
        async with Redis.from_url(redis_server.url) as redis:
            writer = OrderedWriter()

            async def broken() -> None:
                raise ValueError("a bug in the write")

            writer.write(broken)
            writer.write(lambda: redis.rpush("after", "still written"))
            await asyncio.wait_for(writer.flush(), 10)  # not for ever
            await asyncio.wait_for(writer.close(), 10)
            return await redis.lrange("after", 0, -1)

    assert asyncio.run(go()) == [b"still written"]
    assert "a write to Redis failed" in caplog.text and "a bug in the write" in caplog.text
