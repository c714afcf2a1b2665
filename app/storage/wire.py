"""The stored form of a run's events: numbered JSON lines, or the runner's own lines, in compressed rows.

A row holds up to CHUNK_EVENTS events of one run. Rows of the runner's lines as they came (WIRE_MARK
first) cost the writer no decoding or encoding; events that did not come as such lines (from the
server itself, or kept past a log's bound) are encoded one per line with their number first. Pure:
bytes and events in, bytes and events out.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass

from app.model.events import KINDS, TORN, Event, decode, decode_wire
from app.model.runs import Truncation

CHUNK_EVENTS = 4096  # events per stored row: what a page read decompresses at most, twice
WIRE_MARK = b"#wire\n"  # a row of the runner's lines as they came (no event line starts with #)
KEEP_PAST_BOUND = frozenset({"header", "lane", "result", "failure"})  # what replay cannot do without
CODES = {kind: code for code, kind in KINDS.items()} | {"output": "O", TORN: "W"}


def encode(seq: int, event: Event) -> str:
    """One event as a stored line: the wire format (experiments/harness/recorder.py) with its number first."""
    code = CODES[event.kind]
    if code in ("B", "I"):
        raw = [seq, code, event.ts_ns, event.worker, event.name, event.category]
        if event.value is not None:  # a notify's or woken's key
            raw.append(event.value)
    elif code == "C":
        raw = [seq, code, event.ts_ns, event.worker, event.name, event.value]
    elif code == "E":
        raw = [seq, code, event.ts_ns, event.worker]
    elif code == "T":
        raw = [seq, code, event.ts_ns, event.worker, *event.value]
    elif code == "O" or code == "W":
        raw = [seq, code, event.ts_ns, event.worker, event.name]
    else:
        raw = [seq, code, event.ts_ns, event.worker, event.value]
    return json.dumps(raw, separators=(",", ":"), default=str)


def decode_line(line: str) -> tuple[int, Event]:
    seq, *raw = json.loads(line)
    if raw[0] == "O":
        return seq, Event("output", int(raw[1]), str(raw[2]), str(raw[3]), "output")
    if raw[0] == "W":
        return seq, Event(TORN, int(raw[1]), str(raw[2]), str(raw[3]), TORN)
    return seq, decode(raw)


def pack(lines: list[str]) -> bytes:
    return zlib.compress("\n".join(lines).encode(), 1)  # level 1: 3x faster than 6, 30% bigger


def pack_wire(parts: list[bytes]) -> bytes:
    """Runner lines (each part a StreamParser.wire) as one row: no event decoded or encoded again."""
    return zlib.compress(WIRE_MARK + b"\n".join(parts), 1)


def unpack_events(blob: bytes, first_seq: int) -> list[tuple[int, Event]]:
    """A stored row's events, numbered; a wire row's are numbered on from its first_seq."""
    data = zlib.decompress(blob)
    if data.startswith(WIRE_MARK):
        return list(enumerate(decode_wire(data[len(WIRE_MARK) :]), first_seq))
    return [decode_line(line) for line in data.decode().split("\n")]


@dataclass
class Row:
    """Events for one stored row: either the runner's lines (wire) or events to encode one by one."""

    first: int
    last: int
    pieces: list[tuple[int, list[Event]]]  # (seq of the first, events)
    wire: list[bytes] | None = None

    def numbered(self) -> list[tuple[int, Event]]:
        return [(seq, e) for first, events in self.pieces for seq, e in enumerate(events, first)]


def rows_of(pieces: list[tuple[int, list[Event], bytes]]) -> list[Row]:
    """Group one run's ingested pieces (first seq, events, wire lines or b"") into stored rows in order:
    consecutive pieces with their wire lines join until a row holds CHUNK_EVENTS events (a piece is
    never split); pieces without are numbered and cut every CHUNK_EVENTS events."""
    rows: list[Row] = []
    loose: list[tuple[int, Event]] = []

    def cut_loose() -> None:
        for start in range(0, len(loose), CHUNK_EVENTS):
            chunk = loose[start : start + CHUNK_EVENTS]
            rows.append(Row(chunk[0][0], chunk[-1][0], [(chunk[0][0], [e for _, e in chunk])]))
        loose.clear()

    row: Row | None = None
    for first, events, wire in pieces:
        if not events:
            continue
        if not wire:
            row = None
            loose.extend(enumerate(events, first))
            continue
        cut_loose()
        if row is None or row.last - row.first + 1 >= CHUNK_EVENTS:
            row = Row(first, first - 1, [], [])
            rows.append(row)
        row.pieces.append((first, events))
        assert row.wire is not None  # `row` is only ever one made just above, for wire lines
        row.wire.append(wire)
        row.last = first + len(events) - 1
    cut_loose()
    return rows


@dataclass
class LogState:
    """What a writer knows of one run's stored log: its bytes, and where it reached the bound."""

    bytes: int = 0
    truncation: Truncation | None = None


def bounded(row: Row, log_state: LogState, max_bytes: int) -> tuple[int, int, bytes] | None:
    """The stored form of `row` (first, last, data) within the log's bound (LAB_MAX_LOG_MB), counted by stored
    bytes: the runner's lines compressed as they came (no re-encoding); the row that would cross the bound,
    and every row after it, keep only what replay needs (KEEP_PAST_BOUND), and `log_state.truncation` says
    where. None: nothing of it is kept. The SQLite store and the Redis journal both store rows so."""
    blob = None
    if log_state.truncation is None:
        blob = pack_wire(row.wire) if row.wire else pack([encode(seq, e) for seq, e in row.numbered()])
        if log_state.bytes + len(blob) > max_bytes:
            log_state.truncation = Truncation(log_state.bytes, row.first - 1)
            blob = None
    if blob is None:
        kept = [(seq, e) for seq, e in row.numbered() if e.kind in KEEP_PAST_BOUND]
        if not kept:
            return None
        blob = pack([encode(seq, e) for seq, e in kept])
        first, last = kept[0][0], kept[-1][0]
    else:
        first, last = row.first, row.last
    log_state.bytes += len(blob)
    return first, last, blob
