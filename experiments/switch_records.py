"""The kernel's context-switch records: ring-buffer bytes in, on-CPU turns out. Pure, no I/O.

Linux writes a PERF_RECORD_SWITCH each time a traced thread goes on or off a CPU
(experiments/perf_events.py asks for them), into one ring buffer per CPU. Each record is an
8-byte header (type u32, misc u16, size u16), its body, and the sample_id trailer that
`sample_id_all` appends with what `sample_type` asked for, in the kernel's fixed order: TID
(pid u32, tid u32), TIME (u64, CLOCK_MONOTONIC through `use_clockid`: the recorder's clock),
CPU (cpu u32, reserved u32). This module reads those bytes (`parse`) and pairs each thread's
switch-in with its switch-out (`Turns`): a turn on a CPU with exact edges, the CPU it ran on,
and whether it ended by preemption (the kernel pushed it off) or voluntarily (it waited: for
the GIL, a lock, a sleep). A PERF_RECORD_LOST says the reader fell behind and how many records
the kernel dropped: the turns it hid are unknown, and that is said, never drawn as idle.

Records of one CPU come in time order; a thread that moves from one CPU to another switches
out in one buffer and in in another, so `Turns` sorts what it is given and folds only records
older than the moment reading began (a record being written as we read is folded next time).

Stdlib only, Python 3.9+.
"""
from __future__ import annotations

import struct
from typing import NamedTuple

RECORD_LOST = 2
RECORD_EXIT = 4
RECORD_SWITCH = 14
MISC_SWITCH_OUT = 1 << 13
MISC_SWITCH_OUT_PREEMPT = 1 << 14
HEADER = struct.Struct("<IHH")
TRAILER = struct.Struct("<IIQII")  # sample_id: pid, tid, time, cpu, reserved
LOST_BODY = struct.Struct("<QQ")  # id, lost
EXIT_BODY = struct.Struct("<IIIIQ")  # pid, ppid, tid, ptid, time


class Switch(NamedTuple):
    time: int  # ns, CLOCK_MONOTONIC
    pid: int
    tid: int
    cpu: int
    out: bool  # False: switched in
    preempted: bool  # an out by preemption (runnable still), not a wait


class Lost(NamedTuple):
    time: int  # when the kernel could write again
    cpu: int
    lost: int  # records dropped


class Exit(NamedTuple):
    """A traced thread ended (its last switch-out is not recorded: its events are gone by then)."""

    time: int
    pid: int
    tid: int
    cpu: int


def parse(data: bytes | memoryview) -> tuple[list[Switch | Lost | Exit], int]:
    """The whole records at the start of `data`, and how many bytes they took.

    Records of other types (and a record too short for its trailer) are skipped by their size;
    a size of 0 or one past the end stops (the rest is read again when complete).
    """
    records: list[Switch | Lost | Exit] = []
    header, trailer = HEADER.unpack_from, TRAILER.unpack_from
    size_of_trailer, end, at = TRAILER.size, len(data), 0
    while at + HEADER.size <= end:
        kind, misc, size = header(data, at)
        if size < HEADER.size or at + size > end:
            break
        if size >= HEADER.size + size_of_trailer:
            pid, tid, time, cpu, _ = trailer(data, at + size - size_of_trailer)
            if kind == RECORD_SWITCH:
                records.append(Switch(time, pid, tid, cpu, bool(misc & MISC_SWITCH_OUT),
                                      bool(misc & MISC_SWITCH_OUT_PREEMPT)))
            elif kind == RECORD_LOST and size >= HEADER.size + LOST_BODY.size + size_of_trailer:
                records.append(Lost(time, cpu, LOST_BODY.unpack_from(data, at + HEADER.size)[1]))
            elif kind == RECORD_EXIT and size >= HEADER.size + EXIT_BODY.size + size_of_trailer:
                e_pid, _, e_tid, _, e_time = EXIT_BODY.unpack_from(data, at + HEADER.size)
                records.append(Exit(e_time, e_pid, e_tid, cpu))
        at += size
    return records, at


def unwrap(buffer: bytes | memoryview, tail: int, head: int) -> bytes:
    """The bytes between `tail` and `head` of a ring buffer (positions grow forever; the buffer wraps)."""
    size = len(buffer)
    start, length = tail % size, head - tail
    if start + length <= size:
        return bytes(buffer[start:start + length])
    return bytes(buffer[start:]) + bytes(buffer[:length - (size - start)])


