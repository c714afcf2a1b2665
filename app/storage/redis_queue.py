"""The run queue on Redis as its writers and readers call it: queue a run, cancel one, see what is in flight,
read a run and the history back.

The formats are app/storage/redis_formats.py's. The runner nodes take what `submit` queues
(app/running/node.py); the web replicas will call these (issue 15, docs/distributed.md), the tests do now.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from typing import cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ResponseError

from app.model.status import Status
from app.storage import redis_formats as formats
from app.storage import redis_replies as replies
from app.storage.redis_documents import StateDoc
from app.storage.redis_formats import GROUP, HISTORY, NODES, RUNS, Entry, InFlight, Job

log = logging.getLogger(__name__)
PENDING_MAX = 10_000  # pending entries read at most: one per node running


async def ensure_group(redis: Redis) -> None:
    """The nodes' consumer group on the queue, reading it from its first entry (the stream made if need be)."""
    try:
        await redis.xgroup_create(RUNS, GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):  # expected: another node made it first
            raise


# Atomic, and once: a submit sent again (its connection dropped before the answer, and it had landed) finds
# the run's state and does nothing, so a run is never queued twice. KEYS: the run's state, its stream, the
# history, the queue; ARGV: the state document, the run id, its created_at, the job, then its stream entry.
SUBMIT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('XADD', KEYS[2], '*', unpack(ARGV, 5))
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
return redis.call('XADD', KEYS[4], '*', 'job', ARGV[4])
"""


async def submit(redis: Redis, job: Job) -> str | None:
    """Queue `job`: its run's state `queued` (document and stream), its place in the history, then its entry on
    the queue, at once. The entry id; None if the run was queued already (nothing changed)."""
    doc = formats.state_doc(formats.run_of_job(job))
    entry = [value for pair in formats.state_entry(doc).items() for value in pair]
    script = redis.register_script(SUBMIT)
    entry_id = await script(
        keys=[formats.state_key(job.run), formats.events_key(job.run), HISTORY, RUNS],
        args=[formats.dumps(doc), job.run, job.created_at, job.to_fields()["job"], *entry],
    )
    return None if entry_id is None else replies.text_of(entry_id)


def add_ack_and_delete(pipe: Pipeline, entry_id: bytes) -> None:
    """Into a transaction: acknowledge the queue's entry and delete it (its job has ended: no longer in flight)."""
    pipe.xack(RUNS, GROUP, entry_id)
    pipe.xdel(RUNS, entry_id)


async def ack_and_delete(redis: Redis, entry_id: bytes) -> None:
    """Acknowledge the queue's entry and delete it, in one transaction: the queue holds only runs in flight."""
    async with redis.pipeline(transaction=True) as pipe:
        add_ack_and_delete(pipe, entry_id)
        await pipe.execute()


async def request_cancel(redis: Redis, run_id: str) -> None:
    """Ask the node running `run_id` (or the one that takes it) to stop it: it ends `cancelled`."""
    await redis.set(formats.cancel_key(run_id), formats.dumps(formats.cancel_doc(time.time())), ex=formats.CANCEL_TTL_S)


async def state(redis: Redis, run_id: str) -> StateDoc | None:
    """The run's state document, None if there is none (or of another version)."""
    return _doc_of(replies.value_of(await redis.get(formats.state_key(run_id))))


async def entries(redis: Redis, run_id: str, after: str = "-") -> list[Entry]:
    """The run's stream from after the entry id `after` ("-": from its start); an entry of another version or
    kind is left out (logged): the rest of the run is still shown."""
    return [entry async for entry in each_entry(redis, run_id, after, chunk=None)]


async def each_entry(redis: Redis, run_id: str, after: str = "-", chunk: int | None = 64) -> AsyncIterator[Entry]:
    """The run's stream from after `after`, read `chunk` entries at a time (None: at once): a reader that has
    what it wanted stops, and reads no more of a log that may hold LAB_MAX_LOG_MB."""
    while True:
        start = "-" if after == "-" else f"({after}"
        reply = replies.entries_of(await redis.xrange(formats.events_key(run_id), start, count=chunk))
        for entry_id, fields in reply:
            try:
                yield formats.read_entry(entry_id, fields)
            except (ValueError, KeyError):
                log.warning("run %s: entry %s left out", run_id, entry_id.decode(), exc_info=True)
        if chunk is None or len(reply) < chunk:
            return
        after = reply[-1][0].decode()


