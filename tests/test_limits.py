"""Fair-use limits, pure: which limit refuses a run, its value and when to retry, with a hand-moved clock.

tests/test_limits_runs.py sees the 429s on the API and the form, with real runs.
"""
from __future__ import annotations

from app.clients import Client
from app.limits import Limits, Load
from tests.helpers import FakeClock, make_settings

IDLE = Load(would_wait=False, queued=0, in_flight_of_client=0)


def limits(clock=None, **overrides) -> Limits:
    return Limits(make_settings(**{"max_runs_in_flight_per_client": 2, "max_runs_per_minute_per_client": 3,
                                   "max_runs_per_minute_per_ip": 5, **overrides}), clock or FakeClock())


def test_the_queue_limit_applies_only_to_a_run_that_would_wait():
    lim = limits(max_queued_runs=2)
    me = Client("a" * 32, "10.0.0.1")
    assert lim.check(me, Load(would_wait=False, queued=2, in_flight_of_client=0)) is None
    refusal = lim.check(me, Load(would_wait=True, queued=2, in_flight_of_client=0))
    assert (refusal.limit, refusal.value, refusal.status) == ("max_queued_runs", 2, 429)
    assert "queue is full" in refusal.message and refusal.retry_after_s >= 1
    assert lim.check(me, Load(would_wait=True, queued=2, in_flight_of_client=0), admin=True).limit == "max_queued_runs"


def test_runs_in_flight_per_client():
    lim = limits()
    me = Client("a" * 32, "10.0.0.1")
    refusal = lim.check(me, Load(False, 0, in_flight_of_client=2))
    assert (refusal.limit, refusal.value) == ("max_runs_in_flight_per_client", 2)
    assert "2 runs queued or running" in refusal.message
    assert lim.check(me, Load(False, 0, 2), admin=True) is None


def test_runs_per_minute_per_client_then_per_ip_with_the_time_to_wait():
    clock = FakeClock()
    lim = limits(clock)
    me = Client("a" * 32, "10.0.0.1")
    for t in (0, 1, 2):
        clock.now = t
        assert lim.check(me, IDLE) is None
        lim.record(me)
    refusal = lim.check(me, IDLE)
    assert (refusal.limit, refusal.value, refusal.retry_after_s) == ("max_runs_per_minute_per_client", 3, 58)
    assert "try again in 58 s" in refusal.message
    # Dropping the cookie does not help for long: the IP address is the backstop
    for i in range(2):
        other = Client(f"ip:{i}", "10.0.0.1")
        assert lim.check(other, IDLE) is None
        lim.record(other)
    refusal = lim.check(Client("b" * 32, "10.0.0.1"), IDLE)
    assert (refusal.limit, refusal.value, refusal.retry_after_s) == ("max_runs_per_minute_per_ip", 5, 58)
    assert lim.check(Client("c" * 32, "10.0.0.2"), IDLE) is None  # another address
    clock.now = 60
    assert lim.check(me, IDLE) is None  # the run at 0 left the window


def test_a_sweep_needs_queue_room_for_every_run_that_would_wait():
    lim = limits(max_queued_runs=5)
    me = Client("a" * 32, "10.0.0.1")
    assert lim.check(me, Load(would_wait=3, queued=2, in_flight_of_client=0), runs=4) is None  # 2 + 3 = 5 fit
    refusal = lim.check(me, Load(would_wait=4, queued=2, in_flight_of_client=0), runs=4)
    assert (refusal.limit, refusal.value) == ("max_queued_runs", 5)
    assert "cannot hold this sweep: 4 of its 4 runs would wait" in refusal.message

