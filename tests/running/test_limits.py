"""Fair-use limits, pure: which limit refuses a run, its value and when to retry, with a hand-moved clock.

tests/running/test_limits_runs.py sees the 429s on the API and the form, with real runs.
"""

from __future__ import annotations

import asyncio
from typing import Any

from app.running.limits import Client, Limits, Load, Refusal
from tests.helpers import FakeClock, make_settings

IDLE = Load(would_wait=False, queued=0, in_flight_of_client=0)


def limits(clock: FakeClock[float] | None = None, **overrides: Any) -> Limits:
    return Limits(
        make_settings(
            **{
                "max_runs_in_flight_per_client": 2,
                "max_runs_per_minute_per_client": 3,
                "max_runs_per_minute_per_ip": 5,
                **overrides,
            }
        ),
        clock or FakeClock(0.0),
    )


def admit(lim: Limits, client: Client, load: Load, admin: bool = False, runs: int = 1) -> Refusal | None:
    return asyncio.run(lim.admit(client, load, admin, runs))


def refused(lim: Limits, client: Client, load: Load, admin: bool = False, runs: int = 1) -> Refusal:
    """`admit` where the test expects a refusal: the refusal, failing if the run was admitted."""
    refusal = admit(lim, client, load, admin, runs)
    assert refusal is not None, "admitted"
    return refusal


def test_the_queue_limit_applies_only_to_a_run_that_would_wait():
    lim = limits(max_queued_runs=2)
    me = Client("a" * 32, "10.0.0.1")
    assert admit(lim, me, Load(would_wait=False, queued=2, in_flight_of_client=0)) is None
    refusal = refused(lim, me, Load(would_wait=True, queued=2, in_flight_of_client=0))
    assert (refusal.limit, refusal.value, refusal.status) == ("max_queued_runs", 2, 429)
    assert "queue is full" in refusal.message and refusal.retry_after_s >= 1
    assert (
        refused(lim, me, Load(would_wait=True, queued=2, in_flight_of_client=0), admin=True).limit == "max_queued_runs"
    )


def test_runs_in_flight_per_client():
    lim = limits()
    me = Client("a" * 32, "10.0.0.1")
    refusal = refused(lim, me, Load(False, 0, in_flight_of_client=2))
    assert (refusal.limit, refusal.value) == ("max_runs_in_flight_per_client", 2)
    assert "2 runs queued or running" in refusal.message
    assert admit(lim, me, Load(False, 0, 2), admin=True) is None


def test_runs_per_minute_per_client_then_per_ip_with_the_time_to_wait():
    clock = FakeClock(0.0)
    lim = limits(clock)
    me = Client("a" * 32, "10.0.0.1")
    for t in (0, 1, 2):
        clock.now = t
        assert admit(lim, me, IDLE) is None  # and counted
    refusal = refused(lim, me, IDLE)
    assert (refusal.limit, refusal.value, refusal.retry_after_s) == ("max_runs_per_minute_per_client", 3, 58)
    assert "try again in 58 s" in refusal.message
    # Dropping the cookie does not help for long: the IP address is the backstop
    for i in range(2):
        other = Client(f"ip:{i}", "10.0.0.1")
        assert admit(lim, other, IDLE) is None
    refusal = refused(lim, Client("b" * 32, "10.0.0.1"), IDLE)
    assert (refusal.limit, refusal.value, refusal.retry_after_s) == ("max_runs_per_minute_per_ip", 5, 58)
    assert admit(lim, Client("c" * 32, "10.0.0.2"), IDLE) is None  # another address
    clock.now = 60
    assert admit(lim, me, IDLE) is None  # the run at 0 left the window


def test_a_sweep_needs_queue_room_for_every_run_that_would_wait():
    lim = limits(max_queued_runs=5)
    me = Client("a" * 32, "10.0.0.1")
    assert admit(lim, me, Load(would_wait=3, queued=2, in_flight_of_client=0), runs=4) is None  # 2 + 3 = 5 fit
    refusal = refused(lim, me, Load(would_wait=4, queued=2, in_flight_of_client=0), runs=4)
    assert (refusal.limit, refusal.value) == ("max_queued_runs", 5)
    assert "cannot hold this sweep: 4 of its 4 runs would wait" in refusal.message


ME = Client("a" * 32, "10.0.0.1")


def test_a_full_queue_says_so_and_to_retry_in_half_a_minute_or_the_time_limit_if_shorter():
    refusal = refused(
        limits(max_queued_runs=2, run_timeout_s=120), ME, Load(would_wait=1, queued=2, in_flight_of_client=0)
    )
    assert refusal == Refusal(
        "max_queued_runs", 2, 30, "the queue is full (2 runs waiting, max_queued_runs): try again in 30 s"
    )
    assert refusal.to_json() == {"detail": refusal.message, "limit": "max_queued_runs", "value": 2, "retry_after_s": 30}
    assert refusal.headers == {"Retry-After": "30"}
    quick = refused(
        limits(max_queued_runs=2, run_timeout_s=12.5), ME, Load(would_wait=1, queued=2, in_flight_of_client=0)
    )
    assert quick.retry_after_s == 13 and quick.message.endswith("try again in 13 s")
    sweep = refused(limits(max_queued_runs=5), ME, Load(would_wait=4, queued=2, in_flight_of_client=0), runs=6)
    assert sweep.message == (
        "the queue cannot hold this sweep: 4 of its 6 runs would wait behind the 2 waiting, "
        "and it holds 5 (max_queued_runs): try again in 30 s, or sweep fewer points"
    )


