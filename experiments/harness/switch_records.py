"""The kernel's context-switch records: ring-buffer bytes in, on-CPU turns out. Pure, no I/O.

Linux writes a PERF_RECORD_SWITCH each time a traced thread goes on or off a CPU
(experiments/harness/perf_events.py asks for them), into one ring buffer per CPU. Each record is an
8-byte header (type u32, misc u16, size u16), its body, and the sample_id trailer that
`sample_id_all` appends with what `sample_type` asked for, in the kernel's fixed order: TID
(pid u32, tid u32), TIME (u64, CLOCK_MONOTONIC through `use_clockid`: the recorder's clock),
CPU (cpu u32, reserved u32). This module reads those bytes (`parse`) and pairs each thread's
switch-in with its switch-out (`Turns`): a turn on a CPU with exact edges, the CPU it ran on,
and whether it ended by preemption (the kernel pushed it off) or voluntarily (it waited: for
the GIL, a lock, a sleep). A PERF_RECORD_LOST says the reader fell behind and how many records
the kernel dropped: the turns it hid are unknown, and that is said, never drawn as idle.

Records of one CPU come in time order, and a thread goes on and off a CPU on that CPU, so each
CPU's buffer is paired on its own (a thread that moves switches out in one buffer and in, later,
in another). Most of what is read is nothing but switches alternating in and out: `Turns` cuts
those into turns as columns at C speed, with no Python step per record.

Stdlib only, Python 3.9+.
"""
from __future__ import annotations

import re
import struct
from array import array
from typing import Final, NamedTuple, Sequence, Union

RECORD_LOST = 2
RECORD_EXIT = 4
RECORD_FORK = 7
RECORD_SWITCH = 14
MISC_SWITCH_OUT = 1 << 13
MISC_SWITCH_OUT_PREEMPT = 1 << 14
HOW_PREEMPT = MISC_SWITCH_OUT_PREEMPT >> 8  # its bit in the high byte of misc
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
    a size of 0 or one past the end stops (the rest is read again when complete). Not the hot
    path: `Turns.feed` cuts runs of switch records into turns without it, and hands it the rest.
    """
    records: list[Record] = []
    append, header, trailer = records.append, HEADER.unpack_from, TRAILER.unpack_from
    size_of_trailer, end, at = TRAILER.size, len(data), 0
    while at + 8 <= end:
        kind, misc, size = header(data, at)
        if size < 8 or at + size > end:
            break
        if size >= HEADER.size + size_of_trailer:
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


# Whole switch records one after another: type u32 14, any misc, size u16 32, then their 24 bytes of trailer.
SWITCHES = re.compile(rb"(?:\x0e\x00\x00\x00..\x20\x00.{24})*", re.DOTALL)


def switch_run(data: bytes | memoryview, at: int) -> int:
    """How many bytes of whole 32-byte switch records follow one another from `at`: at C speed, by the bytes
    that say a record's type and size (the first other record, or a cut one, ends it)."""
    match = SWITCHES.match(data, at)
    assert match is not None, "a run of none matches too"
    return match.end() - at


def unwrap(buffer: bytes | memoryview, tail: int, head: int) -> bytes:
    """The bytes between `tail` and `head` of a ring buffer (positions grow forever; the buffer wraps)."""
    size = len(buffer)
    start, length = tail % size, head - tail
    if start + length <= size:
        return bytes(buffer[start:start + length])
    return bytes(buffer[start:]) + bytes(buffer[:length - (size - start)])


PREEMPTED, VOLUNTARY, GOING_ON = "p", "v", "."
# A switch record's 6th byte is the high byte of its misc: whether it is an out, and how the turn ended.
IS_OUT = bytes(1 if byte & (MISC_SWITCH_OUT >> 8) else 0 for byte in range(256))
HOW = bytes(ord(PREEMPTED if byte & HOW_PREEMPT else VOLUNTARY) for byte in range(256))


class Turn(NamedTuple):
    tid: int
    start: int
    end: int
    cpu: int
    how: str  # how it ended: PREEMPTED (the kernel pushed it off), VOLUNTARY (it waited), or "" (going on, or unknown)


