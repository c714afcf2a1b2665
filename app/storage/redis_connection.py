"""The Redis client of a distributed lab, and what its failures mean to the layers above, which import no
`redis`: which exceptions say the shared store is away (`ERRORS`), and why, in words (`why`)."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.settings import Settings
from app.storage.redis_store import FOLLOW_BLOCK_MS

__all__ = ["ERRORS", "Redis", "client", "connect", "why"]

# Raised by any call on the shared store when Redis is unreachable (restarting, say) or refuses (full): a
# request that meets one is answered 503 with Retry-After (app/web/errors.py), a loop tries again.
ERRORS: tuple[type[Exception], ...] = (RedisError,)


def why(exc: Exception) -> str:
    """What an exception of ERRORS says of the store, completing "the lab's shared store (Redis) ..."."""
    return "is unreachable" if isinstance(exc, (RedisConnectionError, RedisTimeoutError)) else f"refused it ({exc})"


def client(settings: Settings) -> Redis:
    """A web replica's client of LAB_REDIS_URL. Every run in flight holds a connection while it is followed
    (a blocked XREAD): the pool must hold them all beside the requests' (redis-py's default stops at 100).
    A Redis host that vanishes without a word is found out by the timeouts, not waited for."""
    assert settings.redis_url is not None
    return Redis.from_url(
        settings.redis_url,
        max_connections=4 * settings.max_queued_runs + 200,
        socket_connect_timeout=5,
        socket_timeout=FOLLOW_BLOCK_MS / 1000 + 10,
        health_check_interval=30,
    )


def connect(url: str) -> Redis:
    """A runner node's client: one run at a time, a few connections."""
    return Redis.from_url(url)