def test_too_many_runs_in_flight_says_how_many_and_to_retry_in_ten_seconds_or_the_time_limit_if_shorter():
    refusal = refused(limits(run_timeout_s=120), ME, Load(would_wait=0, queued=0, in_flight_of_client=2))
    assert refusal == Refusal(
        "max_runs_in_flight_per_client",
        2,
        10,
        "you already have 2 runs queued or running, a sweep counting as one "
        "(max_runs_in_flight_per_client = 2): try again when one ends, in about 10 s, or cancel one",
    )
    assert refused(limits(run_timeout_s=3.2), ME, Load(0, 0, 2)).retry_after_s == 4


def test_the_rate_limits_say_who_started_how_many_and_refuse_until_the_last_second_is_over():
    clock = FakeClock(0.0)
    lim = limits(clock)
    for t in (0.25, 1, 2):
        clock.now = t
        assert admit(lim, ME, IDLE) is None
    clock.now = 59.5
    assert admit(lim, ME, IDLE) == Refusal(
        "max_runs_per_minute_per_client",
        3,
        1,
        "you started 3 runs in the last minute (max_runs_per_minute_per_client = 3): try again in 1 s",
    )
    clock.now = 60.25  # the first run left the window
    assert admit(lim, ME, IDLE) is None
    for i in range(2):  # new cookies, one address: the IP's fifth run in a minute
        assert admit(lim, Client(f"{i:032x}", ME.ip), IDLE) is None
    assert refused(lim, Client("b" * 32, ME.ip), IDLE).message == (
        "your IP address started 5 runs in the last minute (max_runs_per_minute_per_ip = 5): try again in 1 s"
    )


def test_a_refused_request_does_not_count_against_either_rate():
    lim = limits()
    for _ in range(3):
        assert admit(lim, ME, IDLE) is None
    for _ in range(4):  # refused by the client's window: the address's count stays at 3
        assert refused(lim, ME, IDLE).limit == "max_runs_per_minute_per_client"
    for i in range(2):
        assert admit(lim, Client(f"{i:032x}", ME.ip), IDLE) is None
    other = Client("b" * 32, ME.ip)
    assert refused(lim, other, IDLE).limit == "max_runs_per_minute_per_ip"  # refused by the address's window
    moved = Client(other.id, "10.0.0.2")  # the same cookie elsewhere: its refused request did not count
    assert [admit(lim, moved, IDLE) for _ in range(3)] == [None, None, None]
    assert refused(lim, moved, IDLE).limit == "max_runs_per_minute_per_client"


def test_the_admin_is_held_to_no_rate_but_its_runs_count_against_its_address():
    lim = limits()
    teacher = Client("t" * 32, ME.ip)
    assert [admit(lim, teacher, IDLE, admin=True) for _ in range(4)] == [None] * 4
    assert admit(lim, ME, IDLE) is None
    assert refused(lim, ME, IDLE).limit == "max_runs_per_minute_per_ip"  # 4 of the teacher's, 1 of mine


FULL = Load(would_wait=1, queued=50, in_flight_of_client=0)  # the default queue, full


def test_a_request_refused_for_the_full_queue_counts_in_its_address_window_and_then_that_window_refuses():
    lim = limits()
    # A script retrying a full queue with a new cookie each time: each try is counted against its address.
    tries = [refused(lim, Client(f"{i:032x}", ME.ip), FULL) for i in range(7)]
    assert [t.limit for t in tries] == ["max_queued_runs"] * 5 + ["max_runs_per_minute_per_ip"] * 2
    # The place that frees is not its: its address is refused, whatever cookie it sends; another address is not.
    assert refused(lim, Client("c" * 32, ME.ip), IDLE).limit == "max_runs_per_minute_per_ip"
    assert admit(lim, Client("d" * 32, "10.0.0.2"), IDLE) is None


def test_a_request_refused_for_the_full_queue_does_not_count_in_the_clients_own_window():
    lim = limits()
    assert refused(lim, ME, FULL).limit == "max_queued_runs"
    assert [admit(lim, ME, IDLE) for _ in range(3)] == [None] * 3  # the client's 3 a minute are all still there


def test_the_admins_request_refused_for_the_full_queue_is_not_counted():
    lim = limits()
    teacher = Client("t" * 32, ME.ip)
    assert [refused(lim, teacher, FULL, admin=True).limit for _ in range(6)] == ["max_queued_runs"] * 6
    assert admit(lim, ME, IDLE) is None
