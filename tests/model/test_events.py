"""Parsing the runner's byte stream: lines split anywhere, junk tolerated, nothing invented."""

from __future__ import annotations

import json
from typing import Any

from app.model.events import Event, StreamParser
from app.model.timeline import Timeline

BATCH = [
    ["H", 10, "main", {"python": "3.11.7"}],
    ["L", 11, "main", {"pid": 5, "tid": 5, "thread": "MainThread"}],
    ["B", 12, "main", "running", "run"],
    ["I", 13, "main", "hello", "print"],
    ["C", 14, "main", "queue depth", 3],
    ["E", 15, "main"],
    ["R", 16, "main", {"actual": 1}],
]


def encoded(batch: object) -> bytes:
    return (json.dumps(batch) + "\n").encode()


def test_a_batch_line_becomes_events_of_each_kind():
    events = StreamParser().feed(encoded(BATCH))
    assert [e.kind for e in events] == ["header", "lane", "begin", "instant", "counter", "end", "result"]
    assert events[2] == Event("begin", 12, "main", "running", "run")
    assert events[4].value == 3 and events[4].name == "queue depth"
    assert events[6].value == {"actual": 1}


def test_lines_split_across_reads_are_reassembled():
    data = encoded(BATCH[:3]) + encoded(BATCH[3:])
    parser = StreamParser()
    events = [e for i in range(0, len(data), 7) for e in parser.feed(data[i : i + 7])]
    assert [e.ts_ns for e in events] == [10, 11, 12, 13, 14, 15, 16]


def test_junk_lines_become_output_events_instead_of_breaking_the_run():
    parser = StreamParser()
    events = parser.feed(encoded(BATCH[:1]) + b"Segmentation fault\n" + b'[["Z", 1, "main"]]\n')
    assert [e.kind for e in events] == ["header", "output", "output"]
    assert events[1].name == "Segmentation fault" and events[1].ts_ns == 10


def test_a_truncated_last_line_from_a_killed_runner_is_kept_as_output():
    parser = StreamParser()
    assert parser.feed(encoded(BATCH[:2]) + b'[["B", 20, "ma') != []
    assert [e.kind for e in parser.close()] == ["output"]


def test_api_shape_of_span_events():
    begin, end = Event("begin", 5, "w", "fib(3)", "cpu"), Event("end", 9, "w")
    assert begin.to_json() == {
        "ts_ns": 5,
        "worker": "w",
        "kind": "begin",
        "start_ns": 5,
        "name": "fib(3)",
        "category": "cpu",
    }
    assert end.to_json() == {"ts_ns": 9, "worker": "w", "kind": "end", "end_ns": 9}


def test_an_event_with_badly_shaped_info_is_output_not_a_crash():
    events = StreamParser().feed(b'[["L", 1, "main", "not an object"]]\n')
    assert [e.kind for e in events] == ["output"]


def test_a_chunk_of_many_lines_with_one_bad_line_keeps_every_good_event():
    good = encoded([["B", 1, "w", "a", "run"], ["E", 2, "w"]])
    data = good + b"Segmentation fault (core dumped)\n" + good + b"\n" + encoded([["C", 3, "w", "depth", 2]])
    events = StreamParser().feed(data)
    assert [e.kind for e in events] == ["begin", "end", "output", "begin", "end", "counter"]
    assert events[2].name == "Segmentation fault (core dumped)"
    assert events[-1] == Event("counter", 3, "w", "depth", "", 2)


def test_an_instant_keeps_the_key_that_pairs_a_woken_with_its_notify_and_old_instants_have_none():
    events = StreamParser().feed(
        encoded(
            [
                ["I", 1, "producer", "put 'Item-0'", "notify", "4021:1"],
                ["I", 2, "consumer", "got 'Item-0'", "woken", "4021:1"],
                ["I", 3, "consumer", "got 'Item-1'", "woken"],
            ]
        )
    )
    assert [e.value for e in events] == ["4021:1", "4021:1", None]
    assert events[0] == Event("instant", 1, "producer", "put 'Item-0'", "notify", "4021:1")


def test_the_inlined_fast_path_decodes_every_kind_as_decode_does():
    from app.model.events import _decode_batches, decode

    batch: list[list[Any]] = [  # as the wire carries them: JSON arrays of any values
        ["B", 1, "w", "n", "c"],
        ["E", 2, "w"],
        ["I", 3, "w", "m", "print"],
        ["C", 4, "w", "depth", 2.5],
        ["C", 5, "w", "depth", None],
        ["C", 6, 7, 8, "9"],
        ["B", 7.9, 3, 4, 5],
        ["E", "8", "w"],
        ["R", 9, "main", {"ok": True}],
    ]
    fast = _decode_batches([batch])
    assert fast == [decode(raw) for raw in batch]
    assert all(type(a) is type(b) for e, d in zip(fast, map(decode, batch)) for a, b in zip(e, d))


def test_a_batch_another_write_cut_into_is_counted_as_torn_not_shown_as_output():
    whole = encoded(BATCH[:2])
    cut = whole[:30] + encoded(BATCH[2:3]) + whole[30:]  # a long write of another process landed inside it
    parser = StreamParser()
    events = parser.feed(cut)
    assert [e.kind for e in events] == ["torn", "torn"]  # both halves: neither is the run's output
    timeline = Timeline()
    timeline.apply_all(parser.feed(encoded(BATCH[:1])) + events)
    assert timeline.torn == 2 and timeline.output == []


def test_on_the_samplers_own_pipe_any_bad_line_is_torn():
    parser = StreamParser(batches_only=True)
    assert [e.kind for e in parser.feed(b"Segmentation fault\n")] == ["torn"]
    assert [e.kind for e in parser.feed(b'[["U",1,"","CwAA')] == []  # a sampler killed mid-write
    assert [e.kind for e in parser.close()] == ["torn"]  # its last line is its own, cut short: not the run's output
