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
from typing import NamedTuple, Union

RECORD_LOST = 2
RECORD_EXIT = 4
RECORD_FORK = 7
RECORD_SWITCH = 14
MISC_SWITCH_OUT = 1 << 13
MISC_SWITCH_OUT_PREEMPT = 1 << 14
HEADER = struct.Struct("<IHH")
TRAILER = struct.Struct("<IIQII")  # sample_id: pid, tid, time, cpu, reserved
LOST_BODY = struct.Struct("<QQ")  # id, lost
EXIT_BODY = struct.Struct("<IIIIQ")  # pid, ppid, tid, ptid, time (a FORK record's body too)
SWITCH_RECORD = struct.Struct("<IHHIIQII")  # a whole PERF_RECORD_SWITCH: header and trailer, no body


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


class Fork(NamedTuple):
    """A traced thread started a thread or a process (`pid == tid`: a process, its first thread)."""

    time: int
    pid: int
    ppid: int
    tid: int
    cpu: int


Record = Union[Switch, Lost, Exit, Fork]


def parse(data: bytes | memoryview) -> tuple[list[Record], int]:
    """The whole records at the start of `data`, and how many bytes they took.

    Records of other types (and a record too short for its trailer) are skipped by their size;
    a size of 0 or one past the end stops (the rest is read again when complete). The hot path
    (tens of thousands of switches a second at 16 threads): one unpack per switch record.
    """
    new = tuple.__new__
    if only_switches(data):  # the usual case, at C speed but for one tuple per record
        return [new(Switch, (time, pid, tid, cpu, misc & MISC_SWITCH_OUT != 0, misc & MISC_SWITCH_OUT_PREEMPT != 0))
                for _, misc, _, pid, tid, time, cpu, _ in SWITCH_RECORD.iter_unpack(data)], len(data)
    records: list[Record] = []
    append, header, whole_switch = records.append, HEADER.unpack_from, SWITCH_RECORD.unpack_from
    trailer, size_of_trailer, end, at = TRAILER.unpack_from, TRAILER.size, len(data), 0
    while at + 8 <= end:
        kind, misc, size = header(data, at)
        if size < 8 or at + size > end:
            break
        if kind == RECORD_SWITCH and size == SWITCH_RECORD.size:
            _, misc, _, pid, tid, time, cpu, _ = whole_switch(data, at)
            append(new(Switch, (time, pid, tid, cpu, misc & MISC_SWITCH_OUT != 0, misc & MISC_SWITCH_OUT_PREEMPT != 0)))
        elif size >= HEADER.size + size_of_trailer:
            pid, tid, time, cpu, _ = trailer(data, at + size - size_of_trailer)
            if kind == RECORD_SWITCH:
                append(Switch(time, pid, tid, cpu, bool(misc & MISC_SWITCH_OUT), bool(misc & MISC_SWITCH_OUT_PREEMPT)))
            elif kind == RECORD_LOST and size >= HEADER.size + LOST_BODY.size + size_of_trailer:
                append(Lost(time, cpu, LOST_BODY.unpack_from(data, at + HEADER.size)[1]))
            elif kind == RECORD_EXIT and size >= HEADER.size + EXIT_BODY.size + size_of_trailer:
                e_pid, _, e_tid, _, e_time = EXIT_BODY.unpack_from(data, at + HEADER.size)
                append(Exit(e_time, e_pid, e_tid, cpu))
            elif kind == RECORD_FORK and size >= HEADER.size + EXIT_BODY.size + size_of_trailer:
                f_pid, f_ppid, f_tid, _, f_time = EXIT_BODY.unpack_from(data, at + HEADER.size)
                append(Fork(f_time, f_pid, f_ppid, f_tid, cpu))
        at += size
    return records, at


def only_switches(data: bytes | memoryview) -> bool:
    """Whether `data` is nothing but whole 32-byte switch records: the type (u32 14) and size (u16 32)
    of every record, read from offset 0 on, each 32 bytes after the last (so none is another type)."""
    n, whole = divmod(len(data), SWITCH_RECORD.size)
    if whole or not n:
        return False
    raw = bytes(data)
    return (raw[0::32].count(RECORD_SWITCH) == n and raw[1::32].count(0) == n and raw[2::32].count(0) == n
            and raw[3::32].count(0) == n and raw[6::32].count(32) == n and raw[7::32].count(0) == n)


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
        self.held: list[Record] = []  # newer than the last cut-off: folded next time
        self.last_on_cpu: dict[int, int] = {}  # cpu -> time of its last record (a lost gap starts there)
        self.ran: set[int] = set()  # tids seen since `take_ran`
        self.folded_to = since  # every record up to this time is folded
        self.forks: list[Fork] = []  # threads and processes started, folded, not yet taken (`take_forks`)

    def feed(self, records: list[Record], upto: int) -> tuple[list[Turn], list[Gap]]:
        """Fold the records up to time `upto` (with those held from before); hold the rest."""
        pending = self.held + records
        pending.sort()  # by time: each record is a tuple whose first field is its time
        turns: list[Turn] = []
        gaps: list[Gap] = []
        cut = len(pending)
        on, last_on_cpu, ran, since = self.on, self.last_on_cpu, self.ran, self.since
        for i, record in enumerate(pending):
            time = record[0]
            if time > upto:
                cut = i
                break
            if type(record) is Switch:  # the hot path, inlined: tens of thousands a second at 16 threads
                _, _, tid, cpu, out, preempted = record
                ran.add(tid)
                began = on.pop(tid, None)
                if not out:
                    if began is not None and time > began[0]:  # its switch-out was lost
                        turns.append(Turn(tid, began[0], time, began[1], ""))
                    on[tid] = (time, cpu)
                else:
                    if began is None:  # on a CPU since before tracing began, or its switch-in was lost
                        began = (max(last_on_cpu.get(cpu, since), since), cpu)
                    if time > began[0]:
                        turns.append(Turn(tid, began[0], time, began[1], PREEMPTED if preempted else VOLUNTARY))
            elif type(record) is Lost:
                cpu = record.cpu
                start = last_on_cpu.get(cpu, since)
                gaps.append(Gap(min(start, time), time, cpu, record.lost))
                # Whatever was on that CPU may have switched out unseen: its turn ends where knowledge does.
                for tid, (began_at, on_cpu) in list(on.items()):
                    if on_cpu == cpu:
                        del on[tid]
                        if start > began_at:
                            turns.append(Turn(tid, began_at, start, cpu, ""))
            elif type(record) is Exit:  # the thread's last turn ends as it does
                cpu = record.cpu
                began = on.pop(record.tid, None)
                if began is not None and time > began[0]:
                    turns.append(Turn(record.tid, began[0], time, began[1], VOLUNTARY))
            else:
                if type(record) is Fork:
                    self.forks.append(record)
                continue
            last_on_cpu[cpu] = time
        self.held = pending[cut:]
        self.folded_to = max(self.folded_to, upto)
        return turns, gaps

    def open_turns(self, now: int) -> list[Turn]:
        """The turns going on, cut at `now` (they go on as new ones): a page draws them live.
        `now` must not be past `folded_to` (a switch-out held for later may come before it)."""
        turns = []
        for tid, (began, cpu) in self.on.items():
            if now > began:
                turns.append(Turn(tid, began, now, cpu, ""))
                self.on[tid] = (now, cpu)
        return turns

    def take_forks(self) -> list[Fork]:
        """The threads and processes started since the last call, in time order."""
        forks, self.forks = self.forks, []
        return forks

    def take_ran(self) -> set[int]:
        """The threads seen switching since the last call."""
        ran, self.ran = self.ran, set()
        return ran
