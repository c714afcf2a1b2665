"""The Redis formats and journal of runner nodes (app/storage/redis_formats.py, redis_journal.py), without a node:
a job is read or refused in words, and a run's stream is bounded as the SQLite store bounds its log."""

from __future__ import annotations

import asyncio
import inspect
import json

import pytest
from redis.asyncio import Redis

from app.model.events import Event
from app.model.runs import Journal, Run
from app.model.status import Status
from app.storage import redis_formats as formats
from app.storage import redis_replies as replies
from app.storage import snapshots
from app.storage.redis_formats import JobError, read_job
from app.storage.redis_journal import RedisJournal
from app.storage.redis_queue import entries, load_snapshot
from app.storage.wire import unpack_events
from tests.helpers import RACE, drawn, header, members, result, spans, until_async


def job(**fields: object) -> dict[bytes, bytes]:
    return {b"job": json.dumps({"v": 1, "run": "r1", "experiment": "race-counter", "params": {}, **fields}).encode()}


def test_a_job_is_read_with_its_defaults():
    read = read_job(job(params={"workers": 2}, owner="c1"))
    assert (read.run, read.experiment, read.params, read.owner, read.measures_time) == (
        "r1",
        "race-counter",
        {"workers": 2},
        "c1",
        False,
    )
    entry = read.to_fields()["job"]
    assert isinstance(entry, bytes)  # formats.dumps's JSON
    assert json.loads(entry)["v"] == 1


@pytest.mark.parametrize(
    "fields, problem, run",
    [
        (job(v=2), "of version 2; this node reads version 1", "r1"),
        (job(run="../../etc"), "run id must be 1 to 64 letters", None),
        (job(params=[1, 2]), "params must be a JSON object, got [1, 2]", "r1"),
        (job(experiment=7), "experiment must be an experiment id, got 7", "r1"),
        ({b"job": b"{not json"}, "the job is not JSON", None),
        ({b"other": b"1"}, "the entry has no `job` field (fields: ['other'])", None),
    ],
)
def test_a_job_that_cannot_be_read_is_refused_naming_the_problem(fields, problem, run):
    with pytest.raises(JobError) as refused:
        read_job(fields)
    assert problem in str(refused.value) and refused.value.run == run


def test_replies_are_read_as_the_client_gives_them_nil_entries_left_out():
    fields = {b"v": b"1", b"kind": b"state"}
    assert replies.entries_of([(b"1-0", fields), (None, None)]) == [
        (b"1-0", fields)
    ]  # nil: deleted (XCLAIM, Redis < 7)
    assert replies.entries_of(None) == []
    assert replies.read_entries_of([[b"lab:runs", [(b"1-0", fields)]], [b"other", [(b"2-0", {})]]]) == [
        (b"1-0", fields),
        (b"2-0", {}),
    ]
    assert replies.read_entries_of(None) == replies.read_entries_of([]) == []
    pending = [{"message_id": b"1-0", "consumer": b"node-a", "time_since_delivered": 5, "times_delivered": 1}]
    assert replies.pending_of(pending) == [(b"1-0", "node-a")]
    assert replies.text_of(b"1-0") == "1-0"


def test_a_reply_of_a_client_made_with_decode_responses_is_refused_saying_so():
    with pytest.raises(TypeError, match="decode_responses"):
        replies.entries_of([("1-0", {"v": "1"})])
    with pytest.raises(TypeError, match="decode_responses"):
        replies.pending_of([{"message_id": "1-0", "consumer": "node-a"}])


def test_the_redis_journal_has_every_member_of_the_journal_a_run_reports_to():
    for name, member in members(Journal).items():
        ours, theirs = getattr(RedisJournal, name), member
        assert callable(theirs), f"{name}: a method of the Journal"
        assert list(inspect.signature(ours).parameters) == list(inspect.signature(theirs).parameters), name
        assert inspect.iscoroutinefunction(ours) == inspect.iscoroutinefunction(theirs), name


