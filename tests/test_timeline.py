"""Folding events into lanes, spans, arrows and counter series: pure, no server."""
from __future__ import annotations

from app.events import Event
from app.timeline import Arrow, Timeline

MS = 1_000_000


def fold(*events: Event) -> Timeline:
    timeline = Timeline()
    for event in events:
        timeline.apply(event)
    return timeline


def instant(ms: float, worker: str, category: str) -> Event:
    return Event("instant", int(ms * MS), worker, category, category)


def test_woken_is_joined_to_the_latest_earlier_notify_on_another_lane():
    timeline = fold(
        instant(1, "Speaker", "notify"),
        instant(5, "Speaker", "notify"),
        instant(6, "Listener", "woken"),
    )
    speaker, listener = (timeline.by_worker[w].index for w in ("Speaker", "Listener"))
    assert timeline.arrows == [Arrow(speaker, 5 * MS, listener, 6 * MS)]


def test_notify_on_the_waiters_own_lane_or_later_does_not_wake_it():
    timeline = fold(
        instant(1, "Listener", "notify"),  # its own notify: not what woke it
        instant(3, "Listener", "woken"),
        instant(4, "Speaker", "notify"),  # after the wake-up
    )
    assert timeline.arrows == []


def test_one_notify_all_starts_an_arrow_to_each_waiter_it_woke():
    timeline = fold(
        instant(1, "main", "notify"),
        instant(2, "worker-1", "woken"),
        instant(3, "worker-2", "woken"),
    )
    assert [(a.from_ns, a.to_lane) for a in timeline.arrows] == [(1 * MS, 1), (1 * MS, 2)]


def test_counter_samples_make_one_series_per_name_in_arrival_order():
    timeline = fold(
        Event("counter", 1 * MS, "producer", "queue depth", value=1),
        Event("counter", 2 * MS, "consumer", "queue depth", value=0),
        Event("counter", 3 * MS, "main", "permits in use", value=2.5),
    )
    assert [(s.index, s.name) for s in timeline.series] == [(0, "queue depth"), (1, "permits in use")]
    assert timeline.by_name["queue depth"].samples == [(1 * MS, 1.0), (2 * MS, 0.0)]


def test_a_counter_value_that_is_not_a_number_is_skipped():
    timeline = fold(Event("counter", 1 * MS, "main", "depth", value="lots"))
    assert timeline.series == []


def test_close_cuts_every_open_span_with_the_reason():
    timeline = fold(
        Event("begin", 1 * MS, "daemon", "sleep(60)", "sleep"),
        Event("begin", 2 * MS, "daemon", "Lock.acquire a", "wait"),
        Event("begin", 3 * MS, "main", "work", "run"),
        Event("end", 4 * MS, "main"),
    )
    timeline.close(10 * MS, "killed at exit")
    cut = {s.name: s for s in timeline.spans if s.cut}
    assert set(cut) == {"sleep(60)", "Lock.acquire a"}
    assert {s.cut for s in cut.values()} == {"killed at exit"}
    assert all(s.end_ns == 10 * MS for s in cut.values())
    assert cut["Lock.acquire a"].depth == 1
    assert [s.cut for s in timeline.spans if s.name == "work"] == [""]
