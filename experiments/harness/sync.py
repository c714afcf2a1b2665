"""Recorded threading primitives: the tutorial's calls, with their waits drawn by convention.

Every call that can block is drawn as a `wait` span named after the call (`Semaphore.acquire`,
`Queue.get`, `Condition.wait`, `Thread.join Task 1`, ...), open while it lasts (an RLock's
once it has lasted the recorder's LOCK_QUICK_S), so the server can tell what a lane is blocked on and a hang
shows as a wait that never ends. Holds
of an RLock or a Semaphore permit are `hold` spans. Condition notifies and wake-ups are
`notify`/`woken` instants (the server draws an arrow between them); queue depth and permits
in use are counter series.

Each wrapper offers the calls the experiments make, without timeouts: a call it does not
offer fails loudly instead of running undrawn. Stdlib only, Python 3.9+.
"""
from __future__ import annotations

import operator
import queue
import threading
from functools import partial
from itertools import repeat, starmap, tee
from typing import Any, Callable

from experiments.harness.recorder import LOCK_QUICK_S, Recorder, gil_enabled, now

HOLD_SAMPLE_NS = 1_000_000  # an RLock draws at most one uncontended hold per millisecond
MISSED = object()  # what an attempt returns when it could not get what it waited for


def wait_drawn(rec: Recorder, label: str, attempt: Callable[[bool], Any]) -> Any:
    """Run a blocking call as `attempt(block)` and draw its wait, if it had to wait, as `label`.

    `attempt(False)` tries without blocking and returns MISSED if it cannot; `attempt(True)`
    blocks until it succeeds. Either returns what the call returns. The wait is a single
    blocking call, so drawing it does not change the order in which the primitive wakes its
    waiters (a Semaphore or a Queue wakes the longest waiting first).
    """
    got = attempt(False)
    if got is MISSED:
        with rec.activity(label, "wait"):
            got = attempt(True)
    return got


def join(rec: Recorder, *threads: threading.Thread) -> None:
    """thread.join() for each thread, each wait drawn as `Thread.join <name>`."""
    for thread in threads:
        with rec.activity(f"Thread.join {thread.name}", "wait"):
            thread.join()


class Condition(threading.Condition):
    """threading.Condition that draws `Condition.wait` spans and the notify → woken arrows.

    wait_for() and notify_all() go through wait() and notify(), so they are drawn too. The
    wait span includes taking the lock back after the notify: the waiter is blocked until then.
    """

    def __init__(self, rec: Recorder, lock: Any = None):
        super().__init__(lock)
        self._rec = rec

    def wait(self, timeout: float | None = None) -> bool:
        with self._rec.activity("Condition.wait", "wait"):
            woken = super().wait(timeout)
        if woken:
            self._rec.instant("woken", "woken")
        return woken

    def notify(self, n: int = 1) -> None:
        self._rec.instant("notify", "notify")
        super().notify(n)


def RLock(rec: Recorder, name: str = "lock") -> Any:
    """A threading.RLock for `with lock:` whose holds are drawn nested by depth.

    Like Recorder.Lock (read its docstring), an uncontended `with lock:` runs no Python, not even
    when the thread re-enters a lock it holds: CPython >= 3.10 switches threads at Python calls,
    and a Python `__enter__` would be a switch point with the lock held. An RLock has no locked()
    to look at (and "free or mine" is what decides whether acquiring blocks), so here the look-up
    of `__enter__` itself tries the lock: it is a property whose getter, all C, runs
    `acquire(False)` (which always succeeds for the owner) and checks the clock for a due sample.
    If it got the lock and no hold is due to be drawn, `__enter__` is a C no-op and `__exit__` the
    lock's C `__exit__`; otherwise both are the Python slow path below. The one decision is shared
    by the two look-ups through a tee (whichever runs first computes it), so they always pair up;
    no bytecode runs between the look-ups and the call, so no other thread can come in between.
    The catch: a bare look-up of `lock.__enter__` or `lock.__exit__` (hasattr, getattr, inspect.getmembers)
    takes the lock, and pairs the next `with` wrongly: use only `with lock:`.
    Measured (thread_time per uncontended `with`, Python 3.11 here): 1.19 us, was 1.74 us with a
    Python `__enter__` (a plain threading.RLock: 0.56 us).

    The tutorial takes it millions of times: drawing each hold would cost more than the work and
    show nothing (a microsecond each). So a wait for the lock is drawn as `RLock.acquire` only if
    it lasted MIN_WAIT_NS, and an outermost hold is drawn when it followed such a wait, or else at
    most once per HOLD_SAMPLE_NS; the re-entrant holds inside a drawn hold are drawn with it, one
    level deeper. While a hold is drawn every `with` takes the slow path (the other threads' would
    wait anyway). The drawing state is closure variables, changed only by the thread holding the lock.

    Without a GIL (a free-threaded build) the C path is unsafe: two threads advancing the shared
    tee at once can each be handed the other's decision (measured on 3.13t: lost updates, and once
    a crash). Nor is it needed there: threads run side by side, no holder waits to be switched
    back in. So there `__enter__` and `__exit__` are plain methods that decide for their own thread.
    """
    real = threading.RLock()
    acquire, release = real.acquire, real.release
    held = f"{name} held, depth "
    next_hold = [0]  # when an uncontended hold is due to be drawn; 0 while one is drawn
    depth = 0  # the depth of the drawn hold, 0 if none is drawn
    taken = 0  # when the drawn hold began

    def draw_hold(at: int) -> None:
        nonlocal depth, taken
        depth, taken = 1, at
        next_hold[0] = 0  # so every `with` comes to the slow path until the drawn hold ends
        rec.begin(held + "1", "hold")

    def slow_enter() -> bool:
        nonlocal depth
        # The look-up could not take it: another thread holds it. (_is_owned: the C RLock's own, not in typeshed.)
        if not real._is_owned():  # type: ignore[attr-defined]
            waited = rec.contended(acquire, "RLock.acquire", LOCK_QUICK_S)
            now_ns = now()
            if waited or now_ns >= next_hold[0]:
                draw_hold(now_ns)
        elif depth:  # re-entering a drawn hold: drawn too, one level deeper
            depth += 1
            rec.begin(held + str(depth), "hold")
        elif held_count(real) == 1:  # an outermost hold, due to be drawn (not one inside an undrawn hold)
            draw_hold(now())
        return True

    def slow_exit(*exc: Any) -> None:
        nonlocal depth
        if depth:
            rec.end()  # before the release: the hold is over before anyone else can take it
            depth -= 1
            if not depth:
                next_hold[0] = taken + HOLD_SAMPLE_NS
        release()

    if not gil_enabled():
        def enter(lock: Any) -> bool:
            # Got it, nothing drawn now and no outermost hold due: nothing to draw.
            if acquire(False) and not depth and (held_count(real) > 1 or now() < next_hold[0]):
                return True
            return slow_enter()

        def exit_(lock: Any, *exc: Any) -> None:
            slow_exit(*exc)

        return type("RecordedRLock", (), {
            "__slots__": (), "__enter__": enter, "__exit__": exit_,
            "__repr__": lambda self: f"<recorded RLock {name}>",
        })()

    due = map(operator.ge, starmap(now, repeat(())), map(next_hold.__getitem__, repeat(0)))
    fast = map(operator.gt, starmap(acquire, repeat((False,))), due)  # got it, and no hold due
    for_enter, for_exit = tee(fast)
    exits = map((slow_exit, real.__exit__).__getitem__, for_exit)
    cls = type("RecordedRLock", (map,), {
        "__slots__": (),
        "__enter__": property(next),  # next(lock): the map below, in C
        "__exit__": property(partial(next, exits)),  # next(exits, lock): in C too
        "__iter__": None,  # a lock, not something to loop over
        "__repr__": lambda self: f"<recorded RLock {name}>",
    })
    return cls((slow_enter, repeat(True).__next__).__getitem__, for_enter)


