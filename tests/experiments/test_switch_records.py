"""The kernel's context-switch records, pure: bytes as the kernel lays them out, built here, read back.

tests/experiments/test_switch_records_runs.py asks the real kernel for them, through the runner.
"""

from __future__ import annotations

import errno
import struct

import pytest

from experiments.harness import perf_events
from experiments.harness.switch_records import (
    MISC_SWITCH_OUT,
    MISC_SWITCH_OUT_PREEMPT,
    PREEMPTED,
    RECORD_EXIT,
    RECORD_FORK,
    RECORD_LOST,
    RECORD_SWITCH,
    VOLUNTARY,
    Batch,
    Exit,
    Fork,
    Gap,
    Lost,
    Switch,
    Turn,
    Turns,
    parse,
    switch_run,
    unwrap,
)

MS = 1_000_000
PID = 4000


def trailer(tid: int, time: int, cpu: int) -> bytes:
    return struct.pack("<IIQII", PID, tid, time, cpu, 0)


def switch(tid: int, time: int, cpu: int = 0, out: bool = False, preempt: bool = False) -> bytes:
    misc = (MISC_SWITCH_OUT if out else 0) | (MISC_SWITCH_OUT_PREEMPT if preempt else 0)
    return struct.pack("<IHH", RECORD_SWITCH, misc, 32) + trailer(tid, time, cpu)


def lost(count: int, time: int, cpu: int) -> bytes:
    return struct.pack("<IHHQQ", RECORD_LOST, 0, 48, 7, count) + trailer(0, time, cpu)


def exited(tid: int, time: int, cpu: int = 0) -> bytes:
    return struct.pack("<IHHIIIIQ", RECORD_EXIT, 0, 56, PID, 1, tid, PID, time) + trailer(tid, time, cpu)


def test_switch_records_give_direction_preemption_cpu_tid_and_time():
    data = switch(11, 5 * MS, cpu=1) + switch(11, 9 * MS, cpu=1, out=True, preempt=True) + switch(12, 9 * MS, out=True)
    records, used = parse(data)
    assert used == len(data)
    assert records == [
        Switch(5 * MS, PID, 11, 1, False, False),
        Switch(9 * MS, PID, 11, 1, True, True),
        Switch(9 * MS, PID, 12, 0, True, False),
    ]


def test_lost_and_exit_records_are_read_and_other_types_are_skipped_by_their_size():
    comm = struct.pack("<IHH", 3, 0, 40) + b"python\0\0" + trailer(11, MS, 0)  # PERF_RECORD_COMM
    records, used = parse(comm + lost(17, 2 * MS, 1) + exited(11, 3 * MS))
    assert records == [Lost(2 * MS, 1, 17), Exit(3 * MS, PID, 11, 0)]
    assert used == 40 + 48 + 56


def test_records_of_unknown_types_or_too_short_for_their_body_are_skipped_whatever_their_size():
    def other(kind: int, size: int) -> bytes:
        return struct.pack("<IHH", kind, 0, size) + bytes(size - 8)

    short_lost = struct.pack("<IHHQ", RECORD_LOST, 0, 40, 7) + trailer(0, MS, 1)  # no room for its count
    short_exit = struct.pack("<IHHIIII", RECORD_EXIT, 0, 48, PID, 1, 11, PID) + trailer(11, MS, 0)  # nor its time
    short_fork = struct.pack("<IHHIIII", RECORD_FORK, 0, 48, PID, 1, 12, PID) + trailer(11, MS, 0)
    data = other(99, 32) + other(99, 80) + short_lost + short_exit + short_fork + switch(12, 2 * MS, cpu=1)
    data += other(99, 8)  # a bare header, last
    assert parse(data) == ([Switch(2 * MS, PID, 12, 1, False, False)], len(data))


