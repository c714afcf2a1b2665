"""The fair-use rate windows in Redis (app/running/redis_rates.py), on a real redis-server: two web replicas
(two `Limits`, each with its own connection) hold one client to one limit, with the embedded lab's words.

tests/running/test_limits.py has the same rules with the windows in memory and a hand-moved clock.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from redis.asyncio import Redis

from app.running.limits import Client, Limits, Load, MemoryRates, Rates, Refusal
from app.running.redis_rates import RedisRates, refusal_of
from app.storage.redis_formats import rate_key
from tests.helpers import make_settings, until_awaited

T = TypeVar("T")
IDLE = Load(would_wait=0, queued=0, in_flight_of_client=0)
ME = Client("a" * 32, "10.0.0.1")


async def refused_by(limits: Limits, client: Client, load: Load = IDLE) -> str:
    """The limit that refuses `client` a run now, under `load`; fails if it is admitted."""
    refusal = await limits.admit(client, load)
    assert refusal is not None, f"{client} was admitted"
    return refusal.limit


def on_two_replicas(
    url: str, test: Callable[[Limits, Limits, Redis], Awaitable[T]], window_s: float = 60, **limits: int
) -> T:
    """Run `test` with two replicas' Limits on the Redis at `url` (a connection each), and a third connection."""
    settings = make_settings(
        **{
            "max_runs_in_flight_per_client": 100,
            "max_runs_per_minute_per_client": 3,
            "max_runs_per_minute_per_ip": 5,
            **limits,
        }
    )

    async def replicas() -> T:
        async with Redis.from_url(url) as a, Redis.from_url(url) as b, Redis.from_url(url) as look:
            return await test(
                Limits(settings, rates=RedisRates(a, settings, window_s)),
                Limits(settings, rates=RedisRates(b, settings, window_s)),
                look,
            )

    return asyncio.run(replicas())


def test_two_replicas_share_a_clients_runs_per_minute(redis_server):
    async def test(a: Limits, b: Limits, redis: Redis) -> None:
        assert [await a.admit(ME, IDLE), await b.admit(ME, IDLE), await a.admit(ME, IDLE)] == [None] * 3
        refusal = await b.admit(ME, IDLE)
        assert refusal is not None and 59 <= refusal.retry_after_s <= 60
        assert refusal == Refusal(
            "max_runs_per_minute_per_client",
            3,
            refusal.retry_after_s,
            "you started 3 runs in the last minute (max_runs_per_minute_per_client = 3): "
            f"try again in {refusal.retry_after_s} s",
        )
        assert (await a.admit(ME, IDLE)) == refusal
        assert await b.admit(Client("b" * 32, ME.ip), IDLE) is None  # another client
        assert 0 < await redis.pttl(rate_key("client", ME.id)) <= 60_000  # gone a minute after its last run

    on_two_replicas(redis_server.url, test)


def test_the_ip_window_holds_across_client_ids_and_replicas(redis_server):
    async def test(a: Limits, b: Limits, redis: Redis) -> None:
        for i in range(5):
            assert await (a, b)[i % 2].admit(Client(f"ip:{i}", ME.ip), IDLE) is None
        refusal = await a.admit(Client("b" * 32, ME.ip), IDLE)
        assert refusal is not None and (refusal.limit, refusal.value) == ("max_runs_per_minute_per_ip", 5)
        assert (
            refusal.message
            == (
                "your IP address started 5 runs in the last minute (max_runs_per_minute_per_ip = 5): "
                f"try again in {refusal.retry_after_s} s"
            )
            and 59 <= refusal.retry_after_s <= 60
        )
        assert await b.admit(Client("b" * 32, "10.0.0.2"), IDLE) is None  # another address

    on_two_replicas(redis_server.url, test)


def test_a_refused_request_counts_in_neither_window(redis_server):
    async def test(a: Limits, b: Limits, redis: Redis) -> None:
        for _ in range(3):
            assert await a.admit(ME, IDLE) is None
        for replica in (a, b, a, b):  # refused by the client's window: the address's count stays at 3
            assert await refused_by(replica, ME) == "max_runs_per_minute_per_client"
        for i in range(2):
            assert await b.admit(Client(f"{i:032x}", ME.ip), IDLE) is None
        other = Client("b" * 32, ME.ip)
        assert await refused_by(a, other) == "max_runs_per_minute_per_ip"
        moved = Client(other.id, "10.0.0.2")  # the same cookie elsewhere: its refused request did not count
        assert [await b.admit(moved, IDLE) for _ in range(3)] == [None] * 3
        assert await refused_by(a, moved) == "max_runs_per_minute_per_client"
        assert await redis.zcard(rate_key("ip", ME.ip)) == 5

    on_two_replicas(redis_server.url, test)