async def in_flight(redis: Redis) -> InFlight:
    """The runs queued (head first) and executing (with their nodes), and the nodes alive and idle: one
    transaction for the queue (so queued and executing are seen at one moment), then the heartbeats."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.xinfo_groups(RUNS)
        pipe.xrange(RUNS, "-", "+")
        pipe.xpending_range(RUNS, GROUP, min="-", max="+", count=PENDING_MAX)
        pipe.smembers(NODES)
        groups, queue, pending, names = await pipe.execute(raise_on_error=False)
    if isinstance(groups, ResponseError) and "no such key" in str(groups):  # nothing was ever queued
        groups, queue = [], []
    if isinstance(pending, ResponseError) and "NOGROUP" in str(pending):  # no node ever read the queue
        pending = []
    for reply in (groups, queue, pending, names):
        if isinstance(reply, Exception):
            raise reply
    found, problems = formats.in_flight_of(
        replies.last_delivered_of(groups, GROUP),
        replies.entries_of(queue),
        replies.pending_of(pending),
        await _heartbeats(redis, names),
    )
    for problem in problems:
        log.warning("in flight: left out %s", problem)
    return found


async def _heartbeats(redis: Redis, names: object) -> list[bytes | None]:
    """The heartbeats of the nodes named in `lab:nodes` (None: expired, a node that died and is not reaped yet)."""
    keys = [formats.node_key(name.decode()) for name in replies.members_of(names)]
    return replies.values_of(await redis.mget(keys)) if keys else []


# Atomic against the nodes' XREADGROUP: the job is taken either before the script (it is no longer after
# the group's last-delivered-id: nothing changes) or after it (its entry is gone: no node ever sees it).
# KEYS: the queue, the run's state, its stream; ARGV: the group, the run id, the ended state document, then
# the fields of its state entry.
CANCEL_QUEUED = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local after = '0-0'
for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local info = {}
  for i = 1, #group, 2 do info[group[i]] = group[i + 1] end
  if info['name'] == ARGV[1] then after = info['last-delivered-id'] end
end
for _, entry in ipairs(redis.call('XRANGE', KEYS[1], '(' .. after, '+')) do
  local fields = entry[2]
  for i = 1, #fields, 2 do
    if fields[i] == 'job' then
      local ok, job = pcall(cjson.decode, fields[i + 1])
      if ok and type(job) == 'table' and job['run'] == ARGV[2] then
        redis.call('XDEL', KEYS[1], entry[1])
        redis.call('SET', KEYS[2], ARGV[3])
        redis.call('XADD', KEYS[3], '*', unpack(ARGV, 4))
        return 1
      end
    end
  end
end
return 0
"""


async def cancel_queued(redis: Redis, run_id: str, now: float) -> StateDoc | None:
    """If `run_id` is still queued, take it off the queue and end it `cancelled` (its state document and
    stream), at once and for good: the state document it ended with. None if no node is to be kept from it
    any more (a node took it, or it has ended): nothing changed; `request_cancel` then stops a run a node took."""
    doc = await state(redis, run_id)
    if doc is None or Status(doc["status"]) != Status.QUEUED:
        return None
    doc = formats.ended(doc, Status.CANCELLED, "cancelled while queued", 0, now)
    entry = [value for pair in formats.state_entry(doc).items() for value in pair]
    script = redis.register_script(CANCEL_QUEUED)
    done = await script(
        keys=[RUNS, formats.state_key(run_id), formats.events_key(run_id)],
        args=[GROUP, run_id, formats.dumps(doc), *entry],
    )
    return doc if replies.count_of(done) == 1 else None


async def history(redis: Redis, page: int, size: int) -> tuple[list[StateDoc], int]:
    """The runs queued, newest first: page `page` (from 1) of `size` state documents, and how many there are."""
    if page < 1 or size < 1:  # ZREVRANGE 0 -1 would be every run
        raise ValueError(f"a page of the history is numbered from 1 and holds at least 1 run: page {page} of {size}")
    start = (page - 1) * size
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zrevrange(HISTORY, start, start + size - 1)
        pipe.zcard(HISTORY)
        members, total = await pipe.execute()
    ids = [member.decode() for member in replies.keys_of(members)]
    docs = replies.values_of(await redis.mget([formats.state_key(run_id) for run_id in ids])) if ids else []
    return [doc for doc in (_doc_of(raw) for raw in docs) if doc is not None], replies.count_of(total)


async def delete_before(redis: Redis, cutoff: float, chunk: int = 500) -> list[str]:
    """Delete the finished runs queued before `cutoff` (unix s): every key of each (its state, stream, snapshot,
    last sighting, cancel request) and its place in the history; their ids. A run in flight is left, however old."""
    deleted: list[str] = []
    ids = [member.decode() for member in replies.keys_of(await redis.zrangebyscore(HISTORY, "-inf", f"({cutoff!r}"))]
    for at in range(0, len(ids), chunk):
        batch = ids[at : at + chunk]
        docs = [_doc_of(raw) for raw in replies.values_of(await redis.mget([formats.state_key(i) for i in batch]))]
        # A run whose state is gone (or unreadable) has nothing left to show: its place in the history goes too.
        ended = [run_id for run_id, doc in zip(batch, docs) if doc is None or Status(doc["status"]).finished]
        if not ended:
            continue
        async with redis.pipeline(transaction=True) as pipe:
            pipe.delete(*(key for run_id in ended for key in formats.run_keys(run_id)))
            pipe.zrem(HISTORY, *ended)
            await pipe.execute()
        deleted += ended
    return deleted


def _doc_of(raw: bytes | None) -> StateDoc | None:
    """A state document as written, if of this version (its fields are taken as this version writes them)."""
    doc = json.loads(raw) if raw is not None else None
    return cast(StateDoc, doc) if isinstance(doc, dict) and doc.get("v") == formats.VERSION else None


async def load_snapshot(redis: Redis, run_id: str) -> bytes | None:
    """The finished run's timeline as `snapshots.dump` made it (`snapshots.load` reads it); None if it has none."""
    return replies.value_of(await redis.get(formats.snapshot_key(run_id)))