def test_a_switch_record_longer_than_asked_for_is_read_by_its_trailer():
    """A switch record with a body (a kernel that writes more than sample_id asked for): its trailer is still
    the record's last 24 bytes."""
    longer_in = struct.pack("<IHHII", RECORD_SWITCH, 0, 40, 77, 78) + trailer(11, MS, 1)
    misc = MISC_SWITCH_OUT | MISC_SWITCH_OUT_PREEMPT
    longer_out = struct.pack("<IHHII", RECORD_SWITCH, misc, 40, 77, 78) + trailer(11, 3 * MS, 1)
    assert parse(longer_in + longer_out + switch(12, 4 * MS, cpu=1)) == (
        [
            Switch(MS, PID, 11, 1, False, False),
            Switch(3 * MS, PID, 11, 1, True, True),
            Switch(4 * MS, PID, 12, 1, False, False),
        ],
        40 + 40 + 32,
    )
    batches, _ = Turns(since=0).feed([switch(11, MS, cpu=1) + longer_out])  # after a switch of the usual size
    assert turns_of(batches) == [Turn(11, MS, 3 * MS, 1, PREEMPTED)]


def test_a_record_cut_short_by_the_end_of_what_was_read_is_left_for_next_time():
    whole = switch(11, MS)
    records, used = parse(whole + switch(12, 2 * MS)[:20])
    assert records == [Switch(MS, PID, 11, 0, False, False)] and used == len(whole)
    assert parse(struct.pack("<IHH", RECORD_SWITCH, 0, 0) + whole) == ([], 0)  # a size of 0 never loops


def test_a_ring_buffer_that_wrapped_is_read_in_order():
    ring = bytearray(64)
    first, second = switch(11, MS), switch(11, 2 * MS, out=True)
    ring[48:64], ring[0:16] = first[:16], first[16:]  # the first record wraps
    ring[16:48] = second
    data = unwrap(bytes(ring), 64 * 3 + 48, 64 * 3 + 48 + 64)  # positions grow past the size
    assert data == first + second
    assert parse(data)[0] == [Switch(MS, PID, 11, 0, False, False), Switch(2 * MS, PID, 11, 0, True, False)]
    assert unwrap(bytes(ring), 64 + 16, 64 + 48) == second  # within the buffer
    assert unwrap(bytes(ring), 64 + 16, 64 + 64) == second + first[:16]  # up to its very end


def turns_of(batches: list[Batch]) -> list[Turn]:
    return [turn for batch in batches for turn in batch.turns()]


def test_turns_pair_each_switch_in_with_its_out_on_each_cpu_whichever_buffer_is_read_first():
    turns = Turns(since=0)
    cpu0 = switch(11, 1 * MS, 0) + switch(11, 5 * MS, 0, out=True, preempt=True) + switch(12, 5 * MS, 0)
    cpu1 = switch(11, 6 * MS, 1) + switch(11, 8 * MS, 1, out=True)
    batches, gaps = turns.feed([cpu1, cpu0])
    assert turns_of(batches) == [Turn(11, 6 * MS, 8 * MS, 1, VOLUNTARY), Turn(11, 1 * MS, 5 * MS, 0, PREEMPTED)]
    assert not gaps and turns.on == {0: (12, 5 * MS)}


def test_a_storm_of_alternating_switches_is_cut_into_turns_as_the_records_say():
    """The hot path: thousands of in/out pairs in one read, with a turn going on from the read before
    and one going on at the end, paired exactly as one record at a time would pair them."""
    turns = Turns(since=0)
    turns.feed([switch(11, MS)])  # 11 is on CPU 0 from the last read
    data = switch(11, 2 * MS, out=True, preempt=True)
    expected = [Turn(11, MS, 2 * MS, 0, PREEMPTED)]
    for i in range(3000):
        tid, start, how = 12 + i % 5, 3 * MS + i * 1000, (PREEMPTED, VOLUNTARY)[i % 2]
        data += switch(tid, start) + switch(tid, start + 400, out=True, preempt=how == PREEMPTED)
        expected.append(Turn(tid, start, start + 400, 0, how))
    data += switch(20, 9 * MS)
    batches, gaps = turns.feed([data])
    assert turns_of(batches) == expected and not gaps
    assert turns.on == {0: (20, 9 * MS)}
    # the same records read one at a time (each alone takes the way of anything but a run) pair the same
    one_by_one = Turns(since=0)
    one_by_one.feed([switch(11, MS)])
    slow = [turn for at in range(0, len(data), 32) for turn in turns_of(one_by_one.feed([data[at : at + 32]])[0])]
    assert slow == expected and one_by_one.on == turns.on


