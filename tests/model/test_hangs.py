"""Is a run hung? Every live worker blocked in a wait, read off the timeline: the predicate, pure.

tests/running/test_hangs_runs.py runs real deadlocks and sleeps through the API.
"""

from __future__ import annotations

import pytest

from app.model.events import Event
from app.model.hangs import Blocked, blocked_workers
from app.model.timeline import Timeline

MS = 1_000_000
T0 = 5_000 * MS  # a monotonic clock's reading when the run began: "since" counts from there


def timeline_of(*events: tuple) -> Timeline:
    timeline = Timeline()
    for kind, ms, worker, *rest in events:
        timeline.apply(Event(kind, T0 + int(ms * MS), worker, *rest))
    return timeline


def test_every_live_lane_blocked_in_a_wait_is_a_hang_naming_what_each_waits_on():
    timeline = timeline_of(
        ("begin", 0, "main", "Thread.join", "wait"),
        ("begin", 1, "Speaker", "hold condition", "hold"),
        ("begin", 2, "Speaker", "Condition.wait", "wait"),
        ("begin", 3.0004, "Listener", "Condition.wait", "wait"),
        ("begin", 4, "finished", "work", "run"),
        ("end", 5, "finished"),
    )
    blocked = blocked_workers(timeline)
    assert [(b.worker, b.waiting_on, b.since_ms) for b in blocked] == [
        ("main", "Thread.join", 0),
        ("Speaker", "Condition.wait", 2),
        ("Listener", "Condition.wait", 3),  # to the µs
    ]
    assert blocked[1].to_json() == {"worker": "Speaker", "waiting_on": "Condition.wait"}  # what the API says


@pytest.mark.parametrize("category", ["sleep", "run", "cpu", "hold", "io"])
def test_a_lane_sleeping_or_working_is_progress_not_a_hang(category):
    timeline = timeline_of(
        ("begin", 0, "main", "Thread.join", "wait"),
        ("begin", 1, "worker", "something", category),
    )
    assert blocked_workers(timeline) == []


def test_a_wait_that_returned_is_not_blocking_any_more():
    timeline = timeline_of(
        ("begin", 0, "worker", "hold a", "hold"),
        ("begin", 1, "worker", "Lock.acquire b", "wait"),
        ("end", 2, "worker"),
    )
    assert blocked_workers(timeline) == []


def test_no_live_lane_is_no_hang():
    assert blocked_workers(timeline_of(("begin", 0, "main", "x", "run"), ("end", 1, "main"))) == []
    assert blocked_workers(Timeline()) == []


def test_since_when_is_in_ms_from_the_runs_start_to_the_µs_however_late_the_wait_began():
    timeline = timeline_of(
        ("begin", 0, "main", "run()", "run"), ("end", 1, "main"), ("begin", 1500.2504, "consumer", "Queue.get", "wait")
    )
    assert blocked_workers(timeline) == [Blocked("consumer", "Queue.get", 1500.25)]


def pool_timeline(process: str, label: str) -> Timeline:
    """A pool worker (process `process`, lane `label`) killed in the middle of a task, another still working."""
    return timeline_of(
        ("begin", 0, "main", "Pool.map", "wait"),
        ("lane", 0, label, "", "", {"pid": 41, "tid": 41, "thread": "MainThread", "process": process}),
        ("begin", 1, label, "task sleeps 20.0", "sleep"),
        ("lane", 1, "other", "", "", {"pid": 42, "tid": 42, "thread": "MainThread", "process": "ForkPoolWorker-2"}),
        ("begin", 2, "other", "task sleeps 1.0", "sleep"),
        ("exit", 3, "", "", "", {"pid": 41, "signal": 9, "status": -9, "known": True}),
    )


@pytest.mark.parametrize(
    "process, label",
    [
        ("ForkPoolWorker-1", "ForkPoolWorker-1"),
        ("SpawnPoolWorker-3", "w"),
        ("ForkServerPoolWorker-1", "w"),
        ("", "ForkPoolWorker-1"),
    ],
)
def test_a_pool_worker_killed_mid_task_is_a_lost_task_named_by_worker_pid_signal_and_task(process, label):
    from app.model.hangs import lost_tasks, lost_words

    timeline = pool_timeline(process, label)
    assert blocked_workers(timeline) == []  # another worker still works: not a hang by the waits alone
    lost = lost_tasks(timeline)
    assert [(d.worker, d.pid, d.how, d.during) for d in lost] == [
        (label, 41, "was killed by SIGKILL", "task sleeps 20.0")
    ]
    assert lost_words(lost).startswith(f"{label} (pid 41) was killed by SIGKILL during task sleeps 20.0: ")


@pytest.mark.parametrize("process, label", [("ForkProcess-1", "ForkProcess-1"), ("MainProcess", "pid 41")])
def test_a_process_pool_executor_or_a_plain_process_killed_mid_task_is_no_lost_task(process, label):
    from app.model.hangs import lost_tasks

    timeline = pool_timeline(process, label)
    assert timeline.deaths and lost_tasks(timeline) == []  # its death is known; the pool raises (or nobody waits)


def test_a_run_that_lost_two_pool_tasks_is_ended_with_both_named_and_why_it_could_never_end() -> None:
    from app.model.hangs import lost_tasks, lost_words

    timeline = timeline_of(
        ("begin", 0, "main", "Pool.map", "wait"),
        ("lane", 0, "w1", "", "", {"pid": 41, "tid": 41, "thread": "MainThread", "process": "ForkPoolWorker-1"}),
        ("begin", 1, "w1", "task sleeps 20.0", "sleep"),
        ("lane", 1, "w2", "", "", {"pid": 42, "tid": 42, "thread": "MainThread", "process": "ForkPoolWorker-2"}),
        ("begin", 2, "w2", "task sleeps 1.0", "sleep"),
        ("exit", 3, "", "", "", {"pid": 41, "signal": 9, "status": -9, "known": True}),
        ("exit", 4, "", "", "", {"pid": 42, "signal": 15, "status": -15, "known": True}),
    )
    assert lost_words(lost_tasks(timeline)) == (
        "w1 (pid 41) was killed by SIGKILL during task sleeps 20.0; w2 (pid 42) was killed by SIGTERM during task "
        "sleeps 1.0: a multiprocessing.Pool never runs a lost task again, so the run could never end "
        "(a ProcessPoolExecutor would have raised BrokenProcessPool)"
    )