# The columns' integers (array and memoryview typecodes): 4 and 8 bytes, in the records' order (this module
# reads the kernel's records as little-endian: the machines the lab runs on are).
U32: Final = "I"
U64: Final = "Q"


class Batch(NamedTuple):
    """Turns as columns of packed integers, as the records hold them: the hot path cuts them from the records'
    bytes without making a Python integer of any (`turns` makes them)."""

    tids: bytes  # U32 each
    starts: bytes  # U64 each, ns
    ends: bytes  # U64 each, ns
    cpus: bytes  # U32 each
    hows: str  # a letter per turn: how it ended, PREEMPTED, VOLUNTARY, or GOING_ON (a Turn's "")

    @classmethod
    def of(cls, turns: list[Turn]) -> Batch:
        if not turns:
            return EMPTY
        tids, starts, ends, cpus, hows = zip(*turns)
        return cls(array(U32, tids).tobytes(), array(U64, starts).tobytes(), array(U64, ends).tobytes(),
                   array(U32, cpus).tobytes(), "".join(how or GOING_ON for how in hows))

    @classmethod
    def joined(cls, batches: Sequence[Batch]) -> Batch:
        """All of `batches` as one, in their order."""
        join = b"".join
        return cls(join(batch.tids for batch in batches), join(batch.starts for batch in batches),
                   join(batch.ends for batch in batches), join(batch.cpus for batch in batches),
                   "".join(batch.hows for batch in batches))

    def part(self, start: int, stop: int) -> Batch:
        """Its turns from `start` to `stop`."""
        return Batch(self.tids[4 * start:4 * stop], self.starts[8 * start:8 * stop], self.ends[8 * start:8 * stop],
                     self.cpus[4 * start:4 * stop], self.hows[start:stop])

    def turns(self) -> list[Turn]:
        """Its turns, each its integers again."""
        hows = ("" if how == GOING_ON else how for how in self.hows)
        return list(map(Turn, memoryview(self.tids).cast(U32).tolist(), memoryview(self.starts).cast(U64).tolist(),
                        memoryview(self.ends).cast(U64).tolist(), memoryview(self.cpus).cast(U32).tolist(), hows))

    def run_ns(self) -> int:
        """The time its turns were on a CPU, together."""
        return sum(memoryview(self.ends).cast(U64)) - sum(memoryview(self.starts).cast(U64))


EMPTY = Batch(b"", b"", b"", b"", "")


class Gap(NamedTuple):
    """Records the kernel dropped on a CPU: what the run's threads did there is unknown until `end`."""

    start: int
    end: int
    cpu: int
    lost: int


