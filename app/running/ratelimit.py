"""A sliding-window rate limiter: at most `limit` events per key in any `window_s` seconds. Pure.

The clock is passed in (monotonic seconds), so tests move time by hand. Each key keeps the
times of its last `limit` events at most; keys whose events all left the window are dropped,
so memory follows the clients active in the last window, not every client ever seen.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Protocol

SWEEP_EVERY = 1024  # calls between drops of idle keys
ADMIN_GUESSES_PER_MINUTE = 10  # wrong admin tokens an address may present in a minute (app/web/auth.py)


class SlidingWindow:
    def __init__(self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self._events: dict[Hashable, deque[float]] = {}
        self._calls = 0

    def _recent(self, key: Hashable, now: float) -> deque[float]:
        events = self._events.get(key)
        if events is None:
            return deque()
        while events and events[0] <= now - self.window_s:
            events.popleft()
        return events

    def retry_after(self, key: Hashable) -> float:
        """Seconds until `key` may have one more event: 0 if it may now."""
        now = self.clock()
        events = self._recent(key, now)
        if len(events) < self.limit:
            return 0.0
        return events[-self.limit] + self.window_s - now  # when the oldest counted event leaves

    def record(self, key: Hashable) -> None:
        now = self.clock()
        self._calls += 1
        if self._calls % SWEEP_EVERY == 0:
            self._sweep(now)
        events = self._events.setdefault(key, deque())
        events.append(now)
        while len(events) > self.limit:
            events.popleft()

    def _sweep(self, now: float) -> None:
        for key in [k for k, events in self._events.items() if not events or events[-1] <= now - self.window_s]:
            del self._events[key]

    @property
    def keys(self) -> int:
        return len(self._events)


def whole_seconds(seconds: float) -> int:
    """A Retry-After value: whole seconds, at least 1."""
    return max(1, math.ceil(seconds))


class Guesses(Protocol):
    """Wrong admin tokens per address in the last minute, wherever they are kept: in this process
    (MemoryGuesses), or in Redis, shared by a distributed lab's replicas (app/running/redis_rates.py)."""

    async def retry_after(self, address: str) -> float:
        """Seconds until `address` may present a token again: 0 if it may now."""
        ...

    async def record(self, address: str) -> None:
        """Count a wrong token from `address`."""
        ...


class MemoryGuesses:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.window = SlidingWindow(ADMIN_GUESSES_PER_MINUTE, 60.0, clock)

    async def retry_after(self, address: str) -> float:
        return self.window.retry_after(address)

    async def record(self, address: str) -> None:
        self.window.record(address)
