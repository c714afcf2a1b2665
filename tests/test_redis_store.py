"""A web replica's run store (app/storage/redis_store.py) on a real redis-server: what it cannot read costs one
entry, never the following of the other runs; a run Redis refuses to queue (full) fails at once, is not left
`queued` in Live now, and the request hears of it."""
from __future__ import annotations

import asyncio
import time

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from app.storage import redis_formats as formats
from app.storage.redis_formats import Job
from app.storage.redis_queue import submit
from app.storage.redis_store import RedisRunStore
from tests.test_store import RACE


def job(run_id: str) -> Job:
    return Job(run_id, RACE.id, {}, created_at=time.time())


def test_an_unreadable_entry_costs_that_entry_and_the_other_runs_are_still_followed(redis_server):
    async def go():
        async with Redis.from_url(redis_server.url) as redis:
            store = RedisRunStore(redis, {RACE.id: RACE}, poll_s=0.05)
            await store.open()
            await submit(redis, job("odd"))
            await redis.xadd(formats.events_key("odd"), {"v": "2", "kind": "state", "doc": "{}"})  # a newer node's
            await redis.xadd(formats.events_key("odd"), {"v": "1", "kind": "events", "first": "1", "last": "1",
                                                         "data": b"not zlib"})
            await store.refresh()
            await submit(redis, job("plain"))
            await asyncio.sleep(0.3)  # polled meanwhile
            followed = sorted(run.id for run in store.active())
            await store.close()
            return followed

    assert asyncio.run(go()) == ["odd", "plain"]


def test_a_run_redis_refuses_to_queue_fails_at_once_and_the_request_hears_of_it(redis_server):
    async def go():
        async with Redis.from_url(redis_server.url) as redis:
            store = RedisRunStore(redis, {RACE.id: RACE})
            await store.open()
            await redis.config_set("maxmemory", "1")  # full: with noeviction, Redis refuses every write
            run = store.create(RACE, {})
            with pytest.raises(ResponseError, match="maxmemory"):
                await store.flush()
            await redis.config_set("maxmemory", "0")
            await store.close()
            return run, store.active()

    run, active = asyncio.run(go())
    assert run.status == "failed" and "could not be queued" in run.error and "maxmemory" in run.error
    assert active == [], "not left queued in Live now"
