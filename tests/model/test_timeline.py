"""Folding events into lanes, spans, arrows and counter series: pure, no server."""

from __future__ import annotations

import pytest

from app.model.arrows import NOTIFIES_KEPT
from app.model.events import Event
from app.model.timeline import Arrow, Mark, Printed, Span, Timeline

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
        happened.append(
            (
                flushed(got_ms, 20, 11),
                "consumer",
                handed(got_ms, "consumer", f"got {item}", "woken", key if keys else None),
            )
        )
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
        live.apply_all(events[start : start + 7])
    replayed = Timeline()
    replayed.apply_all(events)
    assert replayed.arrows == live.arrows == fold(*events).arrows
    assert len(live.arrows) >= 51


def test_pending_notifies_and_wokens_stay_bounded():
    timeline = fold(
        *(handed(i / 100, "producer", f"put {i}", "notify", f"1:{i}") for i in range(5_000)),
        *(handed(i / 100, "consumer", "woken", "woken", None) for i in range(5_000)),
    )
    assert timeline.pairing.keyed_notifies.count <= NOTIFIES_KEPT
    assert len(timeline.pairing.early_wokens) <= NOTIFIES_KEPT


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


def short_spans(
    n: int,
    worker: str = "w",
    every_ns: int = 2 * US,
    length_ns: int = US,
    t0: int = 0,
    name: str = "step",
    category: str = "run",
) -> list[Event]:
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
        Event("begin", 10 * US, "w", "long", "run"),
        Event("end", 5 * MS, "w"),
        *short_spans(1, t0=50 * MS),  # alone, far from the others
    )
    timeline.close()
    assert [(s.name, s.count) for s in timeline.spans] == [("step", 3), ("long", 1), ("step", 1)]


def test_spans_of_another_category_are_not_merged_together():
    timeline = fold(*short_spans(1, category="run"), *short_spans(1, t0=2 * US, category="wait"))
    timeline.close()
    assert [(s.category, s.count) for s in timeline.spans] == [("run", 1), ("wait", 1)]


def test_a_flood_of_spans_leaves_a_bounded_number_to_draw_whatever_its_length():
    # 20 000 spans over 10 s: the resolution grows with the axis, the drawn spans stay few.
    timeline = fold(*short_spans(20_000, every_ns=500 * US, length_ns=10 * US))
    timeline.close()
    assert sum(s.count for s in timeline.spans) == 20_000
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
    events += [
        Event("begin", 5, "v", "early", "wait"),
        Event("instant", 50 * MS, "w", "x", "print"),
        Event("counter", 60 * MS, "v", "depth", value=3),
        Event("end", 200 * MS, "v"),
    ]
    one_by_one, at_once = fold(*events), Timeline()
    at_once.apply_all(events)
    for timeline in (one_by_one, at_once):
        timeline.close()
    assert at_once.spans == one_by_one.spans and at_once.marks == one_by_one.marks
    assert (at_once.t0_ns, at_once.last_ns, at_once.resolution_ns) == (
        one_by_one.t0_ns,
        one_by_one.last_ns,
        one_by_one.resolution_ns,
    )
    assert [lane.pid for lane in at_once.lanes] == [lane.pid for lane in one_by_one.lanes]


# -- what the chart shows of a run that starts where clocks start: not at 0 --------------------

T0 = 5_000 * MS  # a monotonic clock's reading when the run began


def at(us: float) -> int:
    return T0 + int(us * US)


def test_the_resolution_follows_the_runs_length_not_the_clocks_reading():
    timeline = fold(Event("begin", at(0), "w", "run()", "run"), Event("end", at(150_000), "w"))  # 150 ms long
    assert timeline.resolution_ns == 200 * MS // 500  # the 200 ms axis of a 150 ms run
    at_once = Timeline()
    at_once.apply_all(
        [
            Event("begin", at(0), "w", "run()", "run"),
            Event("begin", at(10), "w", "step", "run"),
            Event("end", at(20), "w"),
            Event("end", at(150_000), "w"),
        ]
    )
    assert at_once.resolution_ns == 200 * MS // 500


