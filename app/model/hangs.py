"""Is a run hung? Every live worker blocked in a wait, read off the timeline. Pure.

By the recorder's convention every blocking call is drawn as an open span of category `wait`
named after the call (`Lock.acquire a`, `Condition.wait`, `Pipe.recv`, `Thread.join`). A lane
with an open span is a live worker; if the innermost open span of every live lane is such a
wait, nobody is left to wake anybody (unless something outside the run would, which the lab's
experiments never rely on). Sleeping or running lanes are progress: a run with one of them is
not hung. The supervisor adds the other half of the evidence: no new events for a while.
"""
from __future__ import annotations

from dataclasses import dataclass

from app.model.timeline import Timeline

BLOCKED = "wait"


@dataclass(frozen=True, slots=True)
class Blocked:
    worker: str  # the lane's label
    waiting_on: str  # the innermost open wait span's name: the blocking call
    since_ms: float  # when that wait began, from the start of the run

    def to_json(self) -> dict[str, str]:
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