def test_a_stream_past_its_bound_keeps_what_replay_needs_and_says_where_it_was_cut(redis_server):
    bound = 20_000

    async def journalled() -> tuple[Run, list]:
        async with Redis.from_url(redis_server.url) as redis:
            journal = RedisJournal(redis, "n1", bound)
            run = Run("bounded", RACE, {})
            run.journal = journal
            run.start()
            run.ingest(header())
            run.ingest(spans(3))
            for i in range(40):  # ~130 kB compressed in all, as tests/storage/test_store.py's bounded log
                run.ingest(
                    [
                        Event("counter", 100 + i * 1000 + k, "w1", "depth", f"{i}.{k} {'x' * (k % 97)}")
                        for k in range(1000)
                    ]
                )
                await journal.room()
                await asyncio.sleep(0)
            run.ingest([Event("lane", 50_000, "w9", value={"pid": 11})] + result(60_000))
            run.finish(Status.DONE)
            await journal.close()
            return run, await entries(redis, "bounded")

    run, stream = asyncio.run(journalled())

    truncation = run.truncated
    assert truncation is not None and 0 < truncation.after_events < 40_000
    cut = [entry for entry in stream if entry.kind == "truncated"]
    assert len(cut) == 1 and cut[0].doc == {
        "v": 1,
        "at_bytes": truncation.at_bytes,
        "after_events": truncation.after_events,
    }
    rows = [entry for entry in stream if entry.kind == "events"]
    assert sum(len(entry.data) for entry in rows) <= bound
    events = [(seq, event) for entry in rows for seq, event in unpack_events(entry.data, entry.first)]
    assert [event.kind for _, event in events[-2:]] == ["lane", "result"] and events[-1][0] == 40_010
    assert len(events) == truncation.after_events + 2
    end = stream[-1]
    assert end.kind == "state" and end.doc["status"] == "done" and end.doc["events"] == 40_010
    assert (end.doc["truncated_at_bytes"], end.doc["truncated_after_events"]) == (
        truncation.at_bytes,
        truncation.after_events,
    )
    assert end.doc["v"] == formats.VERSION and end.doc["node"] == "n1"


def test_a_finished_run_is_written_with_its_timelines_snapshot_as_the_sqlite_store_keeps_it(redis_server):
    async def journalled() -> tuple[Run, bytes | None, bytes | None, bytes | None]:
        async with Redis.from_url(redis_server.url) as redis:
            journal = RedisJournal(redis, "n1")
            run = Run("snap", RACE, {})
            run.journal = journal
            run.start()
            run.ingest(header())
            run.ingest(spans(3) + [Event("begin", 100, "w1", "open", "run")])  # cut at its end
            await journal.flush()
            running = await load_snapshot(redis, "snap")
            run.finish(Status.DONE)
            await journal.close()
            await redis.set(formats.snapshot_key("other"), b"\x80 not a document")
            return run, running, await load_snapshot(redis, "snap"), await load_snapshot(redis, "none")

    run, running, finished, none = asyncio.run(journalled())

    assert running is None and none is None, "only a finished run has one"
    assert finished == snapshots.dump(run.timeline), "the same versioned JSON the SQLite store keeps"
    replayed = Run("snap", RACE, {})
    loaded = snapshots.load(finished, "snap")
    assert loaded is not None
    replayed.timeline = loaded
    assert drawn(replayed) == drawn(run) and any(span.cut for span in loaded.spans), "the final timeline, cut"


def test_what_a_node_writes_while_redis_restarts_is_written_once_it_is_back(redis_server, caplog):
    """Its events and its end are sent again until Redis answers (a restart takes a moment), not dropped."""

    async def journalled() -> tuple[Run, list]:
        async with Redis.from_url(redis_server.url) as redis:
            journal = RedisJournal(redis, "n1")
            run = Run("through", RACE, {})
            run.journal = journal
            run.start()
            run.ingest(header())
            await journal.flush()
            redis_server.stop()
            run.ingest(spans(3))
            run.finish(Status.DONE)
            await until_async(
                lambda: "Redis unreachable; writing again" in caplog.text, what="the writer meeting Redis away"
            )
            await asyncio.to_thread(redis_server.restart)
            await journal.close()
            return run, await entries(redis, "through")

    run, stream = asyncio.run(journalled())

    assert "Redis unreachable; writing again" in caplog.text, "the writer met Redis away"
    assert stream[-1].kind == "state" and stream[-1].doc["status"] == "done", "its end is written"
    events = [
        event for entry in stream if entry.kind == "events" for _, event in unpack_events(entry.data, entry.first)
    ]
    assert len(events) == run.received == 8
