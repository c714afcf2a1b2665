"""A web replica's mirror of a run a node runs (app/storage/redis_mirror.py): the run's stream, folded entry by
entry, gives the run the node had, drawn the same; an end is final. Pure: no Redis."""

from __future__ import annotations

from redis.typing import EncodableT, FieldT

from app.model.events import Event
from app.model.runs import Place, Run, Truncation
from app.model.status import Status
from app.storage import redis_formats as formats
from app.storage.redis_documents import StateDoc
from app.storage.redis_formats import Entry, read_entry
from app.storage.redis_mirror import fold, mirror_of
from app.storage.wire import LogState, bounded, pack_wire, rows_of
from tests.helpers import RACE, drawn, header, result, spans


def as_read(fields: dict[FieldT, EncodableT]) -> dict[bytes, bytes]:
    """An entry's fields as written, as a client reads them back: bytes, keys and values."""
    return {encoded(k): encoded(v) for k, v in fields.items()}


def encoded(item: EncodableT) -> bytes:
    return item if isinstance(item, bytes) else str(item).encode()


def entries_of_a_run(
    run: Run, batches: list[list[Event]], cut_at_ns: int | None = None, status: Status = Status.DONE
) -> list[Entry]:
    """The stream a node writes for `run` ingesting `batches`, then ending `status`, read back as entries."""
    raw = [formats.state_entry(formats.state_doc(run))]
    run.start()
    raw.append(formats.state_entry(formats.state_doc(run, "node-1")))
    for events in batches:
        first = run.received + 1
        run.ingest(events)
        for row in rows_of([(first, events, b"")]):
            stored = bounded(row, LogState(), 10**9)
            assert stored is not None
            raw.append(formats.events_entry(*stored))
    run.finish(status, None if status == Status.DONE else "killed", cut_at_ns)
    raw.append(formats.state_entry(formats.state_doc(run, "node-1")))
    return [read_entry(f"{n}-0", as_read(fields)) for n, fields in enumerate(raw, 1)]


def state_of(entry: Entry) -> StateDoc:
    """A state entry's document (a run's stream begins and ends with one)."""
    doc = entry.state
    assert doc is not None, f"entry {entry.id} is a {entry.kind} entry, not a state"
    return doc


def test_a_mirror_folded_from_the_stream_is_the_run_the_node_had():
    node_run = Run("r1", RACE, {"workers": 2})
    entries = entries_of_a_run(node_run, [header(), spans(3), result(100)])
    mirror = mirror_of(state_of(entries[0]), {RACE.id: RACE})
    assert (mirror.status, mirror.received) == (Status.QUEUED, 0)
    fold(mirror, entries[0])
    fold(mirror, entries[1])
    assert (mirror.status, mirror.started_at) == (Status.RUNNING, node_run.started_at)
    for entry in entries[2:]:
        fold(mirror, entry)
    assert mirror.status == Status.DONE and mirror.ended_at == node_run.ended_at
    assert drawn(mirror) == drawn(node_run)
    assert mirror.received == node_run.received == 9
    assert mirror.to_json() == node_run.to_json()


def test_a_run_killed_mid_span_is_cut_where_its_node_cut_it_and_a_second_end_changes_nothing():
    node_run = Run("r2", RACE, {})
    entries = entries_of_a_run(node_run, [header(), [spans(1)[0]]], cut_at_ns=50, status=Status.INTERRUPTED)
    mirror = mirror_of(state_of(entries[0]), {RACE.id: RACE})
    for entry in entries:
        fold(mirror, entry)
    assert mirror.status == Status.INTERRUPTED and mirror.cut_at_ns == 50
    assert drawn(mirror) == drawn(node_run)
    later = {**state_of(entries[-1]), "status": "done", "error": None}
    fold(mirror, read_entry("99-0", {b"v": b"1", b"kind": b"state", b"doc": formats.dumps(later)}))
    assert mirror.status == Status.INTERRUPTED and mirror.error == "killed"


def test_an_events_entry_written_twice_is_folded_once():
    """A node's write sent again after Redis dropped the connection may have landed the first time too."""
    node_run = Run("r3", RACE, {})
    entries = entries_of_a_run(node_run, [header(), spans(2)])
    mirror = mirror_of(state_of(entries[0]), {RACE.id: RACE})
    for entry in entries[:4] + entries[3:]:  # the spans' entry twice
        fold(mirror, entry)
    assert drawn(mirror) == drawn(node_run) and mirror.received == node_run.received == 6


def test_the_runners_lines_stored_as_they_came_are_folded_numbered_from_the_entrys_first():
    node_run = Run("r4", RACE, {})
    entries = entries_of_a_run(node_run, [header()])
    mirror = mirror_of(state_of(entries[0]), {RACE.id: RACE})
    for entry in entries[:3]:
        fold(mirror, entry)
    line = b'[["B",10,"w1","step 0","run"],["E",15,"w1"]]'
    fold(mirror, read_entry("9-0", as_read(formats.events_entry(3, 4, pack_wire([line])))))
    assert mirror.received == 4
    fold(mirror, entries[3])  # the run's end: what is drawn is final
    assert [(s.name, s.start_ns, s.end_ns) for s in mirror.timeline.spans] == [("step 0", 10, 15)]


def test_where_the_stored_log_was_cut_reaches_the_mirror_by_its_entry_and_by_the_runs_last_state():
    node_run = Run("r5", RACE, {})
    entries = entries_of_a_run(node_run, [header()])
    mirror = mirror_of(state_of(entries[0]), {RACE.id: RACE})
    fold(mirror, entries[0])
    mirror.changed.clear()
    fold(mirror, read_entry("8-0", as_read(formats.truncated_entry(Truncation(2048, 60)))))
    assert mirror.truncated == Truncation(2048, 60) and mirror.changed.is_set()  # its page says so at once
    node_run.truncated = Truncation(4096, 120)
    later = read_entry("9-0", as_read(formats.state_entry(formats.state_doc(node_run, "node-1"))))
    other = mirror_of(state_of(entries[0]), {RACE.id: RACE})
    fold(other, later)
    assert other.truncated == Truncation(4096, 120)


def place_of(run: Run) -> Place | None:
    """Where the run's page says it stands in line."""
    return run.place


def test_a_mirror_says_its_own_place_in_line_while_queued_and_none_once_the_run_started():
    node_run = Run("r6", RACE, {})
    node_run.place = Place(1, "next on node-1")  # the node's word for it travels in the state document
    queued = formats.state_doc(node_run)
    mirror = mirror_of(queued, {RACE.id: RACE})
    mirror.place = Place(3, "third in line")  # this replica's word for it
    fold(mirror, read_entry("1-0", as_read(formats.state_entry(queued))))
    assert (mirror.status, place_of(mirror)) == (Status.QUEUED, Place(3, "third in line"))
    node_run.start()
    fold(mirror, read_entry("2-0", as_read(formats.state_entry(formats.state_doc(node_run, "node-1")))))
    assert (mirror.status, place_of(mirror)) == (Status.RUNNING, None)
