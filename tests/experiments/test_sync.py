"""sync.RLock in real threads: no Python on its uncontended path, its waits and sampled holds drawn."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from app.model.events import Event, StreamParser
from experiments.harness import sync
from experiments.harness.recorder import Recorder
from tests.lock_helpers import hold_while_another_waits, python_calls

NEVER_NS = 10**15  # a hold sample interval no test outlives: only the first hold is sampled


@pytest.fixture(params=["gil", "no gil"])
def paths(request, monkeypatch):
    """The RLock's drawing holds on both its paths: the C one for an interpreter with a GIL, and the
    plain methods for one without (a free-threaded build, where the C path is unsafe)."""
    if request.param == "no gil":
        monkeypatch.setattr(sync, "gil_enabled", lambda: False)
    return request.param


def recorded(tmp_path: Path, work: Callable[[Recorder], object]) -> list[Event]:
    """Run `work(rec)` with a Recorder writing to a file; return the events it recorded."""
    fd = os.open(tmp_path / "events", os.O_WRONLY | os.O_CREAT)  # a file: never blocks on a full pipe
    rec = Recorder(fd=fd, flush_interval_s=60)
    try:
        work(rec)
    finally:
        rec.close()
        os.close(fd)
    parser = StreamParser()
    return parser.feed((tmp_path / "events").read_bytes()) + parser.close()


def holds_and_waits(events: list[Event]) -> list[tuple[str, str]]:
    """(worker, name) of each span begun, and ("end", worker) for each end, in order."""
    return [
        (e.worker, e.name) if e.kind == "begin" else ("end", e.worker) for e in events if e.kind in ("begin", "end")
    ]


def free_for_another_thread(lock: AbstractContextManager[object]) -> bool:
    """Whether another thread can take the lock (and does, and lets it go) within 10 s."""

    def take():
        with lock:
            pass

    taker = threading.Thread(target=take, daemon=True)  # if it never gets the lock, it must not hold up the exit
    taker.start()
    taker.join(10)
    return not taker.is_alive()


def test_an_uncontended_rlock_runs_no_python_code_even_when_re_entered(monkeypatch):
    # A Python frame while the lock is held would let CPython switch threads there, and so make
    # the tutorial's RLock contended on every switch.
    monkeypatch.setattr(sync, "HOLD_SAMPLE_NS", NEVER_NS)
    rec = Recorder(fd=os.open(os.devnull, os.O_WRONLY), flush_interval_s=60)
    lock = sync.RLock(rec, "l")
    with lock:  # the first hold is sampled (drawn): the slow path
        pass
    entered = []

    def re_entered():
        with lock as first:
            with lock:
                entered.append(first)

    assert python_calls(re_entered) == []
    assert entered == [True]
    assert free_for_another_thread(lock)
    with pytest.raises(TypeError):
        iter(lock)


def test_the_first_hold_is_drawn_nested_by_depth_and_the_next_ones_are_sampled_away(tmp_path, monkeypatch, paths):
    monkeypatch.setattr(sync, "HOLD_SAMPLE_NS", NEVER_NS)

    def work(rec):
        lock = sync.RLock(rec, "l")
        for _ in range(3):
            with lock:
                with lock:
                    pass

    events = recorded(tmp_path, work)
    assert holds_and_waits(events) == [
        ("main", "l held, depth 1"),
        ("main", "l held, depth 2"),
        ("end", "main"),
        ("end", "main"),
    ]


def test_a_due_sample_inside_an_undrawn_hold_waits_for_the_next_outermost_hold(tmp_path, monkeypatch, paths):
    clock = [0]
    monkeypatch.setattr(sync, "now", lambda: clock[0])  # the lock's own clock, set by hand
    monkeypatch.setattr(sync, "HOLD_SAMPLE_NS", 1000)

    def work(rec):
        lock = sync.RLock(rec, "l")
        with lock:  # due at 0: drawn, the next one due at 1000
            pass
        clock[0] = 10
        with lock:  # not due: not drawn
            clock[0] = 2000
            with lock:  # due, but inside a hold that is not drawn: not drawn either
                pass
        clock[0] = 10_000
        with lock:  # due and outermost: drawn
            pass

    events = recorded(tmp_path, work)
    assert holds_and_waits(events) == [("main", "l held, depth 1"), ("end", "main")] * 2


def test_a_contended_rlock_draws_the_wait_then_the_hold_it_waited_for(tmp_path, monkeypatch, paths):
    monkeypatch.setattr(sync, "HOLD_SAMPLE_NS", NEVER_NS)

    def work(rec):
        lock = sync.RLock(rec, "l")
        with lock:  # the one sampled hold, out of the way
            pass

        def re_enter():
            with lock:
                pass

        hold_while_another_waits(lock, re_enter)

    events = recorded(tmp_path, work)
    assert [s for s in holds_and_waits(events) if "main" not in s] == [
        ("waiter", "RLock.acquire"),
        ("end", "waiter"),
        ("waiter", "l held, depth 1"),
        ("waiter", "l held, depth 2"),
        ("end", "waiter"),
        ("end", "waiter"),
    ]
    wait = next(e for e in events if e.kind == "begin" and e.name == "RLock.acquire")
    wait_end = next(e for e in events if e.kind == "end" and e.worker == "waiter")
    assert wait_end.ts_ns - wait.ts_ns >= 15_000_000


def test_an_exception_in_the_block_releases_the_rlock(monkeypatch, paths):
    monkeypatch.setattr(sync, "HOLD_SAMPLE_NS", NEVER_NS)
    rec = Recorder(fd=os.open(os.devnull, os.O_WRONLY), flush_interval_s=60)
    lock = sync.RLock(rec, "l")
    for _ in range(2):  # the sampled (slow) path, then the fast one
        with pytest.raises(ZeroDivisionError):
            with lock:
                with lock:
                    1 / 0  # noqa: B018 (raises inside the locks)
    assert free_for_another_thread(lock), "the lock was left held"


def test_without_a_gil_threads_taking_the_rlock_at_once_keep_every_update(monkeypatch):
    # The tutorial's counter, its lock taken by eight threads (on a free-threaded build the runs through the
    # real runner, tests/running/test_interpreters.py, are the proof; here the plain-method path's logic under contention).
    monkeypatch.setattr(sync, "gil_enabled", lambda: False)
    rec = Recorder(fd=os.open(os.devnull, os.O_WRONLY), flush_interval_s=60)
    lock = sync.RLock(rec, "l")
    counter = [0]

    def add(n):
        for _ in range(n):
            with lock:
                with lock:
                    counter[0] += 1

    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch as often as CPython can: a thread loses the GIL inside its holds
    try:
        threads = [threading.Thread(target=add, args=(5_000,)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(previous)
    assert counter[0] == 8 * 5_000
    assert free_for_another_thread(lock)


def test_held_count_reads_the_depth_from_the_repr_where_the_rlock_cannot_tell_it():
    real = threading.RLock()

    class OldRLock:  # what Python 3.9 and 3.10 offer: no _recursion_count()
        def __repr__(self):
            return repr(real)

    with real, real, real:
        assert sync.held_count(OldRLock()) == 3
        assert sync.held_count(real) == 3