def test_a_run_of_switches_between_other_records_takes_the_hot_path_and_pairs_across_them():
    turns = Turns(since=0)
    comm = struct.pack("<IHH", 3, 0, 40) + b"python\0\0" + trailer(11, MS, 0)  # PERF_RECORD_COMM: skipped

    def storm(times: range) -> bytes:
        return b"".join(switch(12, t * MS) + switch(12, t * MS + 500, out=True) for t in times)

    data = comm + switch(11, MS) + switch(11, 2 * MS - 1, out=True) + storm(range(2, 6))
    data += exited(13, 7 * MS) + comm + storm(range(8, 12))
    assert switch_run(data, 40) == 10 * 32 and switch_run(data, 0) == 0
    assert switch_run(data + switch(12, 20 * MS)[:31], len(data) - 64) == 64  # a record not whole yet ends a run
    batches, gaps = turns.feed([data])
    assert turns_of(batches) == [Turn(11, MS, 2 * MS - 1, 0, VOLUNTARY)] + [
        Turn(12, t * MS, t * MS + 500, 0, VOLUNTARY) for t in [*range(2, 6), *range(8, 12)]
    ]
    assert not gaps and turns.on == {}


def test_switches_that_do_not_alternate_are_paired_one_at_a_time():
    turns = Turns(since=0)
    data = switch(11, 1 * MS) + switch(11, 2 * MS, out=True) + switch(12, 3 * MS) + switch(13, 4 * MS, out=True)
    batches, _ = turns.feed([data])  # 12's out and 13's in were lost: 12's end is unknown, 13 from the last known
    assert turns_of(batches) == [Turn(11, MS, 2 * MS, 0, VOLUNTARY), Turn(13, 3 * MS, 4 * MS, 0, VOLUNTARY)]
    assert turns.on == {}


def test_a_thread_that_moves_between_reads_is_paired_on_each_cpu():
    turns = Turns(since=0)
    batches, _ = turns.feed([switch(11, 1 * MS) + switch(11, 3 * MS, out=True)])
    assert turns_of(batches) == [Turn(11, MS, 3 * MS, 0, VOLUNTARY)] and turns.on == {}
    batches, _ = turns.feed([switch(11, 4 * MS, 1) + switch(11, 6 * MS, 1, out=True)])
    assert turns_of(batches) == [Turn(11, 4 * MS, 6 * MS, 1, VOLUNTARY)]


def test_a_thread_on_a_cpu_when_tracing_began_starts_there_and_an_exit_ends_its_turn():
    turns = Turns(since=2 * MS)
    batches, _ = turns.feed([switch(11, 3 * MS, out=True) + switch(11, 4 * MS) + exited(11, 7 * MS)])
    assert turns_of(batches) == [Turn(11, 2 * MS, 3 * MS, 0, VOLUNTARY), Turn(11, 4 * MS, 7 * MS, 0, VOLUNTARY)]
    assert turns.on == {}


def test_a_thread_that_moved_and_exited_ends_its_turn_on_the_cpu_it_exited_on_not_one_still_folding():
    """A read folds each CPU's buffer in turn. Thread 11 was on CPU 1 at the last read (cut there), then went off
    it, on CPU 0, and exited there: CPU 0's buffer, folded first, must not end the turn CPU 1 still holds open
    (drawn once as a 71 ms turn beside the other thread's under one GIL); CPU 1's own switch-out ends that one."""
    turns = Turns(since=0)
    turns.feed([b"", switch(11, 1 * MS, 1)])
    assert turns.open_turns(2 * MS) == [Turn(11, MS, 2 * MS, 1, "")]
    cpu0 = switch(11, 70 * MS, 0) + exited(11, 71 * MS, 0)
    cpu1 = switch(11, 3 * MS, 1, out=True) + switch(12, 4 * MS, 1) + switch(12, 69 * MS, 1, out=True)
    batches, _ = turns.feed([cpu0, cpu1])
    assert sorted(turns_of(batches)) == [
        Turn(11, 2 * MS, 3 * MS, 1, VOLUNTARY),
        Turn(11, 70 * MS, 71 * MS, 0, VOLUNTARY),
        Turn(12, 4 * MS, 69 * MS, 1, VOLUNTARY),
    ]
    assert turns.on == {}


