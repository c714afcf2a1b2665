"""The Execution seam when runner nodes execute the runs (a distributed lab, docs/distributed.md): a web replica
executes none. The nodes take the runs from Redis's queue (app/running/node.py); a replica asks Redis to
cancel one, says where each queued run stands from the queue's view, and reaps the runs of nodes that died."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from app.model.runs import Place, Run, in_line, ordinal
from app.storage.redis_connection import ERRORS
from app.storage.redis_reaper import reap_for_replica
from app.storage.redis_store import RedisRunStore

log = logging.getLogger(__name__)


class ExecuteOnNodes:
    def __init__(self, store: RedisRunStore, node_ttl_s: float, name: str):
        self.store = store
        self.node_ttl_s = node_ttl_s  # a node whose heartbeat is this old is dead
        self.name = name  # this replica's, as a reaper

    def ready(self) -> None:
        return None  # each node keeps its own runner ready

    async def execute(self, run: Run) -> None:
        """A node executes it: until its end is heard (its mirror follows its stream), looked at as the
        queue's view is read. The nodes' queue admits none here (app/running/node_queue.py)."""
        while not run.finished:
            await self.store.next_poll()

    async def stop(self, run: Run, withdraw: Callable[[Run], None]) -> None:
        await self.store.cancel(run)  # off Redis's queue if no node took it yet, else its node stops it

    def executing_together(self, runs: Sequence[Run]) -> None:
        return None  # a node runs one run at a time: nothing beside it

    def place(self, position: int, executing: int) -> Place:
        if self.store.in_flight.nodes == 0:
            return Place(position, f"{ordinal(position)} in line, and no runner node is up: it starts once one is")
        return Place(position, in_line(position, executing))

    async def moved(self) -> None:
        await self.store.next_poll()  # runs queued by other replicas, or taken by a node, show there

    async def serve(self) -> None:
        """The runs of nodes whose heartbeat expired end `interrupted` (every replica looks; one wins each)."""
        while True:
            await asyncio.sleep(self.node_ttl_s / 3)
            try:
                await reap_for_replica(self.store.redis, self.node_ttl_s, self.name)
            except ERRORS:
                log.warning("Redis unreachable: dead nodes are not reaped now", exc_info=True)

    async def close(self) -> None:
        return None  # the nodes' runners are theirs
