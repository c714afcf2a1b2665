"""The event stream from a runner: bytes in, Event objects out. Pure, no I/O.

Hot path (issue 5: >= 200 000 events/s): a read chunk's complete lines are parsed with one
`json.loads` over them joined into one array, and an Event is a NamedTuple (a plain tuple to
build, where a frozen dataclass costs a Python-level __init__). A chunk with a bad line falls
back to line by line, so only that line becomes an "output" event.
"""

from __future__ import annotations

import json
from array import array
from base64 import b64decode
from dataclasses import dataclass
from typing import Any, Final, Literal, NamedTuple

from app.model.documents import EventJson, Kind
from experiments.harness.switch_records import GOING_ON, U32, U64

KINDS: Final[dict[str, Kind]] = {
    "H": "header",
    "L": "lane",
    "B": "begin",
    "E": "end",
    "I": "instant",
    "C": "counter",
    "R": "result",
    "F": "failure",
    "S": "service",
    # From the on-CPU sampler (experiments/harness/sampler.py), not the recorder:
    "T": "oncpu",
    "X": "exit",
    "M": "machine",
    "G": "gap",
}
# What the kernel says, not what the code said:
SAMPLED: Final[frozenset[Kind]] = frozenset({"oncpu", "exit", "machine", "gap"})
# How an on-CPU interval ended, by the switch record's letter: the API's word for it.
ENDED: Final[dict[str, Literal["preempted", "voluntary"]]] = {"p": "preempted", "v": "voluntary"}


class Event(NamedTuple):
    kind: Kind
    ts_ns: int
    worker: str
    name: str = ""
    category: str = ""
    # header/lane/result/failure info, a counter's value, a notify's/woken's key, or an oncpu's
    # (tid, end_ns, cpu, how): cpu -1 and how "" where the /proc sampler could not tell
    # (how: "p" preempted, "v" gave the CPU up, "" going on or unknown)
    value: Any = None

    def to_json(self, lane_of_tid: dict[int, str] | None = None) -> EventJson:
        """The API's form; an oncpu event's worker is the lane of its thread (`lane_of_tid`), "" if none."""
        out: EventJson = {"ts_ns": self.ts_ns, "worker": self.worker, "kind": self.kind}
        if self.kind == "oncpu":
            tid, end, cpu, how = self.value
            out["worker"] = (lane_of_tid or {}).get(tid, "")
            out["tid"], out["start_ns"], out["end_ns"] = tid, self.ts_ns, end
            if cpu >= 0:
                out["cpu"], out["ended"] = cpu, ENDED.get(how, "")
            return out
        if self.kind == "begin":
            out["start_ns"] = self.ts_ns
        elif self.kind == "end":
            out["end_ns"] = self.ts_ns
        if self.name:
            out["name"] = self.name
        if self.category:
            out["category"] = self.category
        if self.value is not None:
            out["value"] = self.value
        return out


def decode(raw: list[Any]) -> Event:
    """One wire event (see experiments/harness/recorder.py) as an Event."""
    code, ts, worker = raw[0], raw[1], raw[2]
    if type(ts) is not int:
        ts = int(ts)
    if type(worker) is not str:
        worker = str(worker)
    if code == "E":
        return Event("end", ts, worker)
    if code == "B" or code == "I":
        name, category = raw[3], raw[4]
        # An instant's sixth item, if any, is the key pairing a woken with its notify (kept as value).
        key = raw[5] if code == "I" and len(raw) > 5 and raw[5] is not None else None
        return Event(
            KINDS[code],
            ts,
            worker,
            name if type(name) is str else str(name),
            category if type(category) is str else str(category),
            key if key is None or type(key) is str else str(key),
        )
    # ["T", start_ns, "", tid, end_ns] from /proc; [..., cpu, how] a switch-record turn, as a stored line holds it
    if code == "T":
        if len(raw) > 6:
            return Event("oncpu", ts, worker, value=(int(raw[3]), int(raw[4]), int(raw[5]), str(raw[6])))
        return Event("oncpu", ts, worker, value=(int(raw[3]), int(raw[4]), -1, ""))
    if code == "C":
        name = raw[3]
        return Event("counter", ts, worker, name if type(name) is str else str(name), "", raw[4])
    kind = KINDS[code]
    if not isinstance(raw[3], dict):
        raise TypeError(f"{kind} info must be an object")
    return Event(kind, ts, worker, value=raw[3])


_new = tuple.__new__


def _column(typecode: str, text: Any) -> list[int]:
    """A "U" batch's column: integers of `typecode`'s size, in base64, little-endian as this machine's (the
    sampler reads the kernel's records so: the lab runs on little-endian machines)."""
    column = array(typecode)
    column.frombytes(b64decode(text, validate=True))  # ValueError if not base64 or not whole integers
    return column.tolist()