def test_lost_records_are_a_gap_and_end_what_was_on_that_cpu_where_knowledge_ends():
    turns = Turns(since=0)
    cpu0 = switch(11, 1 * MS, 0) + lost(40, 9 * MS, 0) + switch(11, 10 * MS, 0)
    cpu1 = switch(12, 1 * MS, 1) + switch(12, 2 * MS, 1, out=True)
    batches, gaps = turns.feed([cpu0, cpu1])
    assert gaps == [Gap(1 * MS, 9 * MS, 0, 40)]  # from CPU 0's last record to where records resume
    assert turns_of(batches) == [Turn(12, MS, 2 * MS, 1, VOLUNTARY)]
    assert turns.on == {0: (11, 10 * MS)}  # its turn before the gap ended with the known (not drawn as idle)


def test_a_thread_on_a_cpu_when_records_were_lost_is_drawn_up_to_the_last_thing_known_of_that_cpu():
    turns = Turns(since=0)
    cpu0 = switch(11, 1 * MS) + exited(13, 4 * MS) + lost(40, 9 * MS, 0)  # another thread's exit: CPU 0 known at 4 ms
    batches, gaps = turns.feed([cpu0])
    assert gaps == [Gap(4 * MS, 9 * MS, 0, 40)]
    assert turns_of(batches) == [Turn(11, MS, 4 * MS, 0, "")]  # how it ended is unknown
    assert turns.on == {}


def test_a_chunk_is_read_past_a_bare_header_and_up_to_a_record_cut_short_or_a_size_of_0():
    turns = Turns(since=0)
    bare, sizeless = struct.pack("<IHH", 99, 0, 8), struct.pack("<IHH", 99, 0, 0)
    cpu0 = switch(11, MS) + bare + switch(11, 2 * MS, out=True) + switch(12, 3 * MS)[:5]  # the rest comes next read
    cpu1 = switch(13, 3 * MS, cpu=1) + sizeless + switch(13, 4 * MS, cpu=1, out=True)
    batches, _ = turns.feed([cpu0, cpu1])
    assert turns_of(batches) == [Turn(11, MS, 2 * MS, 0, VOLUNTARY)]
    assert turns.on == {1: (13, 3 * MS)}  # nothing read past the size of 0 (never a loop)


def test_records_lost_on_a_cpu_nothing_was_known_of_are_a_gap_from_when_tracing_began():
    turns = Turns(since=2 * MS)
    assert turns.feed([lost(5, 9 * MS, 1)]) == ([], [Gap(2 * MS, 9 * MS, 1, 5)])


def test_records_lost_after_a_run_of_switches_are_a_gap_from_the_last_switch():
    turns = Turns(since=0)
    data = switch(11, 1 * MS) + switch(11, 2 * MS, out=True) + switch(12, 3 * MS) + switch(12, 4 * MS, out=True)
    batches, gaps = turns.feed([data + lost(5, 9 * MS, 0)])
    assert turns_of(batches) == [Turn(11, MS, 2 * MS, 0, VOLUNTARY), Turn(12, 3 * MS, 4 * MS, 0, VOLUNTARY)]
    assert gaps == [Gap(4 * MS, 9 * MS, 0, 5)]


def test_a_switch_in_while_another_thread_is_on_ends_that_ones_turn_where_the_new_one_starts():
    turns = Turns(since=0)
    batches, _ = turns.feed([switch(11, 1 * MS, cpu=1) + switch(12, 3 * MS, cpu=1)])  # 11's out was lost
    assert turns_of(batches) == [Turn(11, MS, 3 * MS, 1, "")]
    assert turns.on == {1: (12, 3 * MS)}