def held_count(real: Any) -> int:
    """How many times the calling thread, which holds the C RLock `real`, holds it."""
    try:
        count: int = real._recursion_count()  # Python 3.11+
        return count
    except AttributeError:  # 3.9, 3.10: "<locked _thread.RLock object owner=... count=N at ...>"
        return int(repr(real).split(" count=")[1].split()[0])


class Semaphore:
    """threading.Semaphore for `with semaphore:`: waits drawn, each held permit a `hold` span,
    and the permits in use a counter series.

    `max_in_use` is the most permits held at once during the run, counted by the wrapper
    itself: a permit counts from when acquire() returned until release() is called.
    `acquired_by` names the thread of each acquisition, in the order they got their permits.
    """

    def __init__(self, rec: Recorder, value: int = 1):
        self._rec = rec
        self._semaphore = threading.Semaphore(value)
        self._count_lock = threading.Lock()  # so the series is in the order the counts changed
        self.in_use = 0
        self.max_in_use = 0
        self.acquired_by: list[str] = []

    def _attempt(self, block: bool) -> Any:
        return self._semaphore.acquire(block) or MISSED

    def _count(self, change: int) -> None:
        with self._count_lock:
            self.in_use += change
            self.max_in_use = max(self.max_in_use, self.in_use)
            self._rec.counter("permits in use", self.in_use)
            if change > 0:
                self.acquired_by.append(threading.current_thread().name)

    def __enter__(self) -> bool:
        wait_drawn(self._rec, "Semaphore.acquire", self._attempt)
        self._count(+1)
        self._rec.begin("permit held", "hold")
        return True

    def __exit__(self, *exc: Any) -> None:
        self._rec.end()
        self._count(-1)  # before the real release, so the count never runs ahead of the permits
        self._semaphore.release()


class Queue(queue.Queue):
    """queue.Queue with blocking get/put drawn, the depth as a series, task_done and join drawn."""

    def __init__(self, rec: Recorder, maxsize: int = 0):
        super().__init__(maxsize)
        self._rec = rec

    # _put and _get run under the queue's own lock: the depth series is in the true order.
    def _put(self, item: Any) -> None:
        super()._put(item)
        self._rec.counter("queue depth", len(self.queue))

    def _get(self) -> Any:
        item = super()._get()
        self._rec.counter("queue depth", len(self.queue))
        return item

    # get and put take no block/timeout: only the blocking calls the tutorials make are drawn (hence the ignores).
    def get(self) -> Any:  # type: ignore[override]
        def attempt(block: bool) -> Any:
            try:
                return super(Queue, self).get(block)
            except queue.Empty:
                return MISSED

        return wait_drawn(self._rec, "Queue.get", attempt)

    def put(self, item: Any) -> None:  # type: ignore[override]
        def attempt(block: bool) -> Any:
            try:
                super(Queue, self).put(item, block)
            except queue.Full:
                return MISSED
            return None

        wait_drawn(self._rec, "Queue.put", attempt)

    def task_done(self) -> None:
        self._rec.instant("task_done", "mark")
        super().task_done()

    def join(self) -> None:
        with self._rec.activity("Queue.join", "wait"):
            super().join()
