"""The event stream from a runner: bytes in, Event objects out. Pure, no I/O."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

KINDS = {
    "H": "header", "L": "lane", "B": "begin", "E": "end", "I": "instant",
    "C": "counter", "R": "result", "F": "failure",
}


@dataclass(frozen=True, slots=True)
class Event:
    kind: str  # one of KINDS' values, or "output" for a line that was not JSON
    ts_ns: int
    worker: str
    name: str = ""
    category: str = ""
    value: Any = None  # header/lane/result/failure info, or a counter's value

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ts_ns": self.ts_ns, "worker": self.worker, "kind": self.kind}
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


def decode(raw: list) -> Event:
    """One wire event (see experiments/recorder.py) as an Event."""
    code, ts, worker = raw[0], int(raw[1]), str(raw[2])
    kind = KINDS[code]
    if code in ("B", "I"):
        return Event(kind, ts, worker, str(raw[3]), str(raw[4]))
    if code == "C":
        return Event(kind, ts, worker, str(raw[3]), value=raw[4])
    if code == "E":
        return Event(kind, ts, worker)
    if not isinstance(raw[3], dict):
        raise TypeError(f"{kind} info must be an object")
    return Event(kind, ts, worker, value=raw[3])


@dataclass
class StreamParser:
    """Split a byte stream into lines and lines into events.

    A line that is not a valid event batch (a stray write to fd 1 by C code, a truncated
    last line from a killed runner) becomes an "output" event instead of breaking the run.
    """

    pending: bytes = b""
    last_ts: int = 0

    def feed(self, data: bytes) -> list[Event]:
        *lines, self.pending = (self.pending + data).split(b"\n")
        return [event for line in lines if line.strip() for event in self._parse_line(line)]

    def close(self) -> list[Event]:
        rest, self.pending = self.pending, b""
        return self._parse_line(rest) if rest.strip() else []

    def _parse_line(self, line: bytes) -> list[Event]:
        try:
            batch = json.loads(line)
            events = [decode(raw) for raw in batch]
        except (ValueError, KeyError, IndexError, TypeError):
            text = line.decode("utf-8", "replace")[:300]
            return [Event("output", self.last_ts, "main", text, "output")]
        if events:
            self.last_ts = max(self.last_ts, events[-1].ts_ns)
        return events
