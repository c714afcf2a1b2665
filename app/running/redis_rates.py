"""The fair-use rate windows kept in Redis (issue 15): every web replica counts a client's runs in the same
place, so its per-minute limits hold whichever replica answers. The `Rates` of app/running/limits.py.

One Lua script checks both windows and counts the request in both: Redis runs a script alone, so requests
racing on several replicas for a client's last run cannot all have it, and a refused request counts in
neither. The times are Redis's own (TIME, inside the script), so the replicas' clocks do not matter.
Each window is a sorted set (app/storage/redis_formats.py `rate_key`) trimmed as the script reads it, to the
last minute and to its limit's count of members, and it expires a window after its last request. The
scripts and their keys are app/storage/redis_windows.py's.
"""

from __future__ import annotations

import math

from app.running.limits import MINUTE_S, WINDOWS, Client, Refusal
from app.running.ratelimit import ADMIN_GUESSES_PER_MINUTE
from app.settings import Settings
from app.storage.redis_connection import Redis
from app.storage.redis_windows import RateWindows


class RedisRates:
    def __init__(self, redis: Redis, settings: Settings, window_s: float = MINUTE_S):
        self.settings = settings
        self.window_ms = max(1, math.ceil(window_s * 1000))
        self._windows = RateWindows(redis)

    async def take(self, client: Client, check: bool = True, kinds: tuple[str, ...] = ()) -> Refusal | None:
        windows = [window for window in WINDOWS if not kinds or window.kind in kinds]
        limits = [window.limit(self.settings) for window in windows]
        reply = await self._windows.take(
            [(window.kind, window.key(client)) for window in windows], self.window_ms, limits, check
        )
        refused, wait_us = refusal_of(reply, len(windows))
        return windows[refused - 1].refusal(self.settings, wait_us / 1e6) if refused else None


def refusal_of(reply: object, windows: int) -> tuple[int, int]:
    """The script's reply, checked: (0, 0) if counted, else (the refusing window's number from 1, its wait in µs)."""
    if (
        isinstance(reply, list)
        and len(reply) == 2
        and all(isinstance(x, int) for x in reply)
        and 0 <= reply[0] <= windows
        and reply[1] >= 0
    ):
        return reply[0], reply[1]
    raise TypeError(f"the rate script answered {reply!r}, not [window, wait in µs]")


class RedisGuesses:
    """The admin token's guess limit shared by every web replica: two replicas allow no more guesses than one."""

    def __init__(self, redis: Redis, window_s: float = MINUTE_S, limit: int = ADMIN_GUESSES_PER_MINUTE):
        self.window_ms = max(1, math.ceil(window_s * 1000))
        self.limit = limit
        self._windows = RateWindows(redis)

    async def retry_after(self, address: str) -> float:
        wait_us = await self._windows.guess_wait(address, self.window_ms, self.limit)
        return int(wait_us) / 1e6 if isinstance(wait_us, int) else 0.0

    async def record(self, address: str) -> None:
        await self._windows.count_guess(address, self.window_ms, self.limit)
