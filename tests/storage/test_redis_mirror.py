"""A web replica's mirror of a run a node runs (app/storage/redis_mirror.py): the run's stream, folded entry by
entry, gives the run the node had, drawn the same; an end is final. Pure: no Redis."""

from __future__ import annotations

from redis.typing import EncodableT, FieldT

from app.model.events import Event
from app.model.runs import Run
from app.model.status import Status
from app.storage import redis_formats as formats
from app.storage.redis_documents import StateDoc
from app.storage.redis_formats import Entry, read_entry
from app.storage.redis_mirror import fold, mirror_of
from app.storage.wire import LogState, bounded, rows_of
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
