"""The run store, one suite over both implementations: the embedded lab's SQLite RunStore and a web replica's
RedisRunStore. Where runs execute differs (the embedded lab runs them beside its store; a distributed lab's
nodes run them and journal them to Redis, app/storage/redis_journal.py), so `Storage` below runs each the way
its lab does. What a caller relies on is the same: a created run is queued and found; a run that ended
elsewhere (before a restart, or on a node) is read back as it was drawn; its events are numbered from 1 and
paged; the history is newest first; retention deletes only finished runs older than its cutoff."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from app.model.events import Event
from app.model.runs import Run
from app.model.status import Status
from app.storage.redis_journal import RedisJournal
from app.storage.redis_store import RedisRunStore
from app.storage.seams import RunStorage
from app.storage.store import RunStore
from app.storage.wire import unpack_events
from tests.helpers import EXPERIMENTS, RACE, drawn, header, result, spans

EVERYTHING = 10**9


class Storage:
    """Runs kept by one implementation: `store` is the one under test; `ended` runs a run to its end where that
    implementation runs runs; `again` is the same runs seen afresh (the embedded store reopened after a restart,
    or another web replica)."""

    def __init__(self, where: str, tmp_path: Path, redis_url: str):
        self.where, self.path = where, str(tmp_path / "lab.db")
        self.redis = Redis.from_url(redis_url) if where == "redis" else None
        self.stores: list[RunStorage] = []
        self.journal: RedisJournal | None = None

    async def open(self) -> RunStorage:
        store: RunStorage
        if self.redis is None:
            store = RunStore(self.path, EXPERIMENTS)
        else:
            store = RedisRunStore(self.redis, EXPERIMENTS, poll_s=0.05)
        await store.open()
        self.stores.append(store)
        return store

    async def close(self) -> None:
        for store in self.stores:
            await store.close()
        if self.journal is not None:
            await self.journal.close()
        if self.redis is not None:
            await self.redis.aclose()

    async def ended(
        self, store: RunStorage, batches: list[list[Event]], status: Status = Status.DONE, owner: str = ""
    ) -> Run:
        """A run created through `store`, executed and ended where this implementation executes runs; when this
        returns, everything it journalled is written."""
        created = store.create(RACE, {"workers": 2}, owner=owner)
        await store.flush()
        if self.redis is None:
            run = created  # the embedded lab runs it here, journalled to the store itself
        else:  # a runner node took it: the node's own Run, journalled to the run's stream
            if self.journal is None:
                self.journal = RedisJournal(self.redis, "n1")
            run = Run(created.id, RACE, created.params, created.owner, created_at=created.created_at)
            run.journal = self.journal
        run.start()
        for batch in batches:
            run.ingest(batch)
            await asyncio.sleep(0)  # a loop tick between batches: each may be a row of its own
        run.finish(status, cut_at_ns=10_000)
        await self.settle()
        return run

    async def settle(self) -> None:
        """Until what was journalled so far is written where any reader finds it."""
        if self.journal is not None:
            await self.journal.flush()
        for store in self.stores:
            await store.flush()

    async def again(self) -> RunStorage:
        """The same runs, read by a fresh store: the embedded one reopened after its server stopped (its writer
        closed first, as at a shutdown), or another web replica on the same Redis."""
        await self.settle()
        if self.redis is None:
            for store in self.stores:
                await store.close()
            self.stores.clear()
        return await self.open()


def with_storage(where: str, tmp_path: Path, redis_url: str, body: Callable[[Storage], Awaitable[Any]]) -> Any:
    async def go() -> Any:
        storage = Storage(where, tmp_path, redis_url)
        try:
            return await body(storage)
        finally:
            await storage.close()

    return asyncio.run(go())


def later_than(t: float) -> None:
    """Until the wall clock has moved past `t`: runs created after it are created later, never at the same time."""
    while time.time() <= t:
        time.sleep(0.001)


def test_a_created_run_is_queued_found_and_active_and_found_afresh_once_flushed(where, tmp_path, redis_url):
    async def body(storage: Storage) -> None:
        store = await storage.open()
        run = store.create(RACE, {"workers": 3}, owner="c" * 32)
        assert run.status == Status.QUEUED and store.get(run.id) is run and await store.find(run.id) is run
        assert run in store.active()
        await store.flush()
        found = await (await storage.again()).find(run.id)
        assert found is not None
        assert (found.status, found.params, found.owner, found.experiment.id) == (
            Status.QUEUED,
            {"workers": 3},
            "c" * 32,
            RACE.id,
        )

    with_storage(where, tmp_path, redis_url, body)


def test_a_run_that_ended_elsewhere_reads_back_as_it_was_drawn(where, tmp_path, redis_url):
    async def body(storage: Storage) -> None:
        store = await storage.open()
        run = await storage.ended(
            store,
            [
                header() + [Event("begin", 5, "main", "never ends", "wait")],
                spans(20) + [Event("instant", 99, "w1", "print", "print")] + result(700),
            ],
        )
        found = await (await storage.again()).find(run.id)
        assert found is not None and found.status == Status.DONE and found.finished
        assert drawn(found) == drawn(run)
        assert found.timeline.spans[-1].cut == "killed at exit" and found.timeline.spans[-1].end_ns == 10_000
        assert found.to_json()["result"] == run.to_json()["result"] and found.to_json()["log"]["events"] == 45

    with_storage(where, tmp_path, redis_url, body)


def test_events_are_numbered_from_1_and_paged_however_they_are_read(where, tmp_path, redis_url):
    async def body(storage: Storage) -> None:
        store = await storage.open()
        run = await storage.ended(store, [header(), spans(10), spans(10, t0=500), result(900)])
        for fresh in (False, True):  # the store that stored it, then a fresh one
            reader = await storage.again() if fresh else store
            every = await reader.events(run.id, 0, EVERYTHING)
            assert [event["seq"] for event in every] == list(range(1, 44))
            assert [event["kind"] for event in every[:3]] == ["header", "lane", "begin"]
            assert await reader.events(run.id, 5, 4) == every[5:9]
            assert await reader.events(run.id, 43, 10) == []
            stored = await reader.stored_events(run.id, 0, EVERYTHING)
            assert [seq for seq, _ in stored] == list(range(1, 44))
            assert [event.to_json() for _, event in stored] == [
                {k: v for k, v in e.items() if k != "seq"} for e in every
            ]
            assert await reader.stored_events(run.id, 20, 3) == stored[20:23]

    with_storage(where, tmp_path, redis_url, body)


def test_rows_hold_the_log_in_order_and_a_window_is_a_slice_of_them(where, tmp_path, redis_url):
    async def body(storage: Storage) -> None:
        store = await storage.open()
        run = await storage.ended(store, [header(), spans(10), spans(10, t0=500), spans(10, t0=900), result(2000)])
        rows = await store.rows(run.id, 1, EVERYTHING, EVERYTHING)
        assert len(rows) >= 2 and [first for first, _ in rows] == sorted(first for first, _ in rows)
        unpacked = [pair for first, blob in rows for pair in unpack_events(blob, first)]
        assert [(seq, event.to_json()) for seq, event in unpacked] == [
            (seq, event.to_json()) for seq, event in await store.stored_events(run.id, 0, EVERYTHING)
        ]
        second = rows[1][0]
        assert await store.rows(run.id, second, EVERYTHING, 1) == rows[1:2]
        assert await store.rows(run.id, 2, second, EVERYTHING) == [row for row in rows if 2 <= row[0] <= second]
        assert await store.rows(run.id, unpacked[-1][0] + 1, EVERYTHING, EVERYTHING) == []

    with_storage(where, tmp_path, redis_url, body)


def test_the_history_is_every_run_newest_first_and_paged(where, tmp_path, redis_url):
    async def body(storage: Storage) -> None:
        store = await storage.open()
        ids: list[str] = []
        for i in range(3):
            if ids:
                previous = store.get(ids[-1])
                assert previous is not None, "the run made just before is in memory"
                later_than(previous.created_at)
            if i == 1:
                ids.append(store.create(RACE, {"workers": 2}).id)  # still queued: listed too
            else:
                ids.append((await storage.ended(store, [header(), result(50)])).id)
        await storage.settle()
        for fresh in (False, True):
            reader = await storage.again() if fresh else store
            first, second = await reader.history(1, 2), await reader.history(2, 2)
            assert [row["id"] for row in first.runs + second.runs] == ids[::-1]
            assert first.total == second.total == 3
            assert [row["status"] for row in first.runs + second.runs] == ["done", "queued", "done"]
            assert first.runs[0]["params"] == {"workers": 2}

    with_storage(where, tmp_path, redis_url, body)


def test_retention_deletes_only_the_finished_runs_created_before_its_cutoff(where, tmp_path, redis_url):
    async def body(storage: Storage) -> None:
        store = await storage.open()
        old = await storage.ended(store, [header(), spans(3), result(100)])
        waiting = store.create(RACE, {"workers": 2})  # queued before the cutoff: never deleted, however old
        later_than(waiting.created_at)
        cutoff = time.time()
        later_than(cutoff)
        new = await storage.ended(store, [header(), result(50)])
        assert await store.delete_before(cutoff) == 1
        assert store.get(old.id) is None and await store.find(old.id) is None
        assert await store.events(old.id, 0, EVERYTHING) == []
        reader = await storage.again()
        assert await reader.find(old.id) is None
        kept = {run_id: await reader.find(run_id) for run_id in (waiting.id, new.id)}
        assert {run_id: run.status for run_id, run in kept.items() if run} == {waiting.id: "queued", new.id: "done"}
        assert [row["id"] for row in (await reader.history(1, 10)).runs] == [new.id, waiting.id]
        assert await reader.delete_before(cutoff) == 0

    with_storage(where, tmp_path, redis_url, body)


def test_an_unknown_run_is_none_and_has_no_events(where, tmp_path, redis_url):
    async def body(storage: Storage) -> None:
        store = await storage.open()
        assert store.get("0" * 12) is None and await store.find("0" * 12) is None
        assert await store.find("x" * 65) is None
        assert await store.events("0" * 12, 0, 10) == [] and await store.stored_events("0" * 12, 0, 10) == []
        assert await store.rows("0" * 12, 1, EVERYTHING, 10) == []
        assert (await store.history(1, 10)).total == 0 and await store.delete_before(time.time()) == 0

    with_storage(where, tmp_path, redis_url, body)
