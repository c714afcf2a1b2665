"""The queue on Redis as the web side reads and writes it (app/storage/redis_queue.py, redis_sweeps.py), against a
real redis-server: what is in flight (queued head first, executing with its node, the nodes and idle ones), a
queued run cancelled for good, the history newest first, a sweep written and found by another replica.

A node "taking" a job here is what a node does to Redis: XREADGROUP as its consumer (tests/running/test_nodes.py runs
real ones)."""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from redis.asyncio import Redis

from app.model.sweeps import Point, Sweep
from app.storage import redis_formats as formats
from app.storage import redis_replies as replies
from app.storage.redis_documents import StateDoc
from app.storage.redis_formats import GROUP, RUNS, Entry, InFlight, Job, in_flight_of
from app.storage.redis_queue import (
    ack_and_delete,
    cancel_queued,
    ensure_group,
    entries,
    history,
    in_flight,
    state,
    submit,
)
from app.storage.redis_sweeps import RedisSweeps
from app.storage.sweep_store import SweepStore
from tests.helpers import NodeProcess, call, sleeps

T = TypeVar("T")


def on(url: str, test: Callable[[Redis], Awaitable[T]]) -> T:
    """`test(redis)` run with a client of its own on `url`."""

    async def go() -> T:
        async with Redis.from_url(url) as redis:
            return await test(redis)

    return asyncio.run(go())


def job(run_id: str, created_at: float = 0.0) -> Job:
    return Job(run_id, "test-sleeps", {"workers": 1, "seconds": 1}, owner="tester", created_at=created_at)


def fields(run_id: str) -> dict[bytes, bytes]:
    """The queue entry of `run_id`'s job, as Redis answers it."""
    entry = job(run_id).to_fields()["job"]
    assert isinstance(entry, bytes)  # formats.dumps's JSON
    return {b"job": formats.dumps(json.loads(entry))}


def beat(node: str, run: str | None) -> bytes:
    return formats.dumps(formats.heartbeat_doc(node, "h", 1, run, time.time()))


async def take(redis: Redis, node: str) -> bytes:
    """Take the queue's head as `node` would (its beat says it runs it); its entry id."""
    reply = await redis.xreadgroup(GROUP, node, {RUNS: ">"}, count=1)
    [(entry_id, fields)] = replies.read_entries_of(reply)
    run = formats.read_job(fields).run
    await redis.set(formats.node_key(node), beat(node, run))
    await redis.sadd(formats.NODES, node)
    return entry_id


def runs(found: InFlight) -> tuple[list[str], list[tuple[str, str]]]:
    return [j.run for j in found.queued], [(j.run, node) for j, node in found.executing]


def statuses(stream: list[Entry]) -> list[str]:
    """The status each state entry of a run's stream says, in order."""
    return [doc["status"] for entry in stream if (doc := entry.state) is not None]


# -- what is in flight --


def test_in_flight_is_read_from_the_queue_entries_the_group_and_the_heartbeats():
    entries_ = [(b"5-0", fields("a")), (b"6-0", fields("b")), (b"6-1", {b"job": b"{"}), (b"10-0", fields("c"))]
    beats = [beat("n1", "b"), beat("n2", None), None, b"not json"]

    found, problems = in_flight_of(b"6-1", entries_, [(b"6-0", "n1"), (b"5-0", "n3")], beats)

    assert runs(found) == (["c"], [("a", "n3"), ("b", "n1")]), "queued: after the last delivered; executing: in order"
    assert (found.nodes, found.idle_nodes) == (2, 1), "an expired beat is no node, an unreadable one is left out"
    assert len(problems) == 2 and "6-1" in problems[0] and "not JSON" in problems[0]


def test_stream_ids_sort_as_redis_sorts_them():
    assert formats.stream_id(b"10-0") > formats.stream_id(b"9-5") > formats.stream_id(b"9-0")


def test_nothing_is_in_flight_before_anything_was_queued(redis_server):
    assert on(redis_server.url, in_flight) == InFlight()


def test_a_run_queued_before_any_node_made_the_group_is_queued(redis_server):
    async def go(redis):
        await submit(redis, job("early"))
        return await in_flight(redis)

    assert runs(on(redis_server.url, go)) == (["early"], [])


