"""The run queue on Redis as its writers and readers call it: queue a run, ask to cancel one, read a run back.

The formats are app/storage/redis_formats.py's. The runner nodes take what `submit` queues
(app/running/node.py); the web replicas will call these (issue 15, docs/distributed.md), the tests do now.
"""
from __future__ import annotations

import json
import time
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from app.storage import redis_formats as formats
from app.storage.redis_formats import GROUP, RUNS, Entry, Job


async def ensure_group(redis: Redis) -> None:
    """The nodes' consumer group on the queue, reading it from its first entry (the stream made if need be)."""
    try:
        await redis.xgroup_create(RUNS, GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):  # expected: another node made it first
            raise


async def submit(redis: Redis, job: Job) -> str:
    """Queue `job`: its run's state `queued` (document and stream), then its entry on the queue. The entry id."""
    doc = formats.state_doc(formats.run_of_job(job))
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(formats.state_key(job.run), formats.dumps(doc))
        pipe.xadd(formats.events_key(job.run), formats.state_entry(doc))
        pipe.xadd(RUNS, job.to_fields())
        *_, entry_id = await pipe.execute()
    return formats.text_of(entry_id)


async def request_cancel(redis: Redis, run_id: str) -> None:
    """Ask the node running `run_id` (or the one that takes it) to stop it: it ends `cancelled`."""
    await redis.set(formats.cancel_key(run_id), formats.dumps(formats.cancel_doc(time.time())),
                    ex=formats.CANCEL_TTL_S)


async def state(redis: Redis, run_id: str) -> dict[str, Any] | None:
    """The run's state document, None if there is none (or of another version)."""
    raw = await redis.get(formats.state_key(run_id))
    if raw is None:
        return None
    doc = json.loads(raw)
    return doc if doc.get("v") == formats.VERSION else None


async def entries(redis: Redis, run_id: str, after: str = "-") -> list[Entry]:
    """The run's stream from after the entry id `after` ("-": from its start)."""
    start = "-" if after == "-" else f"({after}"
    reply = await redis.xrange(formats.events_key(run_id), start)
    return [formats.read_entry(entry_id, fields) for entry_id, fields in formats.entries_of(reply)]
