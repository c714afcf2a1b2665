"""Admission control: which queued runs may start now. Pure: no I/O, no clock, no asyncio.

One FIFO queue. A run that measures time executes alone (nothing else beside it, so its
timings mean something); any other run executes beside at most `max_concurrent - 1` others
that do not measure time. The queue is strict FIFO: its head is never overtaken, so a run
behind a waiting timing run waits too, and a queued run's position (1-based) is well defined.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)


@dataclass
class Admission(Generic[Key]):
    max_concurrent: int
    queue: deque[Key] = field(default_factory=deque)
    executing: dict[Key, bool] = field(default_factory=dict)  # key → measures time
    _alone: dict[Key, bool] = field(default_factory=dict)  # queued key → measures time

    def enqueue(self, key: Key, measures_time: bool) -> None:
        self.queue.append(key)
        self._alone[key] = measures_time

    async def refresh(self) -> None:
        """Nothing to read: only this process changes it."""
        return None

    def remove(self, key: Key) -> None:
        """Take a queued run out of the queue (it was cancelled before it started)."""
        if key in self._alone:
            self.queue.remove(key)
            del self._alone[key]

    def finish(self, key: Key) -> None:
        self.executing.pop(key, None)

    def _fits(self, measures_time: bool) -> bool:
        if not self.executing:
            return True
        if measures_time or any(self.executing.values()):
            return False
        return len(self.executing) < self.max_concurrent

    def would_wait(self, measures_time: bool) -> bool:
        """A run enqueued now could not start at once."""
        return bool(self.queue) or not self._fits(measures_time)

    def would_queue(self, runs: int, measures_time: bool) -> int:
        """How many of `runs` runs enqueued now (a sweep's points, in a row) could not start at once."""
        # A copy that also takes keys of its own (fresh objects, so none is mistaken for a run's).
        trial: Admission[Hashable] = Admission(
            self.max_concurrent, deque(self.queue), dict(self.executing.items()), dict(self._alone.items())
        )
        keys = [object() for _ in range(runs)]
        for key in keys:
            trial.enqueue(key, measures_time)
        trial.admit()
        return sum(1 for key in keys if key in trial._alone)

    def admit(self) -> list[Key]:
        """Move every run that may start now (from the head, in order) from queued to executing."""
        started: list[Key] = []
        while self.queue and self._fits(self._alone[self.queue[0]]):
            key = self.queue.popleft()
            self.executing[key] = self._alone.pop(key)
            started.append(key)
        return started

    def position(self, key: Key) -> int | None:
        """1-based place in the queue, or None when not queued."""
        if key not in self._alone:
            return None
        return self.queue.index(key) + 1

    @property
    def queued(self) -> int:
        return len(self.queue)