def test_in_flight_lists_the_queue_head_first_the_runs_executing_with_their_nodes_and_the_idle_nodes(redis_server):
    async def go(redis):
        await ensure_group(redis)
        for run_id in ("r0", "r1", "r2", "r3"):
            await submit(redis, job(run_id))
        await redis.xadd(RUNS, {"job": "not json"})  # malformed: left out, logged
        first = await take(redis, "n1")
        await take(redis, "n2")
        await redis.set(formats.node_key("n3"), beat("n3", None))
        await redis.sadd(formats.NODES, "n3", "gone")  # gone: a name whose heartbeat expired
        before = await in_flight(redis)
        await ack_and_delete(redis, first)  # n1's run ended
        return before, await in_flight(redis), await redis.xlen(RUNS), await redis.xpending(RUNS, GROUP)

    before, after, length, pending = on(redis_server.url, go)

    assert runs(before) == (["r2", "r3"], [("r0", "n1"), ("r1", "n2")])
    assert (before.nodes, before.idle_nodes) == (3, 1)
    assert runs(after) == (["r2", "r3"], [("r1", "n2")]), "an ended job's entry is gone from the queue"
    assert length == 4 and pending["pending"] == 1, "acknowledged and deleted"


# -- cancelling a queued run --


def test_a_queued_run_cancelled_ends_cancelled_and_leaves_the_queue(redis_server):
    async def go(redis):
        await ensure_group(redis)
        await submit(redis, job("first"))
        await submit(redis, job("doomed"))
        cancelled = await cancel_queued(redis, "doomed", 1234.5)
        again = await cancel_queued(redis, "doomed", 1300.0)
        return cancelled, again, await state(redis, "doomed"), await entries(redis, "doomed"), await in_flight(redis)

    cancelled, again, doc, stream, found = on(redis_server.url, go)

    assert cancelled == doc and again is None, "cancelled once, saying how it ended; then it is not queued any more"
    assert (doc["status"], doc["error"], doc["ended_at"]) == ("cancelled", "cancelled while queued", 1234.5)
    assert doc["v"] == 1 and doc["id"] == "doomed"
    assert statuses(stream) == ["queued", "cancelled"]
    assert stream[-1].doc == doc, "the stream ends with the same end"
    assert runs(found) == (["first"], [])


def test_a_run_a_node_has_taken_is_not_cancelled_as_queued(redis_server):
    async def go(redis):
        await ensure_group(redis)
        await submit(redis, job("taken"))
        await take(redis, "n1")
        return await cancel_queued(redis, "taken", time.time()), await state(redis, "taken"), await in_flight(redis)

    cancelled, doc, found = on(redis_server.url, go)

    assert not cancelled and doc["status"] == "queued", "nothing changed: the caller asks the node (request_cancel)"
    assert runs(found) == ([], [("taken", "n1")])


def test_an_unknown_or_ended_run_is_not_cancelled_as_queued(redis_server):
    async def go(redis):
        await ensure_group(redis)
        await submit(redis, job("ended"))
        doc = await state(redis, "ended")
        assert doc is not None
        await redis.set(formats.state_key("ended"), formats.dumps({**doc, "status": "done"}))
        return await cancel_queued(redis, "nobody", time.time()), await cancel_queued(redis, "ended", time.time())

    assert on(redis_server.url, go) == (None, None)


def test_a_node_started_after_a_queued_run_was_cancelled_never_runs_it(redis_server, tmp_path):
    url = redis_server.url
    call(url, ensure_group)
    call(url, submit, sleeps("cancelled", 1))
    call(url, submit, sleeps("after", 1))
    assert call(url, cancel_queued, "cancelled", time.time())

    node = NodeProcess(url, "a", tmp_path)
    try:
        done = call(url, lambda redis: _ended(redis, "after"))
        assert done["status"] == "done" and done["node"] == "a"
        doc = call(url, state, "cancelled")
        assert doc is not None and doc["status"] == "cancelled" and doc["node"] is None
        assert statuses(call(url, entries, "cancelled")) == ["queued", "cancelled"], "never running"
        assert runs(call(url, in_flight)) == ([], [])
        assert call(url, lambda redis: redis.xlen(RUNS)) == 0, "the queue holds only runs in flight"
    finally:
        node.stop()


