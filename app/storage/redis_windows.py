"""The fair-use windows in Redis (app/running/redis_rates.py says what they count): a sorted set per window
(app/storage/redis_formats.py `rate_key`), checked and counted by Lua scripts that Redis runs alone, on
Redis's own clock (TIME, inside the script), so the replicas' clocks do not matter."""

from __future__ import annotations

import secrets

from redis.asyncio import Redis

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


class RateWindows:
    """The scripts above, registered once on a client."""

    def __init__(self, redis: Redis):
        self._take = redis.register_script(TAKE)
        self._guess_wait = redis.register_script(GUESS_WAIT)
        self._guess_count = redis.register_script(GUESS_COUNT)

    async def take(self, windows: list[tuple[str, str]], window_ms: int, limits: list[int], check: bool) -> object:
        """TAKE over the windows (each a kind and whom it counts) with their `limits`: its reply, unchecked."""
        keys = [rate_key(kind, who) for kind, who in windows]
        args: list[int | str] = [window_ms, *limits, int(check), secrets.token_hex(8)]
        return await self._take(keys=keys, args=args)

    async def guess_wait(self, address: str, window_ms: int, limit: int) -> object:
        """GUESS_WAIT for the address: µs until it may guess again (0: now), unchecked."""
        return await self._guess_wait(keys=[rate_key("admin-guess", address)], args=[window_ms, limit])

    async def count_guess(self, address: str, window_ms: int, limit: int) -> None:
        await self._guess_count(keys=[rate_key("admin-guess", address)], args=[window_ms, limit, secrets.token_hex(8)])