class Turns:
    """Each thread's switch-in paired with its switch-out: turns on a CPU.

    A thread goes on and off a CPU on that CPU, so each CPU's records pair on their own, in the
    order its buffer holds them: nothing to sort, nothing held back for a later read. `since` is
    when tracing began: a thread already on a CPU then (the runner's main thread) has its first
    turn start there. A switch-out without its switch-in (lost) starts at the last thing known of
    its CPU; a switch-in while another is on (an out lost) ends that one's turn where it starts.
    """

    def __init__(self, since: int):
        self.since = since
        self.on: dict[int, tuple[int, int]] = {}  # cpu -> (tid on it, since when)
        self.last_on_cpu: dict[int, int] = {}  # cpu -> time of its last record (a lost gap starts there)
        self.forks: list[Fork] = []  # threads and processes started, not yet taken (`take_forks`)

    def feed(self, chunks: Sequence[bytes]) -> tuple[list[Batch], list[Gap]]:
        """The turns and gaps in `chunks`, each the whole records read from one CPU's buffer, in its order:
        runs of switch records by the hot path, anything else (a fork, an exit, a loss) one at a time."""
        batches: list[Batch] = []
        gaps: list[Gap] = []
        for data in chunks:
            at, end = 0, len(data)
            while at < end:
                run = switch_run(data, at)
                if run:
                    batches += self._switches(data[at:at + run])
                    at += run
                    continue
                size = HEADER.unpack_from(data, at)[2] if at + HEADER.size <= end else 0
                if size < HEADER.size or at + size > end:  # not a whole record: nothing more to read here
                    break
                turns: list[Turn] = []
                for record in parse(data[at:at + size])[0]:
                    self._step(record, turns, gaps)
                batches.append(Batch.of(turns))
                at += size
        return [batch for batch in batches if batch.tids], gaps

    def _switches(self, data: bytes) -> list[Batch]:
        """Switch records of one CPU. The hot path (tens of thousands a second at 16 threads): where they
        alternate in, out, in, out, each pair one thread's, the turns are cut from columns at C speed."""
        view = memoryview(data)
        times, tids, cpu = view.cast(U64)[2::4], view.cast(U32)[3::8], view.cast(U32)[6]  # a record's, each
        high = data[5::SWITCH_RECORD.size]  # each record's misc, its high byte
        outs, n, at = high.translate(IS_OUT), len(times), 0
        turns: list[Turn] = []
        gaps: list[Gap] = []  # none: a chunk of switches only

        def step(i: int) -> None:
            self._step(Switch(times[i], 0, tids[i], cpu, outs[i] == 1, high[i] & HOW_PREEMPT != 0), turns, gaps)

        while at < n and (outs[at] or cpu in self.on):  # up to an in with no thread of ours on the CPU
            step(at)
            at += 1
        batches = [Batch.of(turns)]
        pairs = (n - at) // 2
        end = at + 2 * pairs
        if pairs and outs[at:end] == b"\x00\x01" * pairs and tids[at:end:2] == tids[at + 1:end:2]:
            batches.append(Batch(tids[at:end:2].tobytes(), times[at:end:2].tobytes(), times[at + 1:end:2].tobytes(),
                                 array(U32, [cpu]).tobytes() * pairs, high[at + 1:end:2].translate(HOW).decode()))
            self.last_on_cpu[cpu] = times[end - 1]
            at = end
        turns = []
        for i in range(at, n):  # the last in (a thread on the CPU now), or records that do not alternate
            step(i)
        batches.append(Batch.of(turns))
        return batches

    def _step(self, record: Record, turns: list[Turn], gaps: list[Gap]) -> None:
        """One record folded into the state of its CPU: the way for all but the hot path."""
        time, cpu = record[0], record.cpu
        if type(record) is Switch:
            tid = record.tid
            on = self.on.pop(cpu, None)
            if not record.out:
                if on is not None and time > on[1]:  # the out of the one on was lost
                    turns.append(Turn(on[0], on[1], time, cpu, ""))
                self.on[cpu] = (tid, time)
            else:
                if on is None or on[0] != tid:  # on since before tracing began, or its in was lost
                    on = (tid, max(self.last_on_cpu.get(cpu, self.since), self.since))
                if time > on[1]:
                    turns.append(Turn(tid, on[1], time, cpu, PREEMPTED if record.preempted else VOLUNTARY))
        elif type(record) is Lost:
            start = self.last_on_cpu.get(cpu, self.since)
            gaps.append(Gap(min(start, time), time, cpu, record.lost))
            on = self.on.pop(cpu, None)  # it may have switched out unseen: its turn ends where knowledge does
            if on is not None and start > on[1]:
                turns.append(Turn(on[0], on[1], start, cpu, ""))
        elif type(record) is Exit:  # the thread's last turn ends as it does (its out is not recorded)
            # On the CPU it exits on, where the record is written. Another CPU may still say the thread is on it:
            # that CPU's records of the same read (its switch-out) are folded after this one's.
            on = self.on.get(cpu)
            if on is not None and on[0] == record.tid:
                del self.on[cpu]
                if time > on[1]:
                    turns.append(Turn(record.tid, on[1], time, cpu, VOLUNTARY))
        elif type(record) is Fork:
            self.forks.append(record)
            return
        self.last_on_cpu[cpu] = time

    def open_turns(self, now: int) -> list[Turn]:
        """The turns going on, cut at `now` (they go on as new ones): a page draws them live. `now` must be
        a little before the read began: a switch-out being written as the buffer was read comes next time."""
        turns = []
        for cpu, (tid, began) in self.on.items():
            if now > began:
                turns.append(Turn(tid, began, now, cpu, ""))
                self.on[cpu] = (tid, now)
        return turns

    def take_forks(self) -> list[Fork]:
        """The threads and processes started since the last call, in time order."""
        forks, self.forks = sorted(self.forks), []
        return forks