async def _ended(redis: Redis, run_id: str, timeout: float = 20) -> StateDoc:
    deadline = time.monotonic() + timeout
    while (doc := await state(redis, run_id)) is None or doc["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, f"run {run_id} ending: not within {timeout} s"
        await asyncio.sleep(0.05)
    return doc


# -- the history --


def test_the_history_is_every_run_queued_newest_first_a_page_at_a_time(redis_server):
    async def go(redis):
        for run_id, created_at in (("old", 100.0), ("newest", 300.0), ("middle", 200.0), ("gone", 150.0)):
            await submit(redis, job(run_id, created_at))
        await redis.delete(formats.state_key("gone"))  # its state document lost: left out, still counted
        return await history(redis, 1, 2), await history(redis, 2, 2), await history(redis, 3, 2)

    first, second, third = on(redis_server.url, go)

    assert [doc["id"] for doc in first[0]] == ["newest", "middle"] and first[1] == 4
    assert [doc["id"] for doc in second[0]] == ["old"] and second[1] == 4
    assert third == ([], 4)
    assert first[0][0]["status"] == "queued" and first[0][0]["v"] == 1


def test_the_history_of_an_empty_lab_is_empty(redis_server):
    assert on(redis_server.url, lambda redis: history(redis, 1, 20)) == ([], 0)


def test_a_history_page_of_no_runs_is_refused_rather_than_every_run(redis_server):
    for page, size in ((1, 0), (0, 20)):
        with pytest.raises(ValueError, match="numbered from 1"):
            on(redis_server.url, lambda redis: history(redis, page, size))  # noqa: B023 (called at once)


# -- sweeps --

SWEEP = Sweep(
    "s1",
    "test-sleeps",
    {"seconds": 1},
    {"workers": [1, 2]},
    (Point({"seconds": 1, "workers": 1}, "r1"), Point({"seconds": 1, "workers": 2}, "r2")),
    "c1",
    1700.0,
)


def test_a_sweep_saved_on_one_replica_is_found_by_another(redis_server):
    async def go(redis):
        saving = RedisSweeps(redis)
        await saving.open()
        saving.save(SWEEP)
        found_here = await saving.find("s1")  # at once, from its cache
        await saving.flush()
        other = RedisSweeps(redis)
        found = await other.find("s1"), await other.find("nope"), await other.find("x" * 65)
        await saving.close()
        return found_here, found, await redis.get(formats.sweep_key("s1"))

    found_here, (found, missing, too_long), raw = on(redis_server.url, go)

    assert found_here == SWEEP and found == SWEEP and missing is None and too_long is None
    doc = json.loads(raw)
    assert doc["v"] == 1 and doc["points"] == [
        {"params": {"seconds": 1, "workers": 1}, "run_id": "r1"},
        {"params": {"seconds": 1, "workers": 2}, "run_id": "r2"},
    ]


def test_a_sweep_of_another_version_is_not_found(redis_server):
    async def go(redis):
        await redis.set(formats.sweep_key("s2"), json.dumps({**formats.sweep_doc(SWEEP), "id": "s2", "v": 2}))
        return await RedisSweeps(redis).find("s2")

    assert on(redis_server.url, go) is None


def test_redis_sweeps_has_the_sweep_stores_members():
    for name in (name for name in vars(SweepStore) if not name.startswith("_")):
        ours, theirs = getattr(RedisSweeps, name), getattr(SweepStore, name)
        assert list(inspect.signature(ours).parameters) == list(inspect.signature(theirs).parameters), name
        assert inspect.iscoroutinefunction(ours) == inspect.iscoroutinefunction(theirs), name


def test_a_submit_sent_twice_queues_its_run_once(redis_server):
    """A write retried after a dropped connection may have landed the first time: the second changes nothing."""

    async def go(redis):
        first = await submit(redis, job("once"))
        again = await submit(redis, job("once"))
        return first, again, await redis.xlen(RUNS), await entries(redis, "once"), await in_flight(redis)

    first, again, queued, stream, found = on(redis_server.url, go)
    assert first and again is None
    assert queued == 1 and len(stream) == 1 and statuses(stream) == ["queued"] and runs(found) == (["once"], [])
