"""The fair-use rate windows kept in Redis (issue 15): every web replica counts a client's runs in the same
place, so its per-minute limits hold whichever replica answers. The `Rates` of app/running/limits.py.

One Lua script checks both windows and counts the request in both: Redis runs a script alone, so requests
racing on several replicas for a client's last run cannot all have it, and a refused request counts in
neither. The times are Redis's own (TIME, inside the script), so the replicas' clocks do not matter.
Each window is a sorted set (app/storage/redis_formats.py `rate_key`) trimmed as the script reads it, to the
last minute and to its limit's count of members, and it expires a window after its last request.
"""
from __future__ import annotations

import math
import secrets

from redis.asyncio import Redis

from app.running.limits import MINUTE_S, WINDOWS, Client, Refusal
from app.running.ratelimit import ADMIN_GUESSES_PER_MINUTE
from app.settings import Settings
from app.storage.redis_formats import rate_key

# KEYS: the windows' sorted sets, in WINDOWS' order. ARGV: the window in ms, each window's limit (in KEYS'
# order), whether to check (1) or only count (0), a random token. Returns {0, 0} when counted, else
# {the 1-based number of the window that refuses, microseconds until its oldest counted request leaves}.
TAKE = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local window_ms = tonumber(ARGV[1])
local window = window_ms * 1000
local n = #KEYS
for i = 1, n do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
end
if ARGV[n + 2] == '1' then
  for i = 1, n do
    local limit = tonumber(ARGV[i + 1])
    if redis.call('ZCARD', KEYS[i]) >= limit then
      local oldest = redis.call('ZRANGE', KEYS[i], -limit, -limit, 'WITHSCORES')  -- the limit-th newest
      return {i, tonumber(oldest[2]) + window - now}
    end
  end
end
local member = time[1] .. '.' .. time[2] .. ':' .. ARGV[n + 3]
for i = 1, n do
  local limit = tonumber(ARGV[i + 1])
  redis.call('ZADD', KEYS[i], now, member)
  redis.call('ZREMRANGEBYRANK', KEYS[i], 0, -(limit + 1))
  redis.call('PEXPIRE', KEYS[i], window_ms)
end
return {0, 0}
"""


class RedisRates:
    def __init__(self, redis: Redis, settings: Settings, window_s: float = MINUTE_S):
        self.settings = settings
        self.window_ms = max(1, math.ceil(window_s * 1000))
        self._take = redis.register_script(TAKE)

    async def take(self, client: Client, check: bool = True, kinds: tuple[str, ...] = ()) -> Refusal | None:
        windows = [window for window in WINDOWS if not kinds or window.kind in kinds]
        keys = [rate_key(window.kind, window.key(client)) for window in windows]
        limits = [window.limit(self.settings) for window in windows]
        args: list[int | str] = [self.window_ms, *limits, int(check), secrets.token_hex(8)]
        refused, wait_us = refusal_of(await self._take(keys=keys, args=args), len(windows))
        return windows[refused - 1].refusal(self.settings, wait_us / 1e6) if refused else None


def refusal_of(reply: object, windows: int) -> tuple[int, int]:
    """The script's reply, checked: (0, 0) if counted, else (the refusing window's number from 1, its wait in µs)."""
    if (isinstance(reply, list) and len(reply) == 2 and all(isinstance(x, int) for x in reply)
            and 0 <= reply[0] <= windows and reply[1] >= 0):
        return reply[0], reply[1]
    raise TypeError(f"the rate script answered {reply!r}, not [window, wait in µs]")


# The admin token's wrong guesses per address (app/web/auth.py), one sorted set each, as the windows above.
# KEYS: the address's set. ARGV: the window in ms, the limit. Returns µs until it may guess again (0: now).
GUESS_WAIT = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local window = tonumber(ARGV[1]) * 1000
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], -limit, -limit, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
"""
# KEYS: the address's set. ARGV: the window in ms, the limit, a random token.
GUESS_COUNT = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
redis.call('ZADD', KEYS[1], now, time[1] .. '.' .. time[2] .. ':' .. ARGV[3])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[2]) + 1))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 0
"""


class RedisGuesses:
    """The admin token's guess limit shared by every web replica: two replicas allow no more guesses than one."""

    def __init__(self, redis: Redis, window_s: float = MINUTE_S, limit: int = ADMIN_GUESSES_PER_MINUTE):
        self.window_ms = max(1, math.ceil(window_s * 1000))
        self.limit = limit
        self._wait = redis.register_script(GUESS_WAIT)
        self._count = redis.register_script(GUESS_COUNT)

    async def retry_after(self, address: str) -> float:
        wait_us = await self._wait(keys=[rate_key("admin-guess", address)], args=[self.window_ms, self.limit])
        return int(wait_us) / 1e6 if isinstance(wait_us, int) else 0.0

    async def record(self, address: str) -> None:
        await self._count(keys=[rate_key("admin-guess", address)], args=[self.window_ms, self.limit, secrets.token_hex(8)])
