"""Is a run hung? Every live worker blocked in a wait, read off the timeline. Pure.

By the recorder's convention every blocking call is drawn as an open span of category `wait`
named after the call (`Lock.acquire a`, `Condition.wait`, `Pipe.recv`, `Thread.join`). A lane
with an open span is a live worker; if the innermost open span of every live lane is such a
wait, nobody is left to wake anybody (unless something outside the run would, which the lab's
experiments never rely on). Sleeping or running lanes are progress: a run with one of them is
not hung. The supervisor adds the other half of the evidence: no new events for a while.

A run is also doomed, whatever its other workers do, once a `multiprocessing.Pool` has lost a task: its
worker's process was killed in the middle of it (the timeline's `deaths`). The pool starts a new worker but
never runs that task again, so whoever waits for its result (`map`, `AsyncResult.get()`) waits forever.
`concurrent.futures.ProcessPoolExecutor` is not such a pool: it raises BrokenProcessPool, and the run fails
by itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.model.timeline import Death, Lane, Timeline

if TYPE_CHECKING:
    from app.model.documents import BlockedJson

BLOCKED = "wait"
# multiprocessing names its Pool's workers so, by start method; a ProcessPoolExecutor's are "ForkProcess-1".
POOL_WORKER = re.compile(r"(?:Fork|Spawn|ForkServer)?PoolWorker-\d+")


@dataclass(frozen=True, slots=True)
class Blocked:
    worker: str  # the lane's label
    waiting_on: str  # the innermost open wait span's name: the blocking call
    since_ms: float  # when that wait began, from the start of the run

    def to_json(self) -> BlockedJson:
        return {"worker": self.worker, "waiting_on": self.waiting_on}


def blocked_workers(timeline: Timeline) -> list[Blocked]:
    """Each live lane and what it waits on, if all of them are blocked; else (or if none is live) []."""
    live = [lane for lane in timeline.lanes if lane.stack]
    if not live or any(lane.stack[-1][1] != BLOCKED for lane in live):
        return []
    t0 = timeline.t0_ns or 0
    blocked = []
    for lane in live:
        name, _, start = lane.stack[-1]
        blocked.append(Blocked(lane.worker, name, round((start - t0) / 1e6, 3)))
    return blocked


def _pool_worker(lane: Lane | None) -> bool:
    # The process's name, or the lane's label (a recorder that did not send the name labels it after it).
    return lane is not None and POOL_WORKER.match(lane.process or lane.worker) is not None


def lost_tasks(timeline: Timeline) -> list[Death]:
    """The tasks a multiprocessing.Pool lost: each killed with its worker's process (see the module's docstring)."""
    return [death for death in timeline.deaths if _pool_worker(timeline.by_worker.get(death.worker))]


def lost_words(lost: list[Death]) -> str:
    """Why a run that lost a pool's task was ended, in words: the task named by who ran it and how it died."""
    tasks = "; ".join(death.words() for death in lost)
    return (
        f"{tasks}: a multiprocessing.Pool never runs a lost task again, so the run could never end "
        "(a ProcessPoolExecutor would have raised BrokenProcessPool)"
    )
