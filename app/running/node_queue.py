"""The Queue seam when runner nodes execute the runs (distributed mode, docs/distributed.md).

The nodes admit runs themselves, one each, FIFO, from the Redis stream `lab:runs`; a web replica only
says where each run stands. It does so from the queue's view as the Redis run store last read it
(app/storage/redis_store.py, every POLL_S), plus the runs this replica queued since that read, at the end
of the line, so a run is counted against its client's limit from the moment it is queued.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from app.model.status import Status
from app.storage.redis_store import RedisRunStore


class NodeQueue:
    def __init__(self, store: RedisRunStore):
        self.store = store
        self._mine: dict[str, bool] = {}  # queued here, maybe not in the last read yet: whether it measures time

    @property
    def queue(self) -> Sequence[str]:
        view = self.store.in_flight
        seen = {*(job.run for job in view.queued), *(job.run for job, _ in view.executing)}
        listed = [job.run for job in view.queued if self._still(job.run, Status.QUEUED)]
        return listed + [run_id for run_id in self._mine if run_id not in seen and self._still(run_id, Status.QUEUED)]

    @property
    def executing(self) -> Mapping[str, bool]:
        return {
            job.run: job.measures_time
            for job, _ in self.store.in_flight.executing
            if self._still(job.run, Status.QUEUED, Status.RUNNING)
        }

    def _still(self, run_id: str, *statuses: Status) -> bool:
        """Whether the run is, as far as its mirror knows, in one of `statuses`: the view is read every POLL_S,
        the mirror follows the run's stream as it grows, so a run that ended since the last read has left."""
        run = self.store.get(run_id)
        return run is not None and run.status in statuses

    @property
    def queued(self) -> int:
        return len(self.queue)

    def enqueue(self, key: str, measures_time: bool) -> None:
        self._mine[key] = measures_time

    def remove(self, key: str) -> None:
        self._mine.pop(key, None)

    def admit(self) -> list[str]:
        return []  # the nodes admit, each taking the head of the line when it is free

    def finish(self, key: str) -> None:
        return None

    def position(self, key: str) -> int | None:
        queue = self.queue
        return queue.index(key) + 1 if key in queue else None

    async def refresh(self) -> None:
        await self.store.refresh()
        self._mine = {run_id: alone for run_id, alone in self._mine.items() if self._still(run_id, Status.QUEUED)}

    def would_queue(self, runs: int, measures_time: bool) -> int:
        """Every run waits behind a line; else as many as there are no idle nodes for (one run each)."""
        return runs if self.queued else max(0, runs - self.store.in_flight.idle_nodes)
