"""A web replica's run store (app/storage/redis_store.py) on a real redis-server: what it cannot read costs one
entry, never the following of the other runs; a run Redis refuses to queue (full) fails at once, is not left
`queued` in Live now, and the request hears of it."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from app.model.experiments import catalogue
from app.storage import redis_formats as formats
from app.storage.redis_formats import Job
from app.storage.redis_queue import submit
from app.storage.redis_store import RedisRunStore
from tests.helpers import until_async

RACE = catalogue(("experiments.race_counter",))["race-counter"]


def job(run_id: str) -> Job:
    return Job(run_id, RACE.id, {}, created_at=time.time())


def test_an_unreadable_entry_costs_that_entry_and_the_other_runs_are_still_followed(redis_server):
    async def go():
        async with Redis.from_url(redis_server.url) as redis:
            store = RedisRunStore(redis, {RACE.id: RACE}, poll_s=0.05)
            await store.open()
            await submit(redis, job("odd"))
            await redis.xadd(formats.events_key("odd"), {"v": "2", "kind": "state", "doc": "{}"})  # a newer node's
            await redis.xadd(
                formats.events_key("odd"), {"v": "1", "kind": "events", "first": "1", "last": "1", "data": b"not zlib"}
            )
            await store.refresh()
            await submit(redis, job("plain"))
            await until_async(lambda: {"odd", "plain"} <= {run.id for run in store.active()}, what="both runs followed")
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


def test_a_page_of_a_long_log_is_the_same_slice_however_it_is_read_in_chunks(redis_server):
    """Read a chunk of entries at a time, a page of events (the API's, the trace export's) or of rows (the
    zoom's) is exactly the slice of the whole log, and a reader stops once it has its page."""
    from app.model.events import Event
    from app.model.runs import Run
    from app.storage.redis_journal import RedisJournal
    from app.storage.redis_queue import entries

    async def go():
        async with Redis.from_url(redis_server.url) as redis:
            journal, run = RedisJournal(redis, "n1"), Run("long", RACE, {})
            run.journal = journal
            run.start()
            for batch in range(150):  # 150 rows: more than two chunks of entries
                run.ingest(
                    [Event("begin", 10 * batch, "w1", f"step {batch}", "run"), Event("end", 10 * batch + 5, "w1")]
                )
                await journal.flush()
            await journal.close()
            store = RedisRunStore(redis, {RACE.id: RACE})
            every = [(entry.first, entry.data) for entry in await entries(redis, "long") if entry.kind == "events"]
            return (
                every,
                await store.stored_events("long", 0, 10_000),
                await store.stored_events("long", 151, 7),
                await store.rows("long", 41, 121, 5),
                await store.rows("long", 201, 10**9, 10_000),
            )

    every, all_events, page, rows, tail = asyncio.run(go())
    assert len(every) == 150 and [seq for seq, _ in all_events] == list(range(1, 301))
    assert page == all_events[151:158]
    assert rows == [row for row in every if 41 <= row[0] <= 121][:5]
    assert tail == [row for row in every if row[0] >= 201]
