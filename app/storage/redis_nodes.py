"""A runner node's side of the queue in Redis (app/running/node.py): take the next job, look for a cancel of the
run it runs, beat, and leave. The formats are app/storage/redis_formats.py's."""

from __future__ import annotations

import time

from redis.asyncio import Redis

from app.storage import redis_formats as formats
from app.storage import redis_replies as replies
from app.storage.redis_formats import GROUP, RUNS
from app.storage.redis_replies import Fields


async def take(redis: Redis, node: str, block_ms: int) -> list[tuple[bytes, Fields]]:
    """The next job no node took yet (one at most: XREADGROUP COUNT 1), waiting up to `block_ms` for one."""
    return replies.read_entries_of(await redis.xreadgroup(GROUP, node, {RUNS: ">"}, count=1, block=block_ms))


async def cancel_requested(redis: Redis, run_id: str) -> bool:
    """Whether a web replica asked that the run stop (redis_queue.request_cancel)."""
    return bool(await redis.exists(formats.cancel_key(run_id)))


async def beat(redis: Redis, node: str, doc: bytes, ttl_ms: int, run_id: str | None) -> None:
    """The node's heartbeat `doc` (formats.heartbeat_doc) for `ttl_ms`, and, while it runs a run, where the run
    was last seen running (this host's monotonic clock, which its events are stamped with)."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.set(formats.node_key(node), doc, px=ttl_ms)
        pipe.sadd(formats.NODES, node)
        if run_id is not None:
            pipe.set(formats.seen_key(run_id), str(time.monotonic_ns()), ex=formats.SEEN_TTL_S)
        await pipe.execute()


async def leave(redis: Redis, node: str) -> None:
    """Take the node's heartbeat down and it out of the nodes' group (nothing pending: every entry it took is acked)."""
    await redis.delete(formats.node_key(node))
    await redis.srem(formats.NODES, node)
    await redis.xgroup_delconsumer(RUNS, GROUP, node)
