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