def test_marks_are_merged_only_while_closer_than_the_resolution_to_the_first_of_them():
    # the resolution of a short run: 200 µs (1/500 of its 100 ms axis)
    timeline = fold(
        *(
            Event("instant", at(us), "w", f"print {i}", "print")
            for i, us in enumerate((0, 0, 150, 100, 250, 1_000, 1_200))
        )
    )
    timeline.close()
    assert [(m.ts_ns, m.name, m.count, m.last_ns) for m in timeline.marks] == [
        (at(0), "print 0", 4, at(150)),  # 100 µs after 150 µs: the merged mark still ends at the latest
        (at(250), "print 4", 1, 0),  # 250 µs after the first: apart, though 100 µs after the previous one
        (at(1_000), "print 5", 1, 0),
        (at(1_200), "print 6", 1, 0),  # a resolution (200 µs) after: apart
    ]


def test_a_mark_of_another_category_or_before_the_merged_ones_is_drawn_apart():
    timeline = fold(
        Event("instant", at(100), "w", "put 1", "notify"),
        Event("instant", at(110), "w", "print", "print"),
        Event("instant", at(120), "w", "print", "print"),
        Event("instant", at(50), "w", "print", "print"),
    )
    timeline.close()
    assert [(m.ts_ns, m.category, m.count) for m in timeline.marks] == [
        (at(100), "notify", 1),
        (at(110), "print", 2),
        (at(50), "print", 1),
    ]
    assert timeline.pending_marks(timeline.lanes[0]) == []


def test_a_mark_still_merging_is_drawn_with_the_open_parts():
    timeline = fold(Event("instant", at(0), "w", "tick", "print"), Event("instant", at(10), "w", "tick", "print"))
    lane = timeline.lanes[0]
    assert timeline.marks == [] and [(m.count, m.last_ns) for m in timeline.pending_marks(lane)] == [(2, at(10))]


def test_arrows_too_close_to_tell_apart_between_the_same_lanes_are_drawn_once():
    pairs = [(0, 5), (10, 15), (20, 300), (400, 405)]  # µs: notify, then the wait it ends
    events = []
    for notify, woken in pairs:
        events += [
            Event("instant", at(notify), "Speaker", "notify", "notify"),
            Event("instant", at(woken), "Listener", "woken", "woken"),
        ]
    events += [Event("instant", at(30), "Other", "woken", "woken")]  # the same notify, another lane: its own arrow
    speaker, listener, other = 0, 1, 2
    assert fold(*events).arrows == [
        Arrow(speaker, at(0), listener, at(5)),
        Arrow(speaker, at(20), listener, at(300)),  # its notify is close to the first's, its woken is not
        Arrow(speaker, at(400), listener, at(405)),
        Arrow(speaker, at(20), other, at(30)),
    ]
    every = Timeline(coalesce=False)
    every.apply_all(events)
    assert len(every.arrows) == 5


def test_spans_of_other_names_merged_say_so_in_their_name_and_label():
    same = fold(*short_spans(3, t0=T0, name="step"))
    same.close()
    mixed = fold(*short_spans(1, t0=T0, name="step"), *short_spans(2, t0=at(2), name="other"))
    mixed.close()
    assert [(s.name, s.count) for s in same.spans] == [("step", 3)]
    assert [(s.name, s.count) for s in mixed.spans] == [("step, …", 3)]
    assert mixed.spans[0].busy_ns == 3 * US and (mixed.spans[0].start_ns, mixed.spans[0].end_ns) == (at(0), at(5))


def test_open_spans_are_drawn_up_to_now_outermost_first_then_the_spans_still_merging():
    timeline = fold(
        Event("begin", at(1_000), "w", "hold a", "hold"),
        Event("begin", at(2_000), "w", "Lock.acquire b", "wait"),
        Event("begin", at(2_010), "w", "tiny", "run"),
        Event("end", at(2_011), "w"),  # merging, inside the wait
    )
    lane = timeline.lanes[0]
    assert timeline.open_spans(lane, now_ns=at(5_000)) == [
        Span(0, "hold a", "hold", at(1_000), at(5_000), 0),
        Span(0, "Lock.acquire b", "wait", at(2_000), at(5_000), 1),
        Span(0, "tiny", "run", at(2_010), at(2_011), 2),
    ]
    # a clock read a little before the last event: an open span is never drawn ending before it began
    assert [s.end_ns for s in timeline.open_spans(lane, now_ns=at(1_500))][:2] == [at(1_500), at(2_000)]
    assert timeline.spans == []