def test_open_turns_are_cut_at_now_and_go_on_from_there():
    turns = Turns(since=0)
    turns.feed([switch(11, MS)])
    assert turns.open_turns(MS) == []  # nothing yet to draw at the very time it went on
    assert turns.open_turns(4 * MS) == [Turn(11, MS, 4 * MS, 0, "")]
    batches, _ = turns.feed([switch(11, 5 * MS, out=True, preempt=True)])
    assert turns_of(batches) == [Turn(11, 4 * MS, 5 * MS, 0, PREEMPTED)]


def test_the_attr_asks_for_switch_records_with_tid_time_cpu_on_the_monotonic_clock():
    attr = perf_events.attr_bytes(4096)
    kind, size, config, _period, sample_type, _read, flags, watermark = struct.unpack_from("<IIQQQQQI", attr)
    assert (kind, size, config) == (1, len(attr), 9)  # software, dummy
    assert sample_type == (1 << 1) | (1 << 2) | (1 << 7)
    for bit in (
        1,
        5,
        6,
        13,
        14,
        18,
        25,
        26,
    ):  # inherit, exclude_kernel/hv, task, watermark, sample_id_all, clockid, switch
        assert flags & (1 << bit)
    assert watermark == 4096 and struct.unpack_from("<i", attr, 92)[0] == 1


@pytest.mark.parametrize(
    "code, level, says, fix",
    [
        (errno.EACCES, 3, "kernel.perf_event_paranoid is 3", "sysctl kernel.perf_event_paranoid=2"),
        (errno.EPERM, 2, "EPERM", "--cap-add PERFMON"),
        (errno.EPERM, 4, "kernel.perf_event_paranoid is 4", "sysctl kernel.perf_event_paranoid=2"),  # Ubuntu's
        (errno.EACCES, 2, "security module", "CAP_PERFMON"),
        (errno.ENOSYS, 2, "ENOSYS", "CONFIG_PERF_EVENTS"),
    ],
)
def test_a_refusal_names_its_reason_and_the_fix(code, level, says, fix):
    why = perf_events.why_refused(code, level)
    assert says in why.reason and fix in why.fix


def test_an_eperm_at_the_syscall_seam_is_refused_before_anything_is_mapped():
    calls = []

    def refuse(attr: bytes, pid: int, cpu: int) -> int:
        calls.append(cpu)
        raise OSError(errno.EPERM, "Operation not permitted")

    with pytest.raises(perf_events.Unavailable, match="seccomp"):
        perf_events.SwitchEvents(1, cpus=2, open_call=refuse, paranoid_level=2)
    assert calls == [0]


def test_a_pretended_paranoid_3_is_refused_as_such_a_kernel_would_even_for_root():
    def never(attr: bytes, pid: int, cpu: int) -> int:
        raise AssertionError("not called")

    with pytest.raises(perf_events.Unavailable) as info:
        perf_events.SwitchEvents(1, cpus=2, open_call=never, paranoid_level=3)
    assert "kernel.perf_event_paranoid is 3" in info.value.reason
    assert "sysctl kernel.perf_event_paranoid=2" in info.value.fix


def test_fork_records_say_which_threads_and_processes_started():
    fork_thread = struct.pack("<IHHIIIIQ", 7, 0, 56, PID, PID, 12, 11, 2 * MS) + trailer(12, 2 * MS, 0)
    fork_process = struct.pack("<IHHIIIIQ", 7, 0, 56, 4100, PID, 4100, 11, 3 * MS) + trailer(4100, 3 * MS, 1)
    records, _ = parse(fork_thread + fork_process)
    assert records == [Fork(2 * MS, PID, PID, 12, 0), Fork(3 * MS, 4100, PID, 4100, 1)]
    turns = Turns(since=0)
    turns.feed([fork_process, fork_thread])  # CPU 1's buffer read first
    assert turns.take_forks() == [Fork(2 * MS, PID, PID, 12, 0), Fork(3 * MS, 4100, PID, 4100, 1)]
    assert turns.take_forks() == []
