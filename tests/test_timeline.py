"""Folding events into lanes, spans, arrows and counter series: pure, no server."""
from __future__ import annotations

import pytest

from app.model.events import Event
from app.model.timeline import NOTIFIES_KEPT, Arrow, Timeline

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


def test_a_woken_that_arrives_before_its_notify_is_joined_to_it_when_it_comes():
    timeline = fold(
        instant(1, "Listener", "notify"),  # its own: not what woke it
        instant(6, "Listener", "woken"),  # reached the server first
        instant(5, "Speaker", "notify"),
    )
    speaker, listener = (timeline.by_worker[w].index for w in ("Speaker", "Listener"))
    assert timeline.arrows == [Arrow(speaker, 5 * MS, listener, 6 * MS)]


# -- a Queue between processes: each process's events arrive when its recorder flushes -------

def handed(ms: float, worker: str, name: str, category: str, key: str | None) -> Event:
    return Event("instant", int(ms * MS), worker, name, category, key)


def queue_run(items: int, interval_ms: float, keys: bool) -> tuple[list[Event], list[tuple[str, int, str, int]]]:
    """A producer's puts, main's put None and the consumer's gets, in the order a server receives them,
    and the arrows they should draw: (from worker, put ts, to worker, got ts).

    Each process's events reach the server in batches (its recorder flushes every 20 ms): the
    consumer's flush lands between the producer's, so every other `got` comes before its `put`,
    and the consumer's `got None` before main's `put None`. `keys`: with the keys the recorder
    sends now, or without, as logs of older runs have them.
    """
    happened: list[tuple[int, str, Event]] = []  # (when its process flushes it, process, event)
    expected = []

    def flushed(ms: float, flush_every: float, offset: float) -> int:
        return int((ms - offset) // flush_every * flush_every + flush_every + offset)

    for i in range(items + 1):
        item, key = (repr(f"Item-{i}"), f"7:{i}") if i < items else ("None", "9:1")
        putter = "producer" if i < items else "main"
        put_ms = i * interval_ms + (3 if i == items else 0)  # main puts None once the producer is done
        got_ms = put_ms + 0.4
        put_flush = flushed(put_ms, 20, 19) if i < items else 10**6  # main flushes at the end
        happened.append((put_flush, putter, handed(put_ms, putter, f"put {item}", "notify", key if keys else None)))
        happened.append((flushed(got_ms, 20, 11), "consumer", handed(got_ms, "consumer", f"got {item}", "woken", key if keys else None)))
        expected.append((putter, int(put_ms * MS), "consumer", int(got_ms * MS)))
    arrival = [event for _, _, event in sorted(happened, key=lambda h: (h[0], h[1], h[2].ts_ns))]
    return arrival, sorted(expected)


def drawn(timeline: Timeline) -> list[tuple[str, int, str, int]]:
    workers = {lane.index: lane.worker for lane in timeline.lanes}
    return sorted((workers[a.from_lane], a.from_ns, workers[a.to_lane], a.to_ns) for a in timeline.arrows)


@pytest.mark.parametrize("keys", [True, False], ids=["keyed", "names-only-old-log"])
def test_a_got_that_arrives_before_its_put_is_joined_to_the_put_of_the_same_item(keys):
    events, expected = queue_run(items=2, interval_ms=10, keys=keys)
    names = [e.name for e in events]
    assert names.index("got 'Item-1'") < names.index("put 'Item-1'")  # the case in point
    assert drawn(fold(*events)) == expected


@pytest.mark.parametrize("keys", [True, False], ids=["keyed", "names-only-old-log"])
def test_fifty_items_interleaved_by_arrival_each_draw_an_arrow_from_their_own_put(keys):
    events, expected = queue_run(items=50, interval_ms=10, keys=keys)
    position = {e.name: i for i, e in enumerate(events)}
    early = [name for name in position if name.startswith("got ") and position[name] < position["put " + name[4:]]]
    assert len(early) >= 25  # half the gets reached the server before their put
    assert drawn(fold(*events)) == expected


@pytest.mark.parametrize("keys", [True, False], ids=["keyed", "names-only-old-log"])
def test_the_sentinel_is_joined_to_mains_put_none_not_the_producers_last_put(keys):
    events, _ = queue_run(items=5, interval_ms=500, keys=keys)
    names = [e.name for e in events]
    assert names.index("got None") < names.index("put None")  # main flushes last
    timeline = fold(*events)
    main, consumer = timeline.by_worker["main"].index, timeline.by_worker["consumer"].index
    put_none = next(e.ts_ns for e in events if e.name == "put None")
    got_none = next(e.ts_ns for e in events if e.name == "got None")
    assert Arrow(main, put_none, consumer, got_none) in timeline.arrows
    assert len(timeline.arrows) == 6


def test_equal_items_with_keys_are_joined_by_key_and_without_first_put_to_first_got():
    keyed = fold(
        handed(5, "consumer", "got None", "woken", "2:1"),  # main's None, put after the producer's
        handed(1, "producer", "put None", "notify", "1:1"),
        handed(3, "main", "put None", "notify", "2:1"),
        handed(6, "consumer", "got None", "woken", "1:1"),
    )
    assert drawn(keyed) == [("main", 3 * MS, "consumer", 5 * MS), ("producer", 1 * MS, "consumer", 6 * MS)]
    by_name = fold(
        handed(1, "producer", "put None", "notify", None),
        handed(3, "main", "put None", "notify", None),
        handed(5, "consumer", "got None", "woken", None),
        handed(6, "consumer", "got None", "woken", None),
    )
    assert drawn(by_name) == [("main", 3 * MS, "consumer", 6 * MS), ("producer", 1 * MS, "consumer", 5 * MS)]


@pytest.mark.parametrize("keys", [True, False], ids=["keyed", "names-only-old-log"])
def test_replaying_the_same_events_draws_the_same_arrows(keys):
    events, _ = queue_run(items=50, interval_ms=10, keys=keys)
    events += [instant(600 + i, "Speaker" if i % 2 else "Listener", "notify" if i % 3 else "woken") for i in range(30)]
    live = Timeline()
    for start in range(0, len(events), 7):  # as received, a few at a time
        live.apply_all(events[start:start + 7])
    replayed = Timeline()
    replayed.apply_all(events)
    assert replayed.arrows == live.arrows == fold(*events).arrows
    assert len(live.arrows) >= 51


def test_pending_notifies_and_wokens_stay_bounded():
    timeline = fold(*(handed(i / 100, "producer", f"put {i}", "notify", f"1:{i}") for i in range(5_000)),
                    *(handed(i / 100, "consumer", "woken", "woken", None) for i in range(5_000)))
    assert timeline.keyed_notifies.count <= NOTIFIES_KEPT
    assert len(timeline.early_wokens) <= NOTIFIES_KEPT


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


# -- coalescing: what the axis cannot show apart is merged, so a lane stays drawable ----------

US = 1_000


def short_spans(n: int, worker: str = "w", every_ns: int = 2 * US, length_ns: int = US, t0: int = 0,
                name: str = "step", category: str = "run") -> list[Event]:
    events = []
    for i in range(n):
        start = t0 + i * every_ns
        events += [Event("begin", start, worker, name, category), Event("end", start + length_ns, worker)]
    return events


def test_spans_too_short_to_see_are_merged_into_drawn_spans_that_keep_count_and_total():
    timeline = fold(*short_spans(1000))  # 1 µs spans every 2 µs: 2 ms in all
    timeline.close()
    assert timeline.resolution_ns == 200 * US  # 1/500 of the smallest axis (100 ms)
    assert sum(s.count for s in timeline.spans) == 1000
    assert sum(s.busy_ns if s.count > 1 else s.end_ns - s.start_ns for s in timeline.spans) == 1000 * US
    assert len(timeline.spans) <= 2_000 * US // timeline.resolution_ns + 1
    assert all(s.end_ns - s.start_ns >= timeline.resolution_ns for s in timeline.spans[:-1])
    assert timeline.spans[0].name == "step" and timeline.spans[0].count > 1


def test_a_span_wide_enough_to_see_is_drawn_alone_and_a_far_one_is_not_joined():
    timeline = fold(
        *short_spans(3),  # 0-5 µs: merged
        Event("begin", 10 * US, "w", "long", "run"), Event("end", 5 * MS, "w"),
        *short_spans(1, t0=50 * MS),  # alone, far from the others
    )
    timeline.close()
    assert [(s.name, s.count) for s in timeline.spans] == [("step", 3), ("long", 1), ("step", 1)]


def test_spans_of_another_category_are_not_merged_together():
    timeline = fold(*short_spans(1, category="run"), *short_spans(1, t0=2 * US, category="wait"))
    timeline.close()
    assert [(s.category, s.count) for s in timeline.spans] == [("run", 1), ("wait", 1)]


def test_a_flood_of_spans_leaves_a_bounded_number_to_draw_whatever_its_length():
    # 100 000 spans over 10 s: the resolution grows with the axis, the drawn spans stay few.
    timeline = fold(*short_spans(100_000, every_ns=100 * US, length_ns=10 * US))
    timeline.close()
    assert sum(s.count for s in timeline.spans) == 100_000
    assert timeline.resolution_ns == 20_000 * MS // 500  # the 20 s axis of a 10 s run
    assert len(timeline.spans) < 3_000


def test_merging_depends_on_the_events_alone_and_drawn_spans_only_grow():
    events = short_spans(5_000, every_ns=30 * US, length_ns=7 * US) + short_spans(50, worker="v", every_ns=3 * MS)
    first, second = Timeline(), Timeline()
    seen: list = []
    for i, event in enumerate(events):
        first.apply(event)
        if i % 997 == 0:
            assert first.spans[: len(seen)] == seen  # what was drawn stays drawn: appended only
            seen = list(first.spans)
    for event in events:  # a replay of the same log
        second.apply(event)
    first.close()
    second.close()
    assert first.spans == second.spans and len(first.spans) < 1_000


def test_marks_too_close_to_see_apart_are_merged_with_their_count():
    timeline = fold(*(Event("instant", i * US, "w", f"print {i}", "print") for i in range(1000)))
    timeline.close()
    assert sum(m.count for m in timeline.marks) == 1000
    assert len(timeline.marks) <= 1_000 * US // timeline.resolution_ns + 1
    assert timeline.marks[0].name == "print 0" and timeline.marks[0].count > 1


def test_counter_samples_too_close_to_see_apart_keep_the_latest_value():
    timeline = fold(*(Event("counter", i * US, "w", "depth", value=i % 7) for i in range(1000)))
    samples = timeline.by_name["depth"].samples
    assert len(samples) <= 1_000 * US // timeline.resolution_ns + 1
    assert samples[-1][1] == 999 % 7


def test_without_coalescing_every_span_and_mark_is_kept():
    timeline = Timeline(coalesce=False)
    for event in short_spans(100) + [Event("instant", i, "w", "m", "mark") for i in range(10)]:
        timeline.apply(event)
    assert len(timeline.spans) == 100 and len(timeline.marks) == 10


def test_apply_all_folds_exactly_as_apply_one_by_one():
    events = [Event("header", 0, "main", value={"pid": 1}), Event("lane", 1, "w", value={"pid": 2, "thread": "w"})]
    events += short_spans(3_000, every_ns=37 * US, length_ns=5 * US, t0=10)
    events += [Event("begin", 5, "v", "early", "wait"), Event("instant", 50 * MS, "w", "x", "print"),
               Event("counter", 60 * MS, "v", "depth", value=3), Event("end", 200 * MS, "v")]
    one_by_one, at_once = fold(*events), Timeline()
    at_once.apply_all(events)
    for timeline in (one_by_one, at_once):
        timeline.close()
    assert at_once.spans == one_by_one.spans and at_once.marks == one_by_one.marks
    assert (at_once.t0_ns, at_once.last_ns, at_once.resolution_ns) == (one_by_one.t0_ns, one_by_one.last_ns, one_by_one.resolution_ns)
    assert [lane.pid for lane in at_once.lanes] == [lane.pid for lane in one_by_one.lanes]