def test_a_span_as_long_as_the_resolution_is_drawn_alone_and_one_a_resolution_away_is_not_joined():
    res = 200 * US
    timeline = fold(
        *short_spans(1, t0=T0, length_ns=res - 1),
        *short_spans(1, t0=at(300), length_ns=res),
        *short_spans(1, t0=at(600), length_ns=US),
        *short_spans(1, t0=at(601) + res, length_ns=US),
    )
    timeline.close()
    assert [(s.start_ns - T0, s.end_ns - T0, s.count) for s in timeline.spans] == [
        (0, res - 1, 1),
        (300 * US, 500 * US, 1),
        (600 * US, 601 * US, 1),
        (801 * US, 802 * US, 1),
    ]
    assert all((s.lane, s.depth, s.name) == (0, 0, "step") for s in timeline.spans)


def test_merged_spans_are_drawn_as_soon_as_they_are_as_wide_as_the_resolution():
    timeline = fold(*short_spans(100, t0=T0, every_ns=2 * US, length_ns=US))  # 0-199 µs: one short of 200
    assert timeline.spans == []
    timeline.apply_all(short_spans(1, t0=at(199), length_ns=US))  # 0-200 µs
    assert timeline.spans == [Span(0, "step", "run", T0, at(200), 0, count=101, busy_ns=101 * US)]


def test_short_spans_nested_in_one_that_ends_are_drawn_at_their_depth_when_it_ends():
    timeline = fold(
        Event("begin", at(0), "w", "outer", "run"),
        Event("begin", at(1), "w", "middle", "run"),
        *short_spans(2, t0=at(2), name="inner"),  # depth 2, merging
        Event("end", at(10), "w"),  # middle ends: nothing more joins inner
    )
    inner = Span(0, "inner", "run", at(2), at(5), 2, count=2, busy_ns=2 * US)
    assert timeline.spans == [inner]  # middle, short too, is merging at depth 1
    timeline.apply_all(
        [
            Event("begin", at(12), "w", "middle", "run"),
            *short_spans(1, t0=at(13), name="inner"),  # depth 2 again, beside the middles merging at depth 1
            Event("end", at(15), "w"),  # this middle joins the first; the inner in it is drawn
            Event("begin", at(600), "w", "long middle", "run"),
            Event("end", at(900), "w"),  # drawn alone
            Event("end", at(1_000), "w"),  # outer ends
        ]
    )
    assert timeline.spans == [
        inner,
        Span(0, "inner", "run", at(13), at(14), 2),
        Span(0, "middle", "run", at(1), at(15), 1, count=2, busy_ns=12 * US),
        Span(0, "long middle", "run", at(600), at(900), 1),
        Span(0, "outer", "run", at(0), at(1_000), 0),
    ]


def test_close_draws_what_is_merging_deeper_first_then_cuts_what_never_ended():
    timeline = fold(
        Event("begin", at(0), "w", "outer", "run"),
        *short_spans(1, t0=at(1), name="shallow"),  # depth 1, merging
        Event("begin", at(5), "w", "inner", "run"),
        *short_spans(1, t0=at(6), name="deep"),  # depth 2, merging
        Event("instant", at(7), "w", "tick", "print"),
    )
    timeline.close(at(50_000))
    assert timeline.spans == [
        Span(0, "deep", "run", at(6), at(7), 2),
        Span(0, "shallow", "run", at(1), at(2), 1),
        Span(0, "inner", "run", at(5), at(50_000), 1, cut="never ended"),
        Span(0, "outer", "run", at(0), at(50_000), 0, cut="never ended"),
    ]
    assert timeline.marks == [Mark(0, at(7), "tick", "print")] and timeline.lanes[0].pending_mark is None
    assert timeline.last_ns == at(50_000)


