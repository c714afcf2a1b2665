"""The sliding-window limiter with a hand-moved clock."""

from __future__ import annotations

from app.running.ratelimit import SWEEP_EVERY, SlidingWindow, whole_seconds
from tests.helpers import FakeClock


def test_allows_the_limit_then_says_when_the_oldest_event_leaves_the_window():
    clock = FakeClock(1000.0)
    w = SlidingWindow(3, 60, clock)
    for dt in (0, 10, 20):
        clock.now += dt
        assert w.retry_after("a") == 0
        w.record("a")
    # events at 1000, 1010, 1030; now 1030: the one at 1000 leaves at 1060
    assert w.retry_after("a") == 30
    assert w.retry_after("b") == 0  # other keys are not affected
    clock.now = 1059.5
    assert w.retry_after("a") == 0.5
    clock.now = 1060
    assert w.retry_after("a") == 0
    w.record("a")
    assert w.retry_after("a") == 10  # now 1010 is the oldest of the three


def test_a_window_slides_rather_than_resetting_each_minute():
    clock = FakeClock(1000.0)
    w = SlidingWindow(2, 60, clock)
    w.record("a")
    clock.now += 59
    w.record("a")
    clock.now += 2  # a fixed window starting at 1000 would reset here; the sliding one keeps one event
    assert w.retry_after("a") == 0
    w.record("a")
    assert w.retry_after("a") == 58  # the event at 1059 leaves at 1119; now 1061


def test_idle_keys_are_dropped():
    clock = FakeClock(1000.0)
    w = SlidingWindow(1, 60, clock)
    for i in range(SWEEP_EVERY - 1):
        w.record(i)
    assert w.keys == SWEEP_EVERY - 1
    clock.now += 61
    w.record("late")  # this call sweeps
    assert w.keys == 1


def test_retry_after_is_whole_seconds_at_least_one():
    assert [whole_seconds(s) for s in (0.0, 0.2, 1.0, 1.01, 59.9)] == [1, 1, 1, 2, 60]
