"""Admission control: which queued runs may start now. Pure: no I/O, no clock, no asyncio.

One FIFO queue. A run that measures time executes alone (nothing else beside it, so its
timings mean something); any other run executes beside at most `max_concurrent - 1` others
that do not measure time. The queue is strict FIFO: its head is never overtaken, so a run
behind a waiting timing run waits too, and a queued run's position (1-based) is well defined.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Hashable


@dataclass
class Admission:
    max_concurrent: int
    queue: deque[Hashable] = field(default_factory=deque)
    executing: dict[Hashable, bool] = field(default_factory=dict)  # key → measures time
    _alone: dict[Hashable, bool] = field(default_factory=dict)  # queued key → measures time

    def enqueue(self, key: Hashable, measures_time: bool) -> None:
        self.queue.append(key)
        self._alone[key] = measures_time

    def remove(self, key: Hashable) -> None:
        """Take a queued run out of the queue (it was cancelled before it started)."""
        if key in self._alone:
            self.queue.remove(key)
            del self._alone[key]

    def finish(self, key: Hashable) -> None:
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
        trial = Admission(self.max_concurrent, deque(self.queue), dict(self.executing), dict(self._alone))
        keys = [object() for _ in range(runs)]
        for key in keys:
            trial.enqueue(key, measures_time)
        trial.admit()
        return sum(1 for key in keys if key in trial._alone)

    def admit(self) -> list[Hashable]:
        """Move every run that may start now (from the head, in order) from queued to executing."""
        started = []
        while self.queue and self._fits(self._alone[self.queue[0]]):
            key = self.queue.popleft()
            self.executing[key] = self._alone.pop(key)
            started.append(key)
        return started

    def position(self, key: Hashable) -> int | None:
        """1-based place in the queue, or None when not queued."""
        if key not in self._alone:
            return None
        return self.queue.index(key) + 1

    @property
    def queued(self) -> int:
        return len(self.queue)