def test_close_cuts_at_the_last_event_when_no_later_end_is_given():
    timeline = fold(Event("begin", at(0), "w", "sleep(60)", "sleep"), Event("instant", at(30), "v", "x", "print"))
    timeline.close(at(10))  # earlier than what was seen: the last event is later
    assert timeline.spans == [Span(0, "sleep(60)", "sleep", at(0), at(30), 0, cut="never ended")]


def test_a_mark_is_placed_on_its_lane_with_its_name_category_and_time():
    timeline = Timeline(coalesce=False)
    timeline.apply_all([Event("instant", at(1), "w", "hello", "print"), Event("instant", at(2), "v", "bye", "print")])
    assert timeline.marks == [Mark(0, at(1), "hello", "print"), Mark(1, at(2), "bye", "print")]


def test_counter_samples_closer_than_the_resolution_keep_the_first_time_and_the_latest_value():
    timeline = fold(
        *(
            Event("counter", at(us), "w", "depth", value=v)
            for us, v in ((0, 1), (0, 2), (199, 3), (200, 4), (399.999, 5), (400, 6))
        )
    )
    assert timeline.by_name["depth"].samples == [(at(0), 3.0), (at(200), 5.0), (at(400), 6.0)]


def test_the_output_the_result_and_the_failure_are_kept_as_they_came():
    timeline = fold(
        Event("header", at(0), "main", value={"pid": 1}),
        Event("output", at(1), "", "raw line"),
        Event("result", at(2), "main", value={"actual": 3}),
        Event("failure", at(3), "main", value={"error": "boom"}),
    )
    assert (timeline.header, timeline.result, timeline.failure) == ({"pid": 1}, {"actual": 3}, {"error": "boom"})
    assert timeline.output == ["raw line"] and timeline.prints == [Printed(at(1), None, "raw line")]
    assert [lane.worker for lane in timeline.lanes] == ["main"]  # raw output is no lane's


def test_apply_all_takes_an_event_earlier_than_the_first_and_a_lane_event_of_a_known_lane_like_apply():
    events = [
        Event("begin", at(100), "w", "work", "run"),
        Event("end", at(200), "w"),
        Event("begin", at(50), "w", "earlier", "run"),
        Event("end", at(60), "w"),  # another process's, late
        Event("lane", at(300), "w", value={"pid": 4, "tid": 40, "thread": "w"}),
    ]
    at_once = Timeline()
    at_once.apply_all(events)
    assert at_once.t0_ns == at(50) and (at_once.lanes[0].pid, at_once.lanes[0].tid) == (4, 40)
    assert at_once.series == [] and at_once.spans == fold(*events).spans


def test_a_notify_at_the_very_moment_of_the_wait_woke_it_and_a_later_one_on_its_lane_did_not():
    timeline = fold(
        instant(5, "Listener", "woken"),
        instant(5, "Speaker", "notify"),  # the woken came first
        instant(6, "Other", "woken"),
        instant(7, "Other", "notify"),
    )
    speaker, listener, other = 1, 0, 2
    assert timeline.arrows == [Arrow(speaker, 5 * MS, listener, 5 * MS), Arrow(speaker, 5 * MS, other, 6 * MS)]
    assert list(timeline.pairing.early_wokens) == []


def test_keyed_notifies_and_wokens_pair_on_other_lanes_only_and_in_time_order():
    timeline = fold(
        handed(1, "producer", "put 'a'", "notify", "k"),
        handed(2, "producer", "got 'a'", "woken", "k"),  # its own put: not the one handed over
        handed(3, "consumer", "got 'a'", "woken", "k"),
        handed(10, "consumer", "got 'b'", "woken", "j"),  # before its put: waits for it
        handed(11, "producer", "put 'b'", "notify", "j"),  # after the got: not what woke it
        handed(9, "producer", "put 'b'", "notify", "j"),
    )
    producer, consumer = 0, 1
    assert timeline.arrows == [Arrow(producer, 1 * MS, consumer, 3 * MS), Arrow(producer, 9 * MS, consumer, 10 * MS)]
    assert timeline.pairing.keyed_notifies.by_key == {"j": [(11 * MS, producer)]}
    assert timeline.pairing.keyed_wokens.by_key == {"k": [(2 * MS, producer)]}
    assert (timeline.pairing.keyed_notifies.count, timeline.pairing.keyed_wokens.count) == (1, 1)


