"""Reap the runs of runner nodes that died mid-run: they end `interrupted`, with the events they had sent.

A node that dies (power, SIGKILL, OOM) leaves its job pending in the nodes' consumer group, never
acknowledged, and its heartbeat (`lab:node:{name}`, app/storage/redis_formats.py) expires. `reap` finds
such entries, claims each one (XCLAIM with a minimum idle time: of several reapers at once, one wins),
writes the run's end (state document and stream entry, its open spans cut where its node last saw it running:
`lab:run:{id}:seen`) and acknowledges and deletes the entry, in one transaction. The run is
never run again: its student sees it interrupted, as after the embedded server's restart, and may run it
again. Its runner died with the node (its lifeline, experiments/harness/lifeline.py).

The nodes call it before they take a job (app/running/node.py); the web replicas every third of the
heartbeat's TTL (`reap_for_replica`, app/running/execute_on_nodes.py).
"""

from __future__ import annotations

import logging
import time

from redis.asyncio import Redis

from app.model.status import Status
from app.storage import redis_formats as formats
from app.storage import redis_replies as replies
from app.storage.redis_formats import GROUP, RUNS, JobError, read_job
from app.storage.redis_queue import ack_and_delete, add_ack_and_delete, state

log = logging.getLogger(__name__)
BATCH = 100  # pending entries looked at per call


async def reap(redis: Redis, ttl_s: float, reaper: str = "reaper") -> list[str]:
    """End the runs pending for nodes whose heartbeat expired; the ids of the runs it ended."""
    ended: list[str] = []
    alive: dict[str, bool] = {}
    for entry_id, node in replies.pending_of(await redis.xpending_range(RUNS, GROUP, min="-", max="+", count=BATCH)):
        if node not in alive:
            alive[node] = bool(await redis.exists(formats.node_key(node)))
        if alive[node]:
            continue
        why = f"never ended: its node {node} stopped answering (no heartbeat for {ttl_s:g} s); it is not run again"
        # The entry has been idle since its node took it, at least the heartbeat's TTL before it expired.
        run_id = await _claim_and_end(redis, entry_id, reaper, int(ttl_s * 1000), why)
        if run_id:
            ended.append(run_id)
    for node, is_alive in alive.items():
        if not is_alive:  # its entries are claimed: it is gone from the group
            await redis.xgroup_delconsumer(RUNS, GROUP, node)
    await _forget_silent_nodes(redis)
    return ended


async def reap_for_replica(redis: Redis, ttl_s: float, name: str) -> list[str]:
    """`reap` as the web replica `name`: the entries it claimed are acknowledged, so it leaves the nodes'
    group with nothing pending."""
    ended = await reap(redis, ttl_s, reaper=name)
    if ended:
        await redis.xgroup_delconsumer(RUNS, GROUP, name)
    return ended


async def _forget_silent_nodes(redis: Redis) -> None:
    """Take the names of nodes whose heartbeat expired (dead, idle or reaped) out of `lab:nodes`."""
    names = replies.members_of(await redis.smembers(formats.NODES))
    if names:
        beats = replies.values_of(await redis.mget([formats.node_key(name.decode()) for name in names]))
        silent = [name for name, beat in zip(names, beats) if beat is None]
        if silent:
            await redis.srem(formats.NODES, *silent)


async def reap_own(redis: Redis, node: str) -> list[str]:
    """At a node's start: end what a previous process of the same name left pending (it died mid-run)."""
    ended: list[str] = []
    why = f"never ended: its node {node} stopped while it ran (found when the node started again); it is not run again"
    reply = await redis.xpending_range(RUNS, GROUP, min="-", max="+", count=BATCH, consumername=node)
    for entry_id, _ in replies.pending_of(reply):
        run_id = await _claim_and_end(redis, entry_id, node, 0, why)
        if run_id:
            ended.append(run_id)
    return ended


async def _claim_and_end(redis: Redis, entry_id: bytes, reaper: str, min_idle_ms: int, why: str) -> str | None:
    reply = await redis.xclaim(RUNS, GROUP, reaper, min_idle_time=min_idle_ms, message_ids=[entry_id])
    if not reply:
        return None  # another reaper took it first, or the entry was deleted
    claimed = replies.entries_of(reply)
    fields = claimed[0][1] if claimed else {}  # none: deleted while pending (Redis < 7 answers nil); acked below
    try:
        job = read_job(fields)
        run_id: str | None = job.run
    except JobError as exc:
        job, run_id = None, exc.run
    doc = await state(redis, run_id) if run_id else None
    if doc is None and job is not None:  # it died before it wrote the run's start
        doc = formats.state_doc(formats.run_of_job(job))
    if doc is None or Status(doc["status"]).finished:  # nothing to end, or it died between the end and the XACK
        await ack_and_delete(redis, entry_id)
        return None
    assert run_id is not None
    doc = formats.ended(doc, Status.INTERRUPTED, why, await _events_sent(redis, run_id), time.time())
    seen = replies.value_of(await redis.get(formats.seen_key(run_id)))
    if seen is not None:  # its open spans are cut where its node last saw it running, not at its last event
        doc["cut_at_ns"] = int(seen)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(formats.state_key(run_id), formats.dumps(doc))
        pipe.xadd(formats.events_key(run_id), formats.state_entry(doc))
        pipe.delete(formats.seen_key(run_id))
        add_ack_and_delete(pipe, entry_id)
        await pipe.execute()
    log.warning("run %s: %s", run_id, why)
    return run_id


async def _events_sent(redis: Redis, run_id: str) -> int:
    """The number of the last event the run's stream holds (0: none)."""
    for _, fields in replies.entries_of(await redis.xrevrange(formats.events_key(run_id), count=BATCH)):
        if fields.get(b"kind") == b"events":
            return int(fields[b"last"])
    return 0
