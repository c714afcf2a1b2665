"""The small seams, one suite each over both implementations: the pinned run (MemoryPin, RedisPin), the
fair-use rate windows (MemoryRates, RedisRates) and the admin token's guess limit (MemoryGuesses,
RedisGuesses). The Redis ones are what keep a distributed lab's replicas agreeing; a caller holds either and
never asks which, so each must answer as the other does."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.asyncio import Redis

from app.running.limits import Client, MemoryRates, Rates
from app.running.ratelimit import ADMIN_GUESSES_PER_MINUTE, Guesses, MemoryGuesses
from app.running.redis_rates import RedisGuesses, RedisRates
from app.storage.pins import MemoryPin, Pin, RedisPin
from tests.helpers import make_settings

T = TypeVar("T")
PER_CLIENT, PER_IP = 2, 3


def with_redis(redis_url: str, body: Callable[[Redis | None], Awaitable[T]]) -> T:
    """`body` given a client of the test's redis-server (None for the embedded implementation), closed after."""

    async def go() -> T:
        if not redis_url:
            return await body(None)
        async with Redis.from_url(redis_url) as redis:
            return await body(redis)

    return asyncio.run(go())


# -- the pinned run --


def pin(redis: Redis | None) -> Pin:
    return MemoryPin() if redis is None else RedisPin(redis)


def test_nothing_is_pinned_until_a_run_is_and_unpinning_clears_it(redis_url):
    async def body(redis: Redis | None) -> list[str | None]:
        held = pin(redis)
        seen = [await held.get()]
        await held.set("abc123")
        seen.append(await held.get())
        await held.set("def456")
        seen.append(await held.get())
        await held.set(None)
        return [*seen, await held.get()]

    assert with_redis(redis_url, body) == [None, "abc123", "def456", None]


# -- the rate windows --


def rates(redis: Redis | None) -> Rates:
    settings = make_settings(max_runs_per_minute_per_client=PER_CLIENT, max_runs_per_minute_per_ip=PER_IP)
    return MemoryRates(settings) if redis is None else RedisRates(redis, settings)


def refused_by(refusal: Any) -> tuple[str, int] | None:
    """Which limit refused (its setting, its value), checking the refusal says when to retry, within the minute."""
    if refusal is None:
        return None
    assert 1 <= refusal.retry_after_s <= 60 and refusal.headers == {"Retry-After": str(refusal.retry_after_s)}
    assert refusal.limit in refusal.message and refusal.status == 429
    return refusal.limit, refusal.value


def test_a_client_past_its_runs_per_minute_is_refused_by_its_own_window_and_a_refusal_counts_nowhere(redis_url):
    async def body(redis: Redis | None) -> list[tuple[str, int] | None]:
        windows, alice, bob = rates(redis), Client("alice", "10.0.0.1"), Client("bob", "10.0.0.1")
        said = [refused_by(await windows.take(alice)) for _ in range(PER_CLIENT + 2)]
        # alice's refusals did not count in her address's window: bob, at the same address, has its last place
        return said + [refused_by(await windows.take(bob)), refused_by(await windows.take(bob))]

    client, ip = ("max_runs_per_minute_per_client", PER_CLIENT), ("max_runs_per_minute_per_ip", PER_IP)
    assert with_redis(redis_url, body) == [None, None, client, client, None, ip]


def test_runs_counted_without_asking_still_count(redis_url):
    """The admin is held to no rate (check=False), but its runs still count against the address."""

    async def body(redis: Redis | None) -> list[tuple[str, int] | None]:
        windows, admin = rates(redis), Client("admin", "10.0.0.2")
        said = [refused_by(await windows.take(admin, check=False)) for _ in range(PER_IP + 1)]
        return said + [refused_by(await windows.take(Client("student", "10.0.0.2")))]

    assert with_redis(redis_url, body) == [None] * (PER_IP + 1) + [("max_runs_per_minute_per_ip", PER_IP)]


def test_a_request_counted_in_the_address_window_only_leaves_the_clients_own_untouched(redis_url):
    async def body(redis: Redis | None) -> list[tuple[str, int] | None]:
        windows, here = rates(redis), Client("carol", "10.0.0.3")
        said = [refused_by(await windows.take(here, kinds=("ip",))) for _ in range(PER_IP + 1)]
        return said + [refused_by(await windows.take(Client("carol", "10.0.0.4")))]  # her window: empty

    assert with_redis(redis_url, body) == [None] * PER_IP + [("max_runs_per_minute_per_ip", PER_IP), None]


def test_each_client_and_address_has_a_window_of_its_own(redis_url):
    async def body(redis: Redis | None) -> list[tuple[str, int] | None]:
        windows = rates(redis)
        return [
            refused_by(await windows.take(Client(f"c{i}", f"10.1.0.{i}"))) for i in range(5) for _ in range(PER_CLIENT)
        ]

    assert with_redis(redis_url, body) == [None] * 5 * PER_CLIENT


# -- the admin token's guesses --


def guesses(redis: Redis | None) -> Guesses:
    return MemoryGuesses() if redis is None else RedisGuesses(redis)


def test_an_address_past_its_wrong_guesses_waits_and_the_others_do_not(redis_url):
    async def body(redis: Redis | None) -> tuple[list[float], float, float]:
        held = guesses(redis)
        waits = []
        for _ in range(ADMIN_GUESSES_PER_MINUTE):
            waits.append(await held.retry_after("10.0.0.1"))
            await held.record("10.0.0.1")
        return waits, await held.retry_after("10.0.0.1"), await held.retry_after("10.0.0.2")

    waits, spent, other = with_redis(redis_url, body)
    assert waits == [0.0] * ADMIN_GUESSES_PER_MINUTE
    assert 0 < spent <= 60 and other == 0.0