def _turns(raw: list[Any]) -> list[Event]:
    """A read's turns from the switch records, ["U", ts, "", tids, starts, ends, cpus, hows] (experiments/harness/
    sampler.py: the columns' integers packed, in base64), as one oncpu Event per turn, as its "T" would decode.
    Raises ValueError or TypeError if its columns are not that, or not of one length (a letter each in `hows`)."""
    _, _, _, tids, starts, ends, cpus, hows = raw
    tids, starts, ends, cpus = _column(U32, tids), _column(U64, starts), _column(U64, ends), _column(U32, cpus)
    if type(hows) is not str or not len(tids) == len(starts) == len(ends) == len(cpus) == len(hows):
        raise ValueError("a batch of turns needs its columns of one length")
    return [
        _new(Event, ("oncpu", start, "", "", "", (tid, end, cpu, "" if how == GOING_ON else how)))
        for tid, start, end, cpu, how in zip(tids, starts, ends, cpus, hows)
    ]


def _decode_batches(batches: list[list[list[Any]]]) -> list[Event]:
    """`decode` over every event of every batch, with the kinds a flood is made of inlined, and a batch of
    turns ("U") unpacked into its turns.

    Builds each Event with tuple.__new__ (no Python-level __new__ per event); anything unusual
    (a wrong type, another kind) goes through `decode`, which checks and converts.
    """
    out: list[Event] = []
    append = out.append
    for batch in batches:
        for raw in batch:
            code = raw[0]
            n = len(raw)
            if code == "E" and n == 3 and type(raw[1]) is int and type(raw[2]) is str:
                append(_new(Event, ("end", raw[1], raw[2], "", "", None)))
            elif (
                (code == "B" or code == "I")
                and n == 5
                and type(raw[1]) is int
                and type(raw[2]) is str
                and type(raw[3]) is str
                and type(raw[4]) is str
            ):
                append(_new(Event, ("begin" if code == "B" else "instant", raw[1], raw[2], raw[3], raw[4], None)))
            elif code == "C" and n == 5 and type(raw[1]) is int and type(raw[2]) is str and type(raw[3]) is str:
                append(_new(Event, ("counter", raw[1], raw[2], raw[3], "", raw[4])))
            elif code == "U":
                out += _turns(raw)
            else:
                append(decode(raw))
    return out


def decode_wire(wire: bytes) -> list[Event]:
    """The events of lines of the wire format (no trailing newline), parsed in one `json.loads`.

    Raises ValueError (or KeyError, IndexError, TypeError) if any line is not a batch of events.
    Lines that parsed once parse again to the same events: the run store keeps a flood as its wire lines.
    """
    return _decode_batches(json.loads(b"[" + wire.replace(b"\n", b",") + b"]"))


TORN: Final = "torn"  # the kind of a line that was an event batch once, cut by another writer's bytes


def looks_torn(line: bytes) -> bool:
    """A bad line that begins or ends like a batch: a batch another write cut into, not a program's text."""
    line = line.strip()
    return line.startswith(b'[["') or line.endswith(b"]]")


@dataclass
class StreamParser:
    """Split a byte stream into lines and lines into events.

    A line that is not a valid event batch (a stray write to fd 1 by C code, a truncated
    last line from a killed runner) becomes an "output" event instead of breaking the run;
    one that looks like a batch another write tore (`looks_torn`), or any bad line on a pipe
    that only ever carries batches (`batches_only`: the sampler's), a "torn" event: counted
    and shown as such, never as the run's output.
    """

    pending: bytes = b""
    last_ts: int = 0
    wire: bytes = b""  # the last feed's complete lines (stripped) when every one was a batch, else b""
    batches_only: bool = False

    def feed(self, data: bytes) -> list[Event]:
        data = self.pending + data
        cut = data.rfind(b"\n") + 1
        whole, self.pending = data[:cut], data[cut:]
        self.wire = b""
        if not whole:
            return []
        wire = whole.rstrip()
        try:  # the usual case: every line a batch, parsed at C speed in one call
            events = decode_wire(wire)
        except (ValueError, KeyError, IndexError, TypeError):
            return [event for line in whole.split(b"\n") if line.strip() for event in self._parse_line(line)]
        self.wire = wire
        if events:
            self.last_ts = max(self.last_ts, events[-1].ts_ns)
        return events

    def close(self) -> list[Event]:
        """The last line, without its newline: a runner killed mid-write (kept as output, as it came; torn on the
        sampler's own pipe)."""
        rest, self.pending = self.pending, b""
        return self._parse_line(rest, last=True) if rest.strip() else []

    def _parse_line(self, line: bytes, last: bool = False) -> list[Event]:
        try:
            batch = json.loads(line)
        except ValueError:  # not JSON: a program's text, or a batch another write cut into
            batch, cut = None, not last and looks_torn(line)
        else:
            cut = False
        try:
            if batch is None:
                raise ValueError("not JSON")
            events = _decode_batches([batch])
        except (ValueError, KeyError, IndexError, TypeError):
            text = line.decode("utf-8", "replace")[:300]
            # On the sampler's own pipe every line is a batch, the last one too (a sampler killed mid-write).
            if cut or self.batches_only:
                return [Event(TORN, self.last_ts, "main", text, TORN)]
            return [Event("output", self.last_ts, "main", text, "output")]
        if events:
            self.last_ts = max(self.last_ts, events[-1].ts_ns)
        return events