PREEMPTED, VOLUNTARY = "p", "v"


class Turn(NamedTuple):
    tid: int
    start: int
    end: int
    cpu: int
    how: str  # how it ended: PREEMPTED (the kernel pushed it off), VOLUNTARY (it waited), or "" (going on, or unknown)


class Gap(NamedTuple):
    """Records the kernel dropped on a CPU: what the run's threads did there is unknown until `end`."""

    start: int
    end: int
    cpu: int
    lost: int


class Turns:
    """Each thread's switch-in paired with its switch-out: turns on a CPU.

    `since` is when tracing began: a thread already on a CPU then (the runner's main thread)
    has its first turn start there. A switch-out without its switch-in (lost) starts at the
    last thing known of its CPU; a second switch-in without an out between (its out lost)
    ends the first turn where the second starts.
    """

    def __init__(self, since: int):
        self.since = since
        self.on: dict[int, tuple[int, int]] = {}  # tid -> (switched in at, cpu)
        self.held: list[Switch | Lost | Exit] = []  # newer than the last cut-off: folded next time
        self.last_on_cpu: dict[int, int] = {}  # cpu -> time of its last record (a lost gap starts there)
        self.ran: set[int] = set()  # tids seen since `take_ran`
        self.folded_to = since  # every record up to this time is folded

    def feed(self, records: list[Switch | Lost | Exit], upto: int) -> tuple[list[Turn], list[Gap]]:
        """Fold the records up to time `upto` (with those held from before); hold the rest."""
        pending = self.held + records
        pending.sort(key=lambda r: r.time)
        turns: list[Turn] = []
        gaps: list[Gap] = []
        cut = len(pending)
        for i, record in enumerate(pending):
            if record.time > upto:
                cut = i
                break
            if type(record) is Switch:
                self._switch(record, turns)
            elif type(record) is Lost:
                start = self.last_on_cpu.get(record.cpu, self.since)
                gaps.append(Gap(min(start, record.time), record.time, record.cpu, record.lost))
                # Whatever was on that CPU may have switched out unseen: its turn ends where knowledge does.
                for tid, (began, cpu) in list(self.on.items()):
                    if cpu == record.cpu:
                        del self.on[tid]
                        if start > began:
                            turns.append(Turn(tid, began, start, cpu, ""))
            elif type(record) is Exit:  # the thread's last turn ends as it does
                began_cpu = self.on.pop(record.tid, None)
                if began_cpu is not None and record.time > began_cpu[0]:
                    turns.append(Turn(record.tid, began_cpu[0], record.time, began_cpu[1], VOLUNTARY))
            self.last_on_cpu[record.cpu] = record.time
        self.held = pending[cut:]
        self.folded_to = max(self.folded_to, upto)
        return turns, gaps

    def _switch(self, record: Switch, turns: list[Turn]) -> None:
        tid, time, cpu = record.tid, record.time, record.cpu
        self.ran.add(tid)
        began = self.on.pop(tid, None)
        if not record.out:
            if began is not None and time > began[0]:  # its switch-out was lost
                turns.append(Turn(tid, began[0], time, began[1], ""))
            self.on[tid] = (time, cpu)
            return
        if began is None:  # on a CPU since before tracing began, or its switch-in was lost
            start = self.last_on_cpu.get(cpu, self.since) if self.last_on_cpu else self.since
            began = (max(start, self.since), cpu)
        if time > began[0]:
            turns.append(Turn(tid, began[0], time, began[1], PREEMPTED if record.preempted else VOLUNTARY))

    def open_turns(self, now: int) -> list[Turn]:
        """The turns going on, cut at `now` (they go on as new ones): a page draws them live.
        `now` must not be past `folded_to` (a switch-out held for later may come before it)."""
        turns = []
        for tid, (began, cpu) in self.on.items():
            if now > began:
                turns.append(Turn(tid, began, now, cpu, ""))
                self.on[tid] = (now, cpu)
        return turns

    def take_ran(self) -> set[int]:
        """The threads seen switching since the last call."""
        ran, self.ran = self.ran, set()
        return ran
