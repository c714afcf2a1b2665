"""Runner nodes on Redis (app/running/node.py): real `python -m app worker` processes and a real redis-server.

A run queued on `lab:runs` is run by one node, as the embedded lab runs it, and its stream holds all of it
in order; nodes drain the queue FIFO, one run each at a time; a cancel request stops a run; a node killed
mid-run leaves no process behind and its run, once reaped, `interrupted` with what it had sent; a job that
cannot run fails saying why, and the node goes on.
"""

from __future__ import annotations

import json
import signal
import time

import pytest
from redis import Redis

from app.model.status import FINISHED
from app.storage import redis_formats as formats
from app.storage import snapshots
from app.storage.redis_documents import StateDoc
from app.storage.redis_formats import GROUP, RUNS, Entry
from app.storage.redis_queue import ensure_group, entries, load_snapshot, request_cancel, submit
from app.storage.redis_reaper import reap
from app.storage.wire import unpack_events
from tests.helpers import TTL_S, NodeProcess, alive, alive_in_group, call, events_of, sleeping, sleeps, state, until


@pytest.fixture
def nodes(redis_server, tmp_path):
    started: list[NodeProcess] = []

    def start(name: str) -> NodeProcess:
        started.append(NodeProcess(redis_server.url, name, tmp_path))
        return started[-1]

    yield start
    for node in started:
        if node.proc.poll() is None:
            node.proc.kill()
            node.proc.wait()


def ended(redis: Redis, run_id: str, timeout: float = 20) -> StateDoc:
    def over() -> StateDoc | None:
        doc = state(redis, run_id)
        return doc if doc is not None and doc["status"] in FINISHED else None

    return until(over, timeout=timeout, what=f"run {run_id} ending")


def found(redis: Redis, run_id: str) -> StateDoc:
    """The run's state document: it has one."""
    doc = state(redis, run_id)
    assert doc is not None, f"run {run_id} has no state document"
    return doc


def error_of(doc: StateDoc) -> str:
    """The ended run's error: it has one."""
    assert doc["error"] is not None, doc
    return doc["error"]


def ran(doc: StateDoc) -> tuple[float, float]:
    """When the ended run started and ended: it did both."""
    assert doc["started_at"] is not None and doc["ended_at"] is not None, doc
    return doc["started_at"], doc["ended_at"]


def statuses(stream: list[Entry]) -> list[str]:
    """The status each state entry of a run's stream says, in order."""
    return [doc["status"] for entry in stream if (doc := entry.state) is not None]


def pending(redis: Redis) -> int:
    count: int = redis.xpending(RUNS, GROUP)["pending"]
    return count


def acknowledged(redis: Redis) -> None:
    """Until no job is pending: a node acknowledges a job just after it has written the run's end, and deletes
    its entry with it: the queue holds only runs in flight."""
    until(lambda: pending(redis) == 0, timeout=10, what="every job taken acknowledged")
    assert redis.xlen(RUNS) == 0, "every job ended is deleted from the queue"


def test_a_node_runs_a_queued_run_and_its_stream_holds_all_of_it_in_order(redis_server, redis, nodes):
    node = nodes("a")
    call(redis_server.url, submit, sleeps("one", 1))

    doc = ended(redis, "one")

    assert doc["status"] == "done", doc
    assert doc["node"] == "a" and doc["v"] == 1 and ran(doc)[0] >= doc["created_at"]
    stream = call(redis_server.url, entries, "one")
    states = statuses(stream)
    assert states[0] == "queued" and states[1] == "running" and states[-1] == "done"
    assert stream[-1].kind == "state", "the end comes last"
    events = [
        event for entry in stream if entry.kind == "events" for _, event in unpack_events(entry.data, entry.first)
    ]
    kinds = [event.kind for event in events]
    assert {"header", "lane", "begin", "end", "result"} <= set(kinds), kinds
    sleep = next(i for i, event in enumerate(events) if event.kind == "begin" and event.name == "sleep(1)")
    its_end = next(
        i
        for i, event in enumerate(events[sleep:], sleep)
        if event.kind == "end" and event.worker == events[sleep].worker
    )
    assert its_end < kinds.index("result"), "the sleep's span, then the result"
    numbers = [(entry.first, entry.last) for entry in stream if entry.kind == "events"]
    assert numbers[0][0] == 1 and all(b[0] == a[1] + 1 for a, b in zip(numbers, numbers[1:])), "numbered on, none lost"
    assert doc["events"] == numbers[-1][1] == len(events)
    timeline = snapshots.load(call(redis_server.url, load_snapshot, "one"), "one")
    assert timeline is not None and timeline.result == events[kinds.index("result")].value, "its finished snapshot"
    acknowledged(redis)
    assert node.proc.poll() is None