def test_requests_racing_on_both_replicas_never_get_more_than_the_limit(redis_server):
    async def test(a: Limits, b: Limits, redis: Redis) -> tuple[list[Refusal | None], list[Refusal | None]]:
        one_client = await asyncio.gather(*((a, b)[i % 2].admit(ME, IDLE) for i in range(60)))
        one_address = await asyncio.gather(
            *((a, b)[i % 2].admit(Client(f"{i:032x}", "10.0.0.9"), IDLE) for i in range(60))
        )
        return one_client, one_address

    one_client, one_address = on_two_replicas(
        redis_server.url, test, max_runs_per_minute_per_client=10, max_runs_per_minute_per_ip=25
    )
    assert one_client.count(None) == 10
    assert {r.limit for r in one_client if r is not None} == {"max_runs_per_minute_per_client"}
    assert one_address.count(None) == 25
    assert {r.limit for r in one_address if r is not None} == {"max_runs_per_minute_per_ip"}


async def _gone(redis: Redis, key: str) -> bool:
    return not await redis.exists(key)


def test_the_window_slides_and_keeps_no_more_than_its_limit(redis_server):
    async def test(a: Limits, b: Limits, redis: Redis) -> None:
        teacher = Client("t" * 32, "10.0.0.3")
        for _ in range(5):  # the admin is held to no rate, but its runs count
            assert await a.admit(teacher, IDLE, admin=True) is None
        assert await redis.zcard(rate_key("client", teacher.id)) == 3  # trimmed to the limit, as in memory
        assert await refused_by(b, teacher) == "max_runs_per_minute_per_client"
        assert [await a.admit(ME, IDLE) for _ in range(3)] == [None] * 3
        refusal = await b.admit(ME, IDLE)
        assert refusal is not None and refusal.retry_after_s == 1  # under a second of the 0.5 s window left
        assert 0 < await redis.pttl(rate_key("client", ME.id)) <= 500
        # Until the three have left the window: its set expires a window after its last request (Redis's clock).
        await until_awaited(lambda: _gone(redis, rate_key("client", ME.id)), what="the window emptied")
        assert await a.admit(ME, IDLE) is None  # the three left the window
        assert await redis.zcard(rate_key("client", ME.id)) == 1

    on_two_replicas(redis_server.url, test, window_s=0.5)


def test_both_rates_take_as_the_seam_says():
    for rates in (MemoryRates, RedisRates):
        assert inspect.signature(rates.take) == inspect.signature(Rates.take)
        assert inspect.iscoroutinefunction(rates.take)


def test_a_reply_the_script_cannot_give_is_refused_in_words():
    assert refusal_of([0, 0], 2) == (0, 0) and refusal_of([2, 1500], 2) == (2, 1500)
    for reply in ([3, 10], [1], b"OK", [1, -1], None):
        with pytest.raises(TypeError, match="the rate script answered"):
            refusal_of(reply, 2)


def test_requests_refused_for_the_full_queue_count_in_the_address_window_on_every_replica(redis_server):
    full = Load(would_wait=1, queued=50, in_flight_of_client=0)

    async def test(a: Limits, b: Limits, redis: Redis) -> None:
        tries = [await refused_by((a, b)[i % 2], Client(f"{i:032x}", ME.ip), full) for i in range(7)]
        assert tries == ["max_queued_runs"] * 5 + ["max_runs_per_minute_per_ip"] * 2
        assert await redis.zcard(rate_key("ip", ME.ip)) == 5
        assert await redis.exists(rate_key("client", f"{0:032x}")) == 0  # the client's own window counts none
        assert await refused_by(b, Client("c" * 32, ME.ip)) == "max_runs_per_minute_per_ip"
        assert await a.admit(Client("c" * 32, "10.0.0.2"), IDLE) is None

    on_two_replicas(redis_server.url, test)


def test_wrong_admin_tokens_counted_by_two_replicas_are_one_count(redis_server):
    from app.running.ratelimit import ADMIN_GUESSES_PER_MINUTE, Guesses, MemoryGuesses
    from app.running.redis_rates import RedisGuesses

    async def test() -> None:
        async with Redis.from_url(redis_server.url) as a, Redis.from_url(redis_server.url) as b:
            replicas = (RedisGuesses(a), RedisGuesses(b))
            for i in range(ADMIN_GUESSES_PER_MINUTE):
                assert await replicas[i % 2].retry_after("10.0.0.1") == 0
                await replicas[i % 2].record("10.0.0.1")
            assert 59 < await replicas[0].retry_after("10.0.0.1") <= 60
            assert 59 < await replicas[1].retry_after("10.0.0.1") <= 60
            assert await replicas[1].retry_after("10.0.0.2") == 0
            assert await a.zcard(rate_key("admin-guess", "10.0.0.1")) == ADMIN_GUESSES_PER_MINUTE

    asyncio.run(test())
    for guesses in (MemoryGuesses, RedisGuesses):
        assert inspect.signature(guesses.retry_after) == inspect.signature(Guesses.retry_after)
