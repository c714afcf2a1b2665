"""The run queue, one suite over both implementations where they share behaviour: Admission (the embedded
lab's, in memory) and NodeQueue (a web replica's view of the runner nodes' queue in Redis). With no room to
start a run (the embedded lab busy with a run that measures time; no runner node up), runs wait in the
order they were queued, each knows its place, and a run cancelled while waiting leaves the line."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis

from app.model.runs import Run
from app.running.admission import Admission
from app.running.node_queue import NodeQueue
from app.running.seams import Queue
from app.storage.redis_store import RedisRunStore
from tests.helpers import EXPERIMENTS, RACE


class Line:
    """A queue with no room to start a run, and runs queued on it as its lab queues them."""

    def __init__(self, queue: Queue[str], store: RedisRunStore | None = None):
        self.queue, self.store = queue, store
        self.runs: dict[str, Run] = {}

    async def add(self, measures_time: bool = False) -> str:
        if self.store is None:
            run_id = f"run{len(self.runs)}"
            self.runs[run_id] = Run(run_id, RACE, {})
        else:  # queued for the nodes in Redis, as a replica queues it
            run = self.store.create(RACE, {})
            await self.store.flush()
            run_id, self.runs[run_id] = run.id, run
        self.queue.enqueue(run_id, measures_time)
        return run_id

    async def cancel(self, run_id: str) -> None:
        """As the lab cancels a queued run: out of its queue here, or taken off Redis's queue."""
        if self.store is None:
            self.queue.remove(run_id)
        else:
            self.queue.remove(run_id)
            await self.store.cancel(self.runs[run_id])


def with_line(redis_url: str, body: Callable[[Line], Awaitable[Any]]) -> Any:
    async def go() -> Any:
        if not redis_url:
            admission: Admission[str] = Admission(2)
            admission.enqueue("timing", True)  # executing alone: nothing starts beside it
            assert admission.admit() == ["timing"]
            return await body(Line(admission))
        async with Redis.from_url(redis_url) as redis:
            store = RedisRunStore(redis, EXPERIMENTS, poll_s=3600)  # read only when asked (refresh)
            await store.open()
            try:
                return await body(Line(NodeQueue(store), store))
            finally:
                await store.close()

    return asyncio.run(go())


def test_runs_wait_in_the_order_they_were_queued_each_knowing_its_place(redis_url):
    async def body(line: Line) -> None:
        first, second, third = [await line.add() for _ in range(3)]
        for _ in range(2):  # as queued here, then as the queue's view reads it again
            assert list(line.queue.queue) == [first, second, third] and line.queue.queued == 3
            assert [line.queue.position(run_id) for run_id in (first, second, third)] == [1, 2, 3]
            assert line.queue.admit() == []
            assert first not in line.queue.executing
            await line.queue.refresh()

    with_line(redis_url, body)


def test_a_run_cancelled_while_waiting_leaves_the_line_and_those_behind_move_up(redis_url):
    async def body(line: Line) -> None:
        first, second, third = [await line.add() for _ in range(3)]
        await line.queue.refresh()
        await line.cancel(second)
        await line.queue.refresh()
        assert list(line.queue.queue) == [first, third] and line.queue.queued == 2
        assert [line.queue.position(run_id) for run_id in (first, second, third)] == [1, None, 2]

    with_line(redis_url, body)


def test_behind_a_line_every_run_of_a_request_would_wait(redis_url):
    async def body(line: Line) -> None:
        await line.add()
        await line.queue.refresh()
        assert line.queue.would_queue(3, False) == 3 and line.queue.would_queue(1, True) == 1

    with_line(redis_url, body)


def test_a_run_never_queued_has_no_place(redis_url):
    async def body(line: Line) -> None:
        await line.add()
        assert line.queue.position("0" * 12) is None

    with_line(redis_url, body)