def test_two_nodes_drain_six_runs_fifo_each_one_run_at_a_time(redis_server, redis, nodes):
    nodes("a"), nodes("b")
    ids = [f"run{i}" for i in range(6)]
    for run_id in ids:
        call(redis_server.url, submit, sleeps(run_id, 1))

    docs = [ended(redis, run_id, timeout=30) for run_id in ids]

    assert [doc["status"] for doc in docs] == ["done"] * 6
    assert {doc["node"] for doc in docs} == {"a", "b"}
    for earlier, later in zip(docs, docs[2:]):  # two nodes: a run starts before any run queued two after it
        assert ran(earlier)[0] < ran(later)[0]
    for name in ("a", "b"):  # each node one run at a time
        spans = sorted(ran(doc) for doc in docs if doc["node"] == name)
        assert all(previous[1] <= following[0] for previous, following in zip(spans, spans[1:])), spans
    acknowledged(redis)


def test_a_cancel_request_ends_a_running_run_cancelled_and_kills_its_processes(redis_server, redis, nodes):
    nodes("a")
    call(redis_server.url, submit, sleeps("long", 60))
    runner, child = until(lambda: sleeping(redis_server.url, "long"), timeout=20, what="the sleeper sleeping")

    asked = time.monotonic()
    call(redis_server.url, request_cancel, "long")
    doc = ended(redis, "long", timeout=10)

    assert doc["status"] == "cancelled" and doc["error"] == "cancelled while running", doc
    # polled every 0.2 s, then SIGTERM and at most LAB_CANCEL_GRACE_S (0.5 s) before SIGKILL: some 0.1 s here
    assert time.monotonic() - asked < 1.5
    until(lambda: not alive_in_group(runner) and not alive(child), timeout=5, what="the run's processes gone")
    acknowledged(redis)


def test_a_node_killed_mid_run_leaves_no_process_and_its_run_is_reaped_interrupted(redis_server, redis, nodes):
    node = nodes("doomed")
    call(redis_server.url, submit, sleeps("orphan", 60))
    runner, child = until(lambda: sleeping(redis_server.url, "orphan"), timeout=20, what="the sleeper sleeping")
    slept = max(event.ts_ns for event in events_of(redis_server.url, "orphan"))
    # Its heartbeat notes, every TTL/3 s, where the run was last seen running (the clock its events are stamped with).
    until(lambda: int(redis.get(formats.seen_key("orphan")) or 0) > slept, timeout=TTL_S, what="seen as it sleeps")

    node.proc.kill()
    node.proc.wait()

    sent = events_of(redis_server.url, "orphan")
    last_seen = int(redis.get(formats.seen_key("orphan")))
    until(lambda: not alive_in_group(runner) and not alive(child), timeout=5, what="the lifeline killing the run")
    assert found(redis, "orphan")["status"] == "running"
    assert call(redis_server.url, reap, TTL_S) == [], "not before its heartbeat expired"
    reaped = until(lambda: call(redis_server.url, reap, TTL_S), timeout=TTL_S + 5, what="the run reaped")
    assert reaped == ["orphan"]
    doc = found(redis, "orphan")
    assert doc["status"] == "interrupted" and "doomed stopped answering" in error_of(doc), doc
    assert events_of(redis_server.url, "orphan") == sent, "the events it had sent are kept"
    assert doc["events"] == len(sent)
    assert doc["cut_at_ns"] == last_seen, "its open spans are cut where its node last saw it running"
    assert not redis.exists(formats.seen_key("orphan")), "the sighting is used up"
    stream = call(redis_server.url, entries, "orphan")
    assert stream[-1].kind == "state" and statuses(stream)[-1] == "interrupted"
    acknowledged(redis)
    assert not redis.sismember(formats.NODES, "doomed"), "a dead node's name is forgotten"
    assert call(redis_server.url, reap, TTL_S) == []