def test_unpaired_notifies_past_the_bound_drop_the_oldest_of_the_longest_held_item():
    timeline = fold(*(handed(i, "producer", f"put {i}", "notify", f"1:{i}") for i in range(NOTIFIES_KEPT + 2)))
    held = timeline.pairing.keyed_notifies
    assert held.count == NOTIFIES_KEPT == sum(len(v) for v in held.by_key.values())
    assert "1:0" not in held.by_key and "1:1" not in held.by_key and "1:2" in held.by_key
    plain = fold(*(instant(i / 1000, "Speaker", "notify") for i in range(NOTIFIES_KEPT + 2)))
    assert len(plain.pairing.notifies) == NOTIFIES_KEPT and plain.pairing.notifies[0] == (2 * MS // 1000, 0)


def test_arrows_a_resolution_apart_at_either_end_are_drawn_apart():
    timeline = fold(
        instant(0, "Speaker", "notify"),
        instant(0.25, "Listener", "woken"),
        instant(0.2, "Speaker", "notify"),
        instant(0.26, "Listener", "woken"),  # notified 200 µs later
        instant(0.21, "Speaker", "notify"),
        instant(0.46, "Listener", "woken"),
    )  # woken 200 µs later
    assert [(a.from_ns, a.to_ns) for a in timeline.arrows] == [
        (0, 250 * US),
        (200 * US, 260 * US),
        (210 * US, 460 * US),
    ]


def test_a_queues_old_log_pairs_a_get_with_the_put_of_the_same_whole_item():
    timeline = fold(
        handed(1, "producer", "put 1", "notify", None),
        handed(2, "producer", "put 2", "notify", None),
        handed(3, "consumer", "got 2", "woken", None),
    )
    assert timeline.arrows == [Arrow(0, 2 * MS, 1, 3 * MS)]


def test_a_keyed_handover_pairs_across_lanes_at_the_same_instant_never_backwards_in_time():
    timeline = fold(
        handed(5, "producer", "got 'c'", "woken", "c"),
        handed(4, "producer", "put 'c'", "notify", "c"),  # its own lane
        handed(7, "consumer", "got 'e'", "woken", "e"),
        handed(7, "producer", "put 'e'", "notify", "e"),  # same instant
        handed(8, "producer", "put 'f'", "notify", "f"),
        handed(8, "consumer", "got 'f'", "woken", "f"),
        handed(20, "producer", "put 'd'", "notify", "d"),
        handed(19, "consumer", "got 'd'", "woken", "d"),  # got before put
    )
    producer, consumer = 0, 1
    assert timeline.arrows == [Arrow(producer, 7 * MS, consumer, 7 * MS), Arrow(producer, 8 * MS, consumer, 8 * MS)]


def test_a_get_pairs_with_the_earliest_put_of_its_item_and_of_equal_ones_the_first_to_arrive():
    timeline = fold(
        handed(5, "producer-2", "put 'x'", "notify", "x"),
        handed(3, "producer-1", "put 'x'", "notify", "x"),
        handed(6, "consumer", "got 'x'", "woken", "x"),
        handed(9, "producer-1", "put 'y'", "notify", "y"),
        handed(9, "producer-2", "put 'y'", "notify", "y"),
        handed(10, "consumer", "got 'y'", "woken", "y"),
    )
    assert drawn(timeline) == [("producer-1", 3 * MS, "consumer", 6 * MS), ("producer-1", 9 * MS, "consumer", 10 * MS)]


def test_wokens_still_waiting_for_their_notify_stay_bounded_after_a_notify_came():
    timeline = fold(
        instant(1_000, "Speaker", "notify"),
        instant(0, "Listener", "woken"),
        instant(1_000, "Speaker", "notify"),  # early wokens are looked at again, and kept
        *(instant(i / 100, "Listener", "woken") for i in range(NOTIFIES_KEPT + 10)),
    )
    assert len(timeline.pairing.early_wokens) == NOTIFIES_KEPT