def test_a_job_that_cannot_run_fails_naming_the_problem_and_the_node_goes_on(redis_server, redis, nodes):
    nodes("a")
    call(redis_server.url, ensure_group)
    good = {"v": 1, "experiment": "test-sleeps", "params": {"workers": 1, "seconds": 1}}
    redis.xadd(RUNS, {"job": json.dumps({**good, "run": "future", "v": 2})})
    redis.xadd(RUNS, {"job": json.dumps({**good, "run": "unknown", "experiment": "no-such-experiment"})})
    redis.xadd(RUNS, {"job": json.dumps({**good, "run": "bounds", "params": {"seconds": 10_000}})})
    redis.xadd(RUNS, {"job": b"\x80 not json"})
    redis.xadd(RUNS, {"something": "else"})
    call(redis_server.url, submit, sleeps("after", 1))

    assert "version 2" in error_of(ended(redis, "future"))
    assert "unknown experiment 'no-such-experiment'" in error_of(ended(redis, "unknown"))
    bounds = ended(redis, "bounds")
    assert bounds["status"] == "failed" and "seconds: must be" in error_of(bounds) and "10000" in error_of(bounds)
    after = ended(redis, "after")
    assert after["status"] == "done"
    stream = redis.xlen(formats.events_key("after"))
    redis.xadd(RUNS, sleeps("after", 1).to_fields())  # queued twice: it has ended, it is not run again
    call(redis_server.url, submit, sleeps("last", 1))
    assert ended(redis, "last")["status"] == "done"
    assert state(redis, "after") == after and redis.xlen(formats.events_key("after")) == stream
    acknowledged(redis)


def test_sigterm_to_a_node_ends_its_run_interrupted_and_the_node_exits(redis_server, redis, nodes):
    node = nodes("a")
    call(redis_server.url, submit, sleeps("stopped", 60))
    runner, child = until(lambda: sleeping(redis_server.url, "stopped"), timeout=20, what="the sleeper sleeping")

    node.proc.send_signal(signal.SIGTERM)

    assert node.proc.wait(timeout=15) == 0, node.text()
    doc = found(redis, "stopped")
    assert doc["status"] == "interrupted" and doc["error"] == "the runner node a stopped while it ran", doc
    assert not alive_in_group(runner) and not alive(child)
    acknowledged(redis)
    assert not redis.exists(formats.node_key("a")), "its heartbeat is taken down"
    assert not redis.sismember(formats.NODES, "a"), "and its name"


def test_a_node_started_again_under_its_name_ends_the_run_it_left_interrupted(redis_server, redis, nodes):
    first = nodes("a")
    call(redis_server.url, submit, sleeps("left", 60))
    until(lambda: sleeping(redis_server.url, "left"), timeout=20, what="the sleeper sleeping")
    first.proc.kill()
    first.proc.wait()

    nodes("a")  # its old heartbeat may still live: the new process ends what the old one left, first thing

    doc = ended(redis, "left", timeout=5)
    assert doc["status"] == "interrupted" and "found when the node started again" in error_of(doc), doc
    call(redis_server.url, submit, sleeps("next", 1))
    assert ended(redis, "next")["status"] == "done"
    acknowledged(redis)


def test_a_node_reaps_the_run_of_a_node_that_died_then_takes_the_next(redis_server, redis, nodes):
    doomed = nodes("doomed")
    call(redis_server.url, submit, sleeps("dropped", 60))
    until(lambda: sleeping(redis_server.url, "dropped"), timeout=20, what="the sleeper sleeping")
    nodes("b")
    doomed.proc.kill()
    doomed.proc.wait()

    doc = ended(redis, "dropped", timeout=TTL_S + 5)  # node b's loop reaps it once doomed's heartbeat expired

    assert doc["status"] == "interrupted" and "doomed stopped answering" in error_of(doc), doc
    call(redis_server.url, submit, sleeps("next", 1))
    assert ended(redis, "next")["node"] == "b"
    acknowledged(redis)
