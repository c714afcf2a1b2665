"""On-CPU lanes, pure: the sampler's arithmetic and the timeline's fold of what it measured.

tests/experiments/test_oncpu_runs.py measures real runs through the runner and its sampler process.
"""

from __future__ import annotations

import base64
import json
import math
import os
import signal
import struct
import sys
from collections.abc import Iterable
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.drawing.placement import Axis, place_cpu
from app.model.cpu import NOTABLE_CORES, TOO_SHORT_CORES, Budget, Stretch, budget, resolution, shared
from app.model.cpu import sentences as cpu_sentences
from app.model.cpu_bins import MIXED_CPUS
from app.model.events import TORN, Event, StreamParser, decode_wire
from app.model.timeline import HELD_MAX, ON_CPU, Span, Timeline
from experiments.harness import sampler
from experiments.harness.recorder import PIPE_BUF
from experiments.harness.switch_records import Batch, Gap, Turn

MS = 1_000_000


def test_two_threads_taking_5_ms_turns_are_placed_within_a_ms_even_with_8_ms_ticks():
    """Each tick: how long each thread ran in it (schedstat), and whether it was running at its end (wchan)."""
    turns_a = [(100, 113), (118, 123), (128, 133)]  # ms: a holds the GIL, b has the gaps
    turns_b = [(113, 118), (123, 128), (133, 140)]
    placed: dict[str, list[tuple[float, float]]] = {"a": [], "b": []}
    placers = {"a": sampler.Placer(), "b": sampler.Placer()}
    for start in range(100, 140, 8):
        end = start + 8
        for name, turns in (("a", turns_a), ("b", turns_b)):
            grew = sum(max(0, min(end, e) - max(start, s)) for s, e in turns)
            running = any(s < end <= e for s, e in turns)
            if interval := placers[name].tick(start * MS, end * MS, grew * MS, running):
                placed[name].append((interval[0] / MS, interval[1] / MS))
    for name in placed:
        if interval := placers[name].cut():
            placed[name].append((interval[0] / MS, interval[1] / MS))
    for name, turns in (("a", turns_a), ("b", turns_b)):
        assert len(placed[name]) == len(turns), placed
        assert all(abs(p - t) <= 1 for got, turn in zip(placed[name], turns) for p, t in zip(got, turn)), placed
    assert not any(min(ae, be) > max(as_, bs) for as_, ae in placed["a"] for bs, be in placed["b"])


def test_a_tick_a_thread_ran_all_but_a_few_microseconds_of_counts_as_whole():
    placer = sampler.Placer()
    placer.tick(0, MS, MS, True)
    placer.tick(MS, 2 * MS, MS - 20_000, True)  # the read came a little early: not a gap
    placer.tick(2 * MS, 3 * MS, MS, True)
    assert placer.cut() == (0, 3 * MS)


def test_without_wchan_a_tick_is_placed_from_the_tick_before():
    placer = sampler.Placer()
    assert placer.tick(0, MS, MS // 4) is None  # started within the tick: at its end
    assert placer.tick(MS, 2 * MS, MS // 2) is None  # ran on, then stopped: at its start
    assert placer.tick(2 * MS, 3 * MS, 0) == (MS - MS // 4, MS + MS // 2)
    assert placer.tick(3 * MS, 4 * MS, MS) is None  # all of it: running at its end, then
    assert placer.tick(4 * MS, 5 * MS, MS // 4) is None  # so what it ran next is at the next tick's start
    assert placer.cut() == (3 * MS, 4 * MS + MS // 4)


def test_a_tick_the_thread_ran_all_but_its_reading_slack_of_is_whole_at_any_clock_reading():
    """10 ms ticks from a clock reading of 5 s: a tick may come 500 µs early (a twentieth of it) and still be whole;
    a thread that ran on through three ticks is one interval."""
    t0, placer = 5_000 * MS, sampler.Placer()
    assert placer.tick(t0, t0 + 10 * MS, 10 * MS, True) is None
    assert placer.tick(t0 + 10 * MS, t0 + 20 * MS, 10 * MS - 400_000, True) is None
    assert placer.tick(t0 + 20 * MS, t0 + 30 * MS, 10 * MS, True) is None
    assert placer.cut() == (t0, t0 + 30 * MS)


def test_time_within_a_tick_is_placed_to_the_nanosecond_however_odd():
    placer = sampler.Placer()
    placer.tick(0, MS, MS, True)  # running at the end of the first tick
    assert placer.tick(MS, 2 * MS, 300_001, True) == (0, MS + 150_000)  # stopped and went on: half at each end
    assert placer.cut() == (2 * MS - 150_001, 2 * MS)
    placer.tick(2 * MS, 3 * MS + 1, 0)  # not running at the end of this tick (an odd one)
    assert placer.tick(3 * MS + 1, 4 * MS + 2, 300_001, False) is None  # started and stopped within: its middle
    assert placer.cut() == (3 * MS + 1 + 500_000 - 150_000, 3 * MS + 1 + 500_000 + 150_001)


def test_a_zombies_exit_status_names_the_signal_that_killed_it():
    fields = ["0"] * 49
    killed = "123 (python3 (x)) Z " + " ".join(fields[:48] + [str(signal.SIGKILL)])
    exited = "124 (python3) Z " + " ".join(fields[:48] + [str(3 << 8)])
    running = "125 (python3) R " + " ".join(fields[:48] + ["0"])
    assert sampler.exit_of(killed) == {"known": True, "signal": signal.SIGKILL, "status": 0}
    assert sampler.exit_of(exited) == {"known": True, "signal": 0, "status": 3}
    assert sampler.exit_of(running) == {"known": False, "signal": 0, "status": 0}


def test_a_running_process_whose_name_holds_a_parenthesis_and_z_is_no_zombie():
    # A process names itself (prctl): its name ends at the line's last ')', not its first.
    line = "126 (a) Z (b) R " + " ".join(["0"] * 48 + [str(signal.SIGKILL)])
    assert sampler.exit_of(line) == {"known": False, "signal": 0, "status": 0}


def test_a_processs_cpu_time_and_parent_are_read_from_its_stat_line_whatever_its_name():
    # pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
    line = "77 (python3 (lab) x) S 42 77 77 0 -1 4194560 10 0 0 0 250 30 0 0 20 0 3"
    assert sampler.cpu_ns_of(line, 100) == (250 + 30) * 10 * MS
    assert sampler.parent_of(line) == 42


def test_on_cpu_sampling_works_where_proc_has_schedstat_and_says_what_is_missing_where_not(tmp_path, monkeypatch):
    pid = os.getpid()
    (tmp_path / str(pid) / "task" / str(pid)).mkdir(parents=True)
    (tmp_path / str(pid) / "task" / str(pid) / "schedstat").write_text("1 2 3\n")
    assert sampler.unavailable(str(tmp_path)) is None
    (tmp_path / str(pid) / "task" / str(pid) / "schedstat").unlink()
    assert sampler.unavailable(str(tmp_path)) == (
        f"{tmp_path}/<pid>/task/<tid>/schedstat is missing (a kernel without CONFIG_SCHED_INFO, or /proc hidden)"
    )
    assert sampler.unavailable() == sampler.unavailable("/proc")  # where it looks unless told
    monkeypatch.setattr(sys, "platform", "darwin")
    assert sampler.unavailable() == "the kernel's per-thread CPU time is read from /proc on Linux; this is darwin"


def test_on_cpu_sampling_needs_pidfd_open(tmp_path, monkeypatch):
    pid = os.getpid()
    (tmp_path / str(pid) / "task" / str(pid)).mkdir(parents=True)
    (tmp_path / str(pid) / "task" / str(pid) / "schedstat").write_text("1 2 3\n")
    monkeypatch.delattr(os, "pidfd_open", raising=False)
    assert (
        sampler.unavailable(str(tmp_path)) == "os.pidfd_open is missing (Linux 5.3 and Python 3.9 or newer are needed)"
    )


def test_an_on_cpu_interval_is_written_as_the_timeline_reads_it():
    timeline = Timeline(coalesce=False)
    timeline.apply(Event("lane", 0, "worker-1", value={"pid": 1, "tid": 11, "thread": "worker-1"}))
    line = sampler.on_cpu(11, (MS, 3 * MS))
    assert line == f'["T",{MS},"",11,{3 * MS}]'
    timeline.apply_all(decode_wire(f"[{line}]".encode()))
    assert [(s.lane, s.start_ns, s.end_ns) for s in timeline.cpu_spans] == [(0, MS, 3 * MS)]


def test_turns_from_the_switch_records_are_written_as_columns_and_read_as_one_event_each_with_cpu_and_how():
    batch = Batch.of([Turn(11, MS, 3 * MS, 1, "p"), Turn(12, 3 * MS, 4 * MS, 0, "v"), Turn(11, 5 * MS, 6 * MS, 1, "")])
    line = sampler.turns_event(batch)
    columns = (("I", (11, 12, 11)), ("Q", (MS, 3 * MS, 5 * MS)), ("Q", (3 * MS, 4 * MS, 6 * MS)), ("I", (1, 0, 1)))
    packed = [base64.b64encode(struct.pack(f"<3{code}", *values)).decode() for code, values in columns]
    assert json.loads(line) == ["U", MS, "", *packed, "pv."]  # each column's little-endian integers in base64
    assert decode_wire(f"[{line}]".encode()) == [
        Event("oncpu", MS, "", value=(11, 3 * MS, 1, "p")),
        Event("oncpu", 3 * MS, "", value=(12, 4 * MS, 0, "v")),
        Event("oncpu", 5 * MS, "", value=(11, 6 * MS, 1, "")),  # cut while going on: drawn live, how unknown yet
    ]
    assert batch.turns() == [
        Turn(11, MS, 3 * MS, 1, "p"),
        Turn(12, 3 * MS, 4 * MS, 0, "v"),
        Turn(11, 5 * MS, 6 * MS, 1, ""),
    ]
    assert batch.run_ns() == 4 * MS  # their time on a CPU, together: what the budget counts as the run's
    assert (
        Batch.joined([Batch.of(batch.turns()[:2]), Batch.of([]), Batch.of(batch.turns()[2:])]) == batch
    )  # a read's, one event


def test_turns_for_the_runners_pipe_go_in_events_that_each_fit_an_atomic_write():
    """Without a pipe of its own the sampler shares the runner's with the experiment: a line longer than PIPE_BUF
    could tear. The longest turns there are (a 7-digit tid, 19-digit times, CPU 1023) still fit, all kept in order."""
    big = 2**63 - 1
    turns = [Turn(9_999_999, big - 2 * i - 1, big - 2 * i, 1023, "p") for i in range(1000)]
    events = sampler.turns_events(Batch.of(turns), sampler.TURNS_PER_SHARED_LINE)
    assert len(events) > 1 and max(len(event) + 3 for event in events) <= PIPE_BUF  # in a line: "[" event "]\n"
    assert [event.value[0] for event in decode_wire(f"[{','.join(events)}]".encode())] == [9_999_999] * 1000
    assert [event.ts_ns for event in decode_wire(f"[{','.join(events)}]".encode())] == [turn.start for turn in turns]
    assert sampler.turns_events(Batch.of(turns), 1000) == [sampler.turns_event(Batch.of(turns))]  # its own pipe: one


@pytest.mark.parametrize(
    "bad",
    [
        '["U",1,"","CwAAAAwAAAA=","AQAAAAAAAAA=","AgAAAAAAAAA=","AAAAAA==","pv"]',  # a column short
        '["U",1,"","CwAAAA==","AQAAAAAAAAA=","AgAAAAAAAAA=","AAAAAA==","pv"]',  # a letter too many
        '["U",1,"","CwAAAA==","AQAAAAAAAA==","AgAAAAAAAAA=","AAAAAA==","p"]',  # not whole integers
        '["U",1,"","CwAAAA==","AQAAAAAAAAA=","AgAAAAAAAAA=","AAAA.AA==","p"]',  # not base64 (it would be without the ".")
        '["U",1,"","CwAAAA==",[1],"AgAAAAAAAAA=","AAAAAA==","p"]',  # not text
        '["U",1,"","CwAAAA==","AQAAAAAAAAA=","AgAAAAAAAAA=","AAAAAA=="]',  # no hows
    ],
)
def test_a_batch_of_turns_that_is_not_columns_of_one_length_is_counted_torn_not_drawn(bad):
    parser = StreamParser(batches_only=True)
    events = parser.feed(f'[["E",5,"main"]]\n[{bad}]\n'.encode())
    assert [event.kind for event in events] == ["end", TORN]


def test_records_the_kernel_dropped_are_written_as_a_gap_saying_how_many_on_which_cpu_and_why():
    line = sampler.gap_event(Gap(2 * MS, 5 * MS, 1, 40), 512)
    assert line.startswith(f'["G",{2 * MS},"",{{"end_ns":{5 * MS},"cpu":1,"lost":40,"why":')  # compact, as on the wire
    assert json.loads(line)[3]["why"] == (
        "the kernel dropped 40 context-switch records on CPU 1: its 512 KiB buffer filled faster than the lab read "
        "it (a storm of switches, or a machine too busy to give the reader a CPU in time)"
    )
    (gap,) = decode_wire(f"[{line}]".encode())
    assert (gap.kind, gap.ts_ns, gap.value["end_ns"], gap.value["lost"]) == ("gap", 2 * MS, 5 * MS, 40)
    assert "dropped 1 context-switch record on CPU 0:" in sampler.gap_event(Gap(0, MS, 0, 1), 64)


def test_the_machines_busy_time_leaves_out_idle_and_iowait():
    assert sampler.host_busy_ns("cpu  100 5 20 9999 7 1 2 3 0 0", 100) == (100 + 5 + 20 + 1 + 2 + 3) * 10 * MS
    assert sampler.host_busy_ns("cpu  100 5 20 9999 7", 100) == (100 + 5 + 20) * 10 * MS  # a kernel before irq


def events_of(*rows: tuple) -> Timeline:
    timeline = Timeline(coalesce=False)
    for kind, ts, worker, *rest in rows:
        timeline.apply(Event(kind, ts, worker, *rest))
    return timeline


def test_an_interval_that_comes_before_its_threads_lane_is_drawn_on_it_once_it_comes():
    timeline = events_of(
        ("oncpu", 1 * MS, "", "", "", (11, 3 * MS)),
        ("oncpu", 2 * MS, "", "", "", (99, 4 * MS)),  # a thread that never gets a lane
        ("lane", 2 * MS, "worker", "", "", {"pid": 1, "tid": 11}),
        ("oncpu", 5 * MS, "", "", "", (11, 6 * MS)),
    )
    timeline.close()
    assert [(s.start_ns, s.end_ns) for s in timeline.cpu_spans] == [(1 * MS, 3 * MS), (5 * MS, 6 * MS)]
    assert timeline.by_worker["worker"].cpu_ns == 3 * MS
    assert timeline.unlaned_ns == 2 * MS
    assert timeline.lane_of_tid() == {11: "worker"}


def test_a_process_killed_mid_span_cuts_its_lanes_there_and_is_named():
    timeline = events_of(
        ("lane", 0, "pool-1", "", "", {"pid": 7, "tid": 7}),
        ("begin", 1 * MS, "pool-1", "fib(30)", "cpu"),
        ("lane", 0, "main", "", "", {"pid": 1, "tid": 1}),
        ("begin", 1 * MS, "main", "Pool.map", "wait"),
        ("exit", 5 * MS, "", "", "", {"pid": 7, "signal": signal.SIGKILL, "status": 0, "known": True}),
    )
    cut = [s for s in timeline.spans if s.cut]
    assert [(s.name, s.end_ns, s.cut) for s in cut] == [("fib(30)", 5 * MS, "killed by SIGKILL")]
    assert [d.words() for d in timeline.deaths] == ["pool-1 (pid 7) was killed by SIGKILL during fib(30)"]
    assert [lane.worker for lane in timeline.lanes if lane.stack] == ["main"]  # the hang check sees main alone


def test_processes_that_end_once_the_lab_is_stopping_the_run_are_no_deaths_and_their_spans_wait_for_the_reason():
    """A cancel, a time limit or the server stopping kills the run's processes: what they had open is cut as the
    run ends, with that reason ("never ended (the server stopped)"), not as a death of its own."""
    timeline = events_of(
        ("lane", 0, "main", "", "", {"pid": 1, "tid": 1}),
        ("begin", 1 * MS, "main", "sleep(60)", "sleep"),
    )
    timeline.stopping(4 * MS)
    for info in (
        {"pid": 1, "signal": signal.SIGKILL, "status": 0, "known": True},
        {"pid": 1},
    ):  # known, or found reaped
        timeline.apply(Event("exit", 5 * MS, "", value=info))
    assert timeline.deaths == [] and not [s for s in timeline.spans if s.cut]
    assert [lane.worker for lane in timeline.lanes if lane.stack] == ["main"]  # still open: cut when the run ends


def test_an_idle_worker_ended_by_its_pool_is_marked_but_is_no_death():
    timeline = events_of(
        ("lane", 0, "pool-1", "", "", {"pid": 7, "tid": 7}),
        ("exit", 5 * MS, "", "", "", {"pid": 7, "signal": signal.SIGTERM, "status": 0, "known": True}),
    )
    timeline.close()
    assert timeline.deaths == [] and [m.name for m in timeline.marks] == ["killed by SIGTERM"]


def test_coalesced_on_cpu_bins_show_two_threads_taking_turns_as_half_busy_each():
    timeline = Timeline()
    for worker, tid in (("a", 1), ("b", 2)):
        timeline.apply(Event("lane", 0, worker, value={"pid": 1, "tid": tid}))
    for k in range(4000):  # 5 ms turns for 20 s: far finer than the axis can show
        timeline.apply(Event("oncpu", k * 5 * MS, "", value=(1 + k % 2, (k + 1) * 5 * MS)))
    timeline.close()
    late = [s for s in timeline.cpu_spans if s.start_ns > 15_000 * MS]
    assert late and all(abs(s.busy_ns / (s.end_ns - s.start_ns) - 0.5) < 0.05 for s in late)
    assert timeline.by_worker["a"].cpu_ns == timeline.by_worker["b"].cpu_ns == 10_000 * MS


def test_a_budget_says_how_many_cores_others_took_during_a_phase():
    timeline = events_of(
        ("lane", 0, "main", "", "", {"pid": 1, "tid": 1}),
        ("begin", 0, "main", "process pool", "run"),
        ("end", 1000 * MS, "main"),
    )
    for ms, run, host in ((0, 0, 0), (500, 500, 1000), (1000, 1000, 2000)):  # one core ours, one someone else's
        timeline.apply(
            Event(
                "machine",
                ms * MS,
                "",
                value={"cores": 2, "host_busy_ns": host * MS, "run_ns": run * MS, "waited_ns": 0, "sampler_ns": 0},
            )
        )
    cpu = budget(timeline)
    assert cpu is not None
    assert (cpu.workers_busy_cores, cpu.others_busy_cores) == (1.0, 1.0)
    assert [(p.name, p.workers_busy_cores, p.others_busy_cores) for p in cpu.phases] == [("process pool", 1.0, 1.0)]
    assert any("could have had 1.0 at most." in s for s in cpu_sentences(cpu))
    assert any("speedup measured there cannot exceed" in s for s in cpu_sentences(cpu, {"process_speedup": 1.1}))
    assert not any("speedup" in s for s in cpu_sentences(cpu, {"expected": 0, "actual": 0}))


def test_the_labs_own_server_is_told_apart_from_other_programs():
    timeline = events_of(("lane", 0, "main", "", "", {"pid": 1, "tid": 1}))
    # Over 1 s: the run kept a core busy, the machine 1.8: the lab's server drew it with 0.5, others 0.3.
    for ms, run, host, lab in ((0, 0, 0, 0), (1000, 1000, 1800, 500)):
        sample = {"cores": 2, "host_busy_ns": host * MS, "run_ns": run * MS, "waited_ns": 0, "sampler_ns": 0}
        timeline.apply(Event("machine", ms * MS, "", value={**sample, "lab_ns": lab * MS}))
    cpu = budget(timeline)
    assert cpu is not None
    assert (cpu.workers_busy_cores, cpu.lab_busy_cores, cpu.others_busy_cores) == (1.0, 0.5, 0.3)
    assert "the lab's own server (drawing it) used 0.5, other programs used 0.3 (give or take" in cpu_sentences(cpu)[0]


def a_run_with_a_serial_part_and_a_thread_pool() -> Timeline:
    """From a clock reading of 5 s: main runs "serial" (0-400 ms) on a CPU, "setup" (400-450 ms: too short to
    average over), then waits on a "thread pool" phase (450-1000 ms) whose two workers are on CPUs 500-900 and
    480-800 ms; the recorder's thread 30 ms. The machine (2 cores, 250 Hz ticks) sampled at 0, 400 and 1000 ms:
    over the first 400 ms the run took 1 core, the lab 0.3, other programs 0.7; then the run 1.5, the lab 0.3,
    others 0.05."""
    t0 = 5_000 * MS
    timeline = Timeline(coalesce=False)
    for worker, tid in (("main", 1), ("worker-1", 11), ("worker-2", 12)):
        timeline.apply(Event("lane", t0, worker, value={"pid": 1, "tid": tid, "thread": worker}))
    timeline.apply(Event("service", t0, "", value={"tid": 50, "role": "recorder"}))
    for name, category, start, end in (("serial", "run", 0, 400), ("setup", "run", 400, 450)):
        timeline.apply(Event("begin", t0 + start * MS, "main", name, category))
        timeline.apply(Event("end", t0 + end * MS, "main"))
    timeline.apply(Event("begin", t0 + 450 * MS, "main", "thread pool", "phase"))
    timeline.apply(Event("begin", t0 + 460 * MS, "main", "Future.result", "wait"))  # within a phase: none itself
    timeline.apply(Event("begin", t0 + 480 * MS, "worker-2", "task 1", "cpu"))
    timeline.apply(Event("end", t0 + 900 * MS, "worker-2"))
    timeline.apply(Event("end", t0 + 990 * MS, "main"))
    timeline.apply(Event("end", t0 + 1000 * MS, "main"))
    for tid, start, end in ((1, 0, 400), (11, 500, 900), (12, 480, 800), (50, 100, 130)):
        timeline.apply(Event("oncpu", t0 + start * MS, "", value=(tid, t0 + end * MS)))
    for ms, run, host, sampler_ms, waited, lab in (
        (0, 0, 0, 0, 0, 0),
        (400, 400, 804, 4, 0, 120),
        (1000, 1300, 1920, 10, 35, 300),
    ):
        sample = {"cores": 2, "tick_ns": 4 * MS, "host_busy_ns": host * MS, "run_ns": run * MS}
        sample |= {"waited_ns": waited * MS, "sampler_ns": sampler_ms * MS, "lab_ns": lab * MS}
        timeline.apply(Event("machine", t0 + ms * MS, "", value=sample))
    return timeline


def test_a_runs_budget_gives_each_figure_over_the_run_and_over_each_long_phase_from_its_start():
    cpu = budget(a_run_with_a_serial_part_and_a_thread_pool())
    assert cpu is not None
    stretch = {"lab_busy_cores": 0.3, "first_task_ms": None, "together_ms": None}
    assert cpu.to_json() == {
        "cores": 2,
        "workers_busy_cores": 1.3,  # 1 300 ms of CPU over 1 s
        "others_busy_cores": 0.31,  # 1 920 busy, less the run's 1 300, the sampler's 10 and the lab's 300
        "lab_busy_cores": 0.3,
        "resolution_cores": 0.02,  # a 4 ms tick per core at each end of 1 s
        "on_cpu_ms": {"main": 400.0, "worker-1": 400.0, "worker-2": 320.0},
        "recorder_ms": 30.0,
        "sampler_ms": 10.0,
        "unlaned_ms": 0.0,
        "waited_for_cpu_ms": 35.0,
        "parallel": {"span_ms": 420.0, "together_ms": 300.0},
        "phases": [
            {"name": "serial", "start_ms": 0.0, "end_ms": 400.0, "workers_busy_cores": 1.0, "others_busy_cores": 0.7}
            | stretch
            | {"resolution_cores": 0.04},
            # interpolated from 450 ms, between the samples at 400 and 1 000; its first task began 30 ms in
            {"name": "thread pool", "start_ms": 450.0, "end_ms": 1000.0, "workers_busy_cores": 1.5}
            | {"others_busy_cores": 0.05, "resolution_cores": 0.03, "lab_busy_cores": 0.3}
            | {"first_task_ms": 30.0, "together_ms": 300.0},
        ],
    }


def test_a_budgets_phases_are_timed_from_the_runs_start_to_a_tenth_of_a_ms_and_each_counts_its_own_overlap():
    """Sampled from 5 ms after the run began (the sampler starts after it), a "prepare" of exactly 100 ms (long
    enough to average over), a "process pool" phase from 150.25 to 600.375 ms; the workers were on CPUs together
    before the phase (20-70 ms) and in it (250-400 ms)."""
    t0 = 7_000 * MS
    timeline = Timeline(coalesce=False)
    for worker, tid in (("main", 1), ("worker-1", 11), ("worker-2", 12)):
        timeline.apply(Event("lane", t0, worker, value={"pid": 1, "tid": tid, "thread": worker}))
    timeline.apply(Event("service", t0, "", value={"tid": 50, "role": "recorder"}))
    for name, category, start, end in (("prepare", "run", 0, 100_000), ("process pool", "phase", 150_250, 600_375)):
        timeline.apply(Event("begin", t0 + start * US, "main", name, category))
        timeline.apply(Event("end", t0 + end * US, "main"))
    timeline.apply(Event("begin", t0 + 200_500 * US, "worker-1", "task 1", "cpu"))
    timeline.apply(Event("end", t0 + 500_123 * US, "worker-1"))
    on_cpu = ((11, 20_000, 70_000), (12, 20_000, 70_000), (11, 200_500, 500_123), (12, 250_000, 400_000))
    for tid, start, end in (*on_cpu, (50, 10_000, 40_456)):
        timeline.apply(Event("oncpu", t0 + start * US, "", value=(tid, t0 + end * US)))
    for ms, run, host, sampler_us, waited_us, lab in (
        (5, 0, 0, 1_000, 2_000, 0),
        (605, 737, 1000, 10_345, 35_678, 121),
    ):
        sample = {"cores": 2, "tick_ns": 4 * MS, "host_busy_ns": host * MS, "run_ns": run * MS}
        sample |= {"waited_ns": waited_us * US, "sampler_ns": sampler_us * US, "lab_ns": lab * MS}
        timeline.apply(Event("machine", t0 + ms * MS, "", value=sample))
    timeline.unlaned_ns = 12_345_678  # threads of the run no lane holds (a pool's manager), as the timeline counted
    cpu = budget(timeline)
    assert cpu is not None
    assert (cpu.workers_busy_cores, cpu.others_busy_cores, cpu.lab_busy_cores) == (1.23, 0.22, 0.2)  # 737 ms / 600
    assert cpu.unlaned_ms == 12.3
    assert cpu.on_cpu_ms == {"main": 0.0, "worker-1": 349.6, "worker-2": 200.0}
    assert (cpu.recorder_ms, cpu.sampler_ms, cpu.waited_for_cpu_ms) == (30.5, 9.3, 33.7)  # since the first sample
    assert cpu.parallel is not None and cpu.parallel.to_json() == {"span_ms": 480.1, "together_ms": 200.0}
    prepare, pool = cpu.phases
    assert (prepare.name, prepare.start_ms, prepare.end_ms, prepare.first_task_ms, prepare.together_ms) == (
        "prepare",
        0.0,
        100.0,
        None,  # not a phase an experiment names: no first task, no overlap of its own
        None,
    )
    assert (pool.start_ms, pool.end_ms, pool.first_task_ms, pool.together_ms) == (150.2, 600.4, 50.2, 150.0)


def test_a_figure_the_sampler_could_not_read_at_first_is_not_given():
    timeline = events_of(("lane", 0, "main", "", "", {"pid": 1, "tid": 1}))
    first = {"cores": 2, "run_ns": 0, "waited_ns": 0, "sampler_ns": 0}  # no /proc/stat, no lab yet
    last = {"cores": 2, "run_ns": 500 * MS, "waited_ns": 0, "sampler_ns": 0, "host_busy_ns": 900 * MS, "lab_ns": MS}
    timeline.apply(Event("machine", 0, "", value=first))
    timeline.apply(Event("machine", 1_000 * MS, "", value=last))
    cpu = budget(timeline)
    assert cpu is not None
    assert (cpu.workers_busy_cores, cpu.others_busy_cores, cpu.lab_busy_cores, cpu.parallel) == (0.5, None, None, None)
    assert cpu.to_json()["parallel"] is None
    assert cpu_sentences(cpu)[0] == "The run's threads and processes kept 0.5 of 2 cores busy on average."
    samples_at_one_time = events_of(("lane", 0, "main", "", "", {"pid": 1, "tid": 1}))
    for _ in range(2):
        samples_at_one_time.apply(Event("machine", 0, "", value=last))
    assert budget(samples_at_one_time) is None  # no time to average over
    no_stat = events_of(("lane", 0, "main", "", "", {"pid": 1, "tid": 1}))
    for ts, sample in ((0, {**first, "lab_ns": 0}), (1_000 * MS, {**last, "host_busy_ns": None})):
        no_stat.apply(Event("machine", ts, "", value=sample))
    cpu = budget(no_stat)
    assert cpu is not None and (cpu.lab_busy_cores, cpu.others_busy_cores) == (0.0, None)


def test_a_budget_in_words_names_the_phase_others_slowed_and_what_measuring_cost():
    cpu = budget(a_run_with_a_serial_part_and_a_thread_pool())
    assert cpu is not None
    first = (
        "The run's threads and processes kept 1.3 of 2 cores busy on average; the lab's own server (drawing it) "
        "used 0.3, other programs used 0.3 (give or take 0.02: /proc/stat counts in ticks)."
    )
    serial = (
        "During “serial” other programs used 0.7 of 2 cores (give or take 0.04): the run got 1.0, and could have "
        "had 1.3 at most."
    )
    last = [
        "Its threads spent 35 ms in all ready to run with no core free for them.",
        "Measuring this cost 10 ms of CPU, recording 30 ms.",
    ]
    assert cpu_sentences(cpu) == [first, serial, *last]
    yardstick = " The serial run is the yardstick: slowed so, it makes the speedups over it larger."
    assert cpu_sentences(cpu, {"thread_speedup": 1.2}) == [first, serial + yardstick, *last]


def test_a_budget_over_too_short_a_run_says_so_and_a_wait_under_10_ms_is_not_worth_a_sentence():
    short = Budget(1, 0.9, 0.1, {}, recorder_ms=1.0, sampler_ms=2.0, unlaned_ms=0.0, waited_for_cpu_ms=9.0, phases=[])
    assert cpu_sentences(replace(short, resolution_cores=0.8)) == [
        "The run's threads and processes kept 0.9 of 1 core busy on average; what other programs used, the run was "
        "too short to tell (/proc/stat counts in ticks: over it, a figure could be off by 0.8 cores).",
        "Measuring this cost 2 ms of CPU, recording 1 ms.",
    ]
    assert cpu_sentences(replace(short, resolution_cores=TOO_SHORT_CORES))[0].endswith("could be off by 0.5 cores).")
    loaded = Stretch("process pool", 0.0, 500.0, 0.7, NOTABLE_CORES, 0.1)
    assert cpu_sentences(replace(short, resolution_cores=0.1, phases=[loaded]), {"process_speedup": 0.9})[:2] == [
        "The run's threads and processes kept 0.9 of 1 core busy on average; other programs used 0.1 (give or "
        "take 0.10: /proc/stat counts in ticks).",
        "During “process pool” other programs used 0.3 of 1 core (give or take 0.10): the run got 0.7, and could "
        "have had 0.7 at most. A speedup measured there cannot exceed that.",
    ]
    assert cpu_sentences(replace(short, others_busy_cores=None, waited_for_cpu_ms=10.0)) == [
        "The run's threads and processes kept 0.9 of 1 core busy on average.",
        "Its threads spent 10 ms in all ready to run with no core free for them.",
        "Measuring this cost 2 ms of CPU, recording 1 ms.",
    ]


@st.composite
def machine_samples(draw: st.DrawFn) -> tuple[int, list[tuple[int, dict[str, int]]]]:
    """A machine of 1 to 4 cores and its cumulative samples, each figure growing by anything up to twice
    what the cores could do: /proc/stat's ticks and interpolation make the figures that far off."""
    cores = draw(st.integers(1, 4))
    ts, run, host, sampler_ns, lab = 0, 0, 0, 0, 0
    with_lab = draw(st.booleans())
    samples = []
    for _ in range(draw(st.integers(2, 6))):
        sample = {"cores": cores, "host_busy_ns": host, "run_ns": run, "waited_ns": 0, "sampler_ns": sampler_ns}
        samples.append((ts, {**sample, "lab_ns": lab} if with_lab else sample))
        gap = draw(st.integers(1, 300)) * MS
        ts += gap
        run += draw(st.integers(0, 2 * cores * gap // MS)) * MS
        host += draw(st.integers(0, 2 * cores * gap // MS)) * MS
        sampler_ns += draw(st.integers(0, gap // MS)) * MS
        lab += draw(st.integers(0, 2 * cores * gap // MS)) * MS
    return cores, samples


# What is checked is the figures, not how fast they come: on a loaded machine (a mutation run beside other
# test suites) drawing an example can take over a second, which Hypothesis would fail as too slow.
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(machine_samples(), st.floats(0, 1), st.floats(0, 1))
def test_no_budget_figure_exceeds_the_machines_cores(machine, a, b):
    cores, samples = machine
    last_ts = samples[-1][0]
    start, end = sorted((int(a * last_ts), int(b * last_ts)))
    timeline = events_of(
        ("lane", 0, "main", "", "", {"pid": 1, "tid": 1}),
        ("begin", start, "main", "phase", "phase"),
        ("end", max(end, start + 100 * MS), "main"),
    )
    for ts, sample in samples:
        timeline.apply(Event("machine", ts, "", value=sample))
    cpu = budget(timeline)
    assert cpu is not None
    stretches: list[Budget | Stretch] = [cpu, *cpu.phases]
    for stretch in stretches:
        assert 0 <= stretch.workers_busy_cores <= cores
        others, lab = stretch.others_busy_cores, stretch.lab_busy_cores or 0.0
        assert 0 <= lab <= cores - stretch.workers_busy_cores + 0.01
        assert others is None or 0 <= others <= cores - stretch.workers_busy_cores - lab + 0.01
    words = " ".join(cpu_sentences(cpu))
    if cpu.resolution_cores >= TOO_SHORT_CORES and cpu.others_busy_cores is not None:
        assert "too short to tell" in words


def test_a_figure_over_a_few_milliseconds_is_too_coarse_to_give_and_over_seconds_fine():
    # 100 ticks a second (getconf CLK_TCK): over 5 ms on 2 cores a figure may be 8 cores off, over 2 s 0.02.
    assert resolution(2, 5 * MS) == 8.0 and resolution(2, 2_000 * MS) == 0.02
    assert resolution(2, 5 * MS, tick_ns=4 * MS) == 3.2  # a sampler that says its tick
    assert resolution(2, 0) == 2.0  # no time at all: nothing told apart


# -- the on-CPU strip as drawn: bins of the resolution, counted from the run's start ----------

US = 1_000
T0 = 5_000 * MS + 70 * US  # the run's first event: a clock's reading, not a multiple of anything


def cpu_run(*intervals: tuple[float, float], tid: int = 7) -> Timeline:
    """A coalescing timeline (200 µs bins while the run is short): lane `w` for thread `tid`, on a CPU
    in each of `intervals` (µs since T0)."""
    timeline = Timeline()
    timeline.apply(Event("lane", T0, "w", value={"pid": 1, "tid": tid, "thread": "Thread-1 (work)"}))
    for start, end in intervals:
        timeline.apply(Event("oncpu", T0 + int(start * US), "", value=(tid, T0 + int(end * US))))
    return timeline


def bins(spans: Iterable[Span]) -> list[tuple[float, float, float]]:
    return [((s.start_ns - T0) / US, (s.end_ns - T0) / US, s.busy_ns / US) for s in spans]


def test_coalesced_bins_say_the_cpu_their_turns_ran_on_or_several_and_how_the_last_one_ended():
    timeline = Timeline()  # 200 µs bins
    timeline.apply(Event("lane", T0, "w", value={"pid": 1, "tid": 7, "thread": "Thread-1 (work)"}))
    turns = ((0, 400, 1, "p"), (400, 600, 0, "v"), (650, 700, 1, "p"), (700, 750, 0, "v"), (1_000, 1_100, 1, ""))
    for start, end, cpu, how in (*turns, (1_200, 1_500, 0, "p")):  # the last goes on past a whole bin
        timeline.apply(Event("oncpu", T0 + start * US, "", value=(7, T0 + end * US, cpu, how)))

    def drawn(spans: list[Span]) -> list[tuple[float, float, float, int, str]]:
        return [(*bin_, s.cpu, s.how) for bin_, s in zip(bins(spans), spans)]

    several = MIXED_CPUS
    assert drawn(timeline.cpu_spans) == [
        (0, 600, 600, several, "v"),
        (600, 800, 100, several, "v"),
        (1_000, 1_200, 100, 1, ""),
    ]
    assert drawn(timeline.open_cpu(timeline.lanes[0])) == [(1_200, 1_400, 200, 0, ""), (1_400, 1_600, 100, 0, "")]
    timeline.close()
    assert drawn(timeline.cpu_spans)[3:] == [(1_200, 1_400, 200, 0, ""), (1_400, 1_600, 100, 0, "p")]  # ended preempted


def test_whole_bins_on_a_cpu_are_one_span_and_a_bin_partly_on_a_cpu_says_how_much():
    timeline = cpu_run((0, 600), (600, 700), (1_000, 1_100))
    lane = timeline.lanes[0]
    assert bins(timeline.cpu_spans) == [(0, 600, 600), (600, 800, 100)]  # bins from the run's start
    assert bins(timeline.open_cpu(lane)) == [(1_000, 1_200, 100)]  # still being filled
    assert all(
        (s.lane, s.name, s.category) == (0, ON_CPU, ON_CPU) for s in timeline.cpu_spans + timeline.open_cpu(lane)
    )
    timeline.close()
    assert bins(timeline.cpu_spans) == [(0, 600, 600), (600, 800, 100), (1_000, 1_200, 100)]
    assert lane.cpu_ns == 800 * US and timeline.open_cpu(lane) == []


def test_full_bins_in_a_row_are_drawn_once_the_row_ends_and_a_bin_98_percent_full_counts_as_full():
    timeline = cpu_run((0, 200), (200, 396), (400, 595), (800, 1_000))  # 196 of 200 µs, then 195
    lane = timeline.lanes[0]
    assert bins(timeline.cpu_spans) == [(0, 400, 400), (400, 600, 195)]
    assert bins(timeline.open_cpu(lane)) == [(800, 1_000, 200)]  # a row of full bins, not drawn yet
    timeline.apply(Event("oncpu", T0 + 1_000 * US, "", value=(7, T0 + 1_400 * US)))
    assert bins(timeline.open_cpu(lane)) == [(800, 1_400, 600)]  # the row grows
    timeline.close()
    assert bins(timeline.cpu_spans) == [(0, 400, 400), (400, 600, 195), (800, 1_400, 600)]


def test_an_interval_across_bins_fills_the_rest_of_its_first_bin_then_whole_ones_then_opens_the_last():
    timeline = cpu_run((150, 1_050))
    assert bins(timeline.cpu_spans) == [(0, 200, 50)]  # 150-200: a quarter of its bin
    assert bins(timeline.open_cpu(timeline.lanes[0])) == [(200, 1_000, 800), (1_000, 1_200, 50)]


def test_without_coalescing_each_interval_is_drawn_as_it_came():
    timeline = Timeline(coalesce=False)
    timeline.apply(Event("lane", T0, "w", value={"pid": 1, "tid": 7}))
    for start, end in ((0, 1), (5, 5), (9, 8)):  # an empty or backwards interval is nothing
        timeline.apply(Event("oncpu", T0 + start * US, "", value=(7, T0 + end * US)))
    assert [(s.lane, s.name, s.category, s.start_ns - T0, s.end_ns - T0) for s in timeline.cpu_spans] == [
        (0, ON_CPU, ON_CPU, 0, 1 * US)
    ]
    assert timeline.lanes[0].cpu_ns == 1 * US


def test_the_recorders_own_threads_cpu_is_counted_by_role_and_drawn_on_no_lane():
    timeline = Timeline()
    timeline.apply(Event("header", T0, "main", value={"pid": 1}))
    for tid, start, end in ((50, 0, 30), (50, 30, 35), (51, 10, 15)):  # before anyone said whose threads they are
        timeline.apply(Event("oncpu", T0 + start * US, "", value=(tid, T0 + end * US)))
    timeline.apply(Event("service", T0 + 40 * US, "", value={"tid": 50, "role": "recorder"}))
    timeline.apply(Event("service", T0 + 40 * US, "", value={"tid": 51}))  # a role not said
    timeline.apply(Event("service", T0 + 40 * US, "", value={"tid": 52, "role": "sampler"}))  # nothing held
    timeline.apply(Event("service", T0 + 40 * US, "", value={"role": "no tid"}))
    timeline.apply(Event("oncpu", T0 + 50 * US, "", value=(50, T0 + 70 * US)))
    timeline.apply(Event("oncpu", T0 + 50 * US, "", value=(52, T0 + 53 * US)))
    timeline.close()
    assert timeline.service_ns == {"recorder": 55 * US, "service": 5 * US, "sampler": 3 * US}
    assert timeline.service == {50: "recorder", 51: "service", 52: "sampler"}
    assert timeline.cpu_spans == [] and timeline.unlaned_ns == 0 and timeline.held == {}


def test_intervals_held_for_a_lane_are_bounded_and_the_rest_counted_as_the_runs_unlaned_time():
    timeline = Timeline(coalesce=False)
    for i in range(HELD_MAX + 3):
        timeline.apply(Event("oncpu", T0 + i * 10 * US, "", value=(9, T0 + i * 10 * US + 2 * US)))
    assert len(timeline.held[9]) == HELD_MAX and timeline.unlaned_ns == 3 * 2 * US
    timeline.apply(Event("oncpu", T0, "", value=(8, T0 + 5 * US)))  # a thread that never gets a lane
    timeline.apply(Event("lane", T0, "w", value={"pid": 1, "tid": 9}))
    assert len(timeline.cpu_spans) == HELD_MAX and timeline.lanes[0].cpu_ns == HELD_MAX * 2 * US
    timeline.close()
    assert timeline.unlaned_ns == 6 * US + 5 * US and timeline.held == {}


def test_a_lane_knows_its_process_thread_and_native_id():
    timeline = cpu_run(tid=7)
    timeline.apply(Event("lane", T0, "v", value={"pid": 2, "tid": "not a number"}))
    w, v = timeline.lanes
    assert (w.pid, w.thread, w.tid) == (1, "Thread-1 (work)", 7)
    assert (v.pid, v.thread, v.tid) == (2, "", None)
    assert timeline.lane_of_tid() == {7: "w"}


# -- a process that ended under its lanes ------------------------------------------------------


def exited(timeline: Timeline, ms: float, pid: int, **info: int) -> Timeline:
    timeline.apply(Event("exit", T0 + int(ms * MS), "", value={"pid": pid, **info}))
    return timeline


def pool() -> Timeline:
    """main in process 1, then in process 7 an idle worker thread and a pool worker in fib(30) and a
    nested wait, then main's wait."""
    timeline = events_of(
        ("lane", T0, "main", "", "", {"pid": 1, "tid": 1}),
        ("lane", T0, "idle", "", "", {"pid": 7, "tid": 70}),
        ("lane", T0, "pool-1", "", "", {"pid": 7, "tid": 71}),
        ("begin", T0 + 1 * MS, "pool-1", "fib(30)", "cpu"),
        ("begin", T0 + 2 * MS, "pool-1", "Queue.get", "wait"),
        ("begin", T0 + 1 * MS, "main", "Pool.map", "wait"),
    )
    return timeline


def test_a_killed_process_marks_each_of_its_lanes_and_cuts_what_they_had_open_where_it_died():
    timeline = exited(pool(), 5, pid=7, signal=signal.SIGKILL, known=True)
    assert [(m.lane, m.ts_ns - T0, m.name, m.category) for m in timeline.marks] == [
        (1, 5 * MS, "killed by SIGKILL", "end"),
        (2, 5 * MS, "killed by SIGKILL", "end"),
    ]
    assert timeline.spans == [
        Span(2, "Queue.get", "wait", T0 + 2 * MS, T0 + 5 * MS, 1, cut="killed by SIGKILL"),
        Span(2, "fib(30)", "cpu", T0 + 1 * MS, T0 + 5 * MS, 0, cut="killed by SIGKILL"),
    ]
    assert [lane.ended for lane in timeline.lanes] == ["", "", "killed by SIGKILL"]
    assert [d.words() for d in timeline.deaths] == ["pool-1 (pid 7) was killed by SIGKILL during Queue.get"]
    exited(timeline, 6, pid=7, signal=signal.SIGTERM, known=True)  # said twice: once is what happened
    assert len(timeline.deaths) == 1 and len(timeline.spans) == 2


def test_a_process_that_exited_leaves_its_open_spans_to_be_cut_when_the_run_ends():
    timeline = exited(pool(), 5, pid=7, signal=0, status=0, known=True)
    assert (timeline.marks, timeline.spans, timeline.deaths) == ([], [], [])


def test_a_process_reaped_before_its_end_was_read_cuts_its_spans_saying_so():
    timeline = exited(pool(), 5, pid=7, known=False)
    assert timeline.marks == []  # no signal known: nothing to mark
    assert {s.cut for s in timeline.spans} == {"its process ended"}
    assert [d.words() for d in timeline.deaths] == [
        "pool-1 (pid 7) ended (how is unknown: its parent reaped it before it could be read) during Queue.get"
    ]


def test_the_parent_reaping_a_process_says_how_it_ended_when_the_sampler_could_not():
    """The sampler found the zombie gone; the recorder in its parent, which reaped it, says it was killed."""
    timeline = exited(pool(), 5, pid=7, known=False)
    exited(timeline, 5.2, pid=7, signal=signal.SIGKILL, known=True)
    assert [d.words() for d in timeline.deaths] == ["pool-1 (pid 7) was killed by SIGKILL during Queue.get"]
    # both lanes of process 7 are marked where its parent saw it killed
    assert sorted((timeline.lanes[m.lane].worker, m.name, m.ts_ns - T0) for m in timeline.marks) == [
        ("idle", "killed by SIGKILL", 5.2 * MS),
        ("pool-1", "killed by SIGKILL", 5.2 * MS),
    ]
    assert [lane.ended for lane in timeline.lanes] == ["", "", "killed by SIGKILL"]
    exited(timeline, 5.4, pid=7, known=False)  # and the other way round: a known end is not unsaid
    assert [d.words() for d in timeline.deaths] == ["pool-1 (pid 7) was killed by SIGKILL during Queue.get"]


def test_a_span_that_began_after_its_process_died_is_cut_where_it_began():
    timeline = exited(pool(), 1.5, pid=7, signal=signal.SIGKILL, known=True)  # the wait began at 2 ms
    assert [(s.name, s.start_ns - T0, s.end_ns - T0) for s in timeline.spans] == [
        ("Queue.get", 2 * MS, 2 * MS),
        ("fib(30)", 1 * MS, 1.5 * MS),
    ]


def test_full_bins_apart_are_drawn_apart_however_their_last_bin_was_filled():
    timeline = cpu_run((0, 400), (802, 1_000), (1_000, 1_050))  # full bins; a gap; a bin full but for 2 µs
    timeline.close()
    assert bins(timeline.cpu_spans) == [(0, 400, 400), (800, 1_000, 200), (1_000, 1_200, 50)]


def test_switch_records_lost_are_a_gap_in_every_strip_saying_why_and_counted():
    timeline = Timeline(coalesce=False)
    timeline.apply(Event("lane", 0, "worker-1", value={"pid": 1, "tid": 11, "thread": "worker-1"}))
    timeline.apply(Event("lane", 0, "worker-2", value={"pid": 1, "tid": 12, "thread": "worker-2"}))
    (gap,) = decode_wire(
        b'[["G",'
        + str(2 * MS).encode()
        + b',"",{"end_ns":'
        + str(5 * MS).encode()
        + b',"cpu":1,"lost":40,"why":"buffer full"}]]'
    )
    timeline.apply(gap)
    assert timeline.lost_records() == 40
    lost = [s for s in timeline.cpu_spans if s.category == "lost"]
    assert [(s.lane, s.start_ns, s.end_ns, s.cut) for s in lost] == [
        (0, 2 * MS, 5 * MS, "buffer full"),
        (1, 2 * MS, 5 * MS, "buffer full"),
    ]
    assert timeline.lanes[0].cpu_ns == 0  # unknown is not time on a CPU
    box = place_cpu(lost[0], Axis(0, 10 * MS))
    assert box.category == "lost" and "buffer full" in box.tip and box.title == "switch records lost"


def test_a_turn_from_the_switch_records_keeps_its_cpu_and_how_it_ended():
    timeline = Timeline(coalesce=False)
    timeline.apply(Event("lane", 0, "worker-1", value={"pid": 1, "tid": 11, "thread": "worker-1"}))
    (turn,) = decode_wire(b'[["T",' + str(MS).encode() + b',"",11,' + str(3 * MS).encode() + b',1,"p"]]')
    timeline.apply(turn)
    (span,) = timeline.cpu_spans
    assert (span.start_ns, span.end_ns, span.cpu, span.how) == (MS, 3 * MS, 1, "p")
    assert turn.to_json({11: "worker-1"})["ended"] == "preempted"
    box = place_cpu(span, Axis(0, 10 * MS))
    assert "on CPU 1, then preempted" in box.title  # the details panel says where it ran and how it ended


def test_start_says_what_the_sampler_did_when_it_did_not_follow_the_run():
    """The runner waits at GO until the sampler says it follows; when it does not, the run goes on and the
    header says why (the strips may miss what the run started meanwhile)."""

    def started(word: bytes | None, timeout_s: float = 0.05) -> str:
        go_read, go_write = os.pipe()
        ready_read, ready_write = os.pipe()
        if word is None:
            os.close(ready_write)  # the sampler died: EOF
        elif word:
            os.write(ready_write, word)
        control = sampler.Control(go_write, ready_read)
        try:
            return sampler.start(control, timeout_s)
        finally:
            assert os.read(go_read, 1) == sampler.GO and control.ready == -1  # GO sent, its word's pipe closed
            control.close()
            os.close(go_read)
            if word is not None:
                os.close(ready_write)

    assert started(b"!") == ""
    assert started(b"") == "did not follow the run within 0.05 s of its start (a machine too busy to give it a CPU)"
    assert started(None) == "ended before it followed the run"
    go_read, go_write = os.pipe()
    ready_read, ready_write = os.pipe()
    os.close(go_read)  # it died before GO: the run goes on without it, not a runner killed by its write
    control = sampler.Control(go_write, ready_read)
    assert sampler.start(control) == sampler.ENDED and control.ready == -1
    control.close()
    os.close(ready_write)


def test_the_rehearsal_before_a_run_writes_nothing_and_leaves_no_file_open():
    """The switch-record reader runs each step once on made-up records before GO (its forked pages copied then,
    not during the run): none of that may reach the run's events, or hold a file of this process open."""
    read_end, write_end = os.pipe()
    before = sorted(os.listdir("/proc/self/fd"))
    try:
        sampler._rehearse(os.getpid(), write_end)
        assert sorted(os.listdir("/proc/self/fd")) == before
        os.set_blocking(read_end, False)
        with pytest.raises(BlockingIOError):  # nothing written
            os.read(read_end, 1)
    finally:
        os.close(read_end)
        os.close(write_end)


def test_others_left_nothing_by_the_lab_are_zero_not_minus_zero():
    """Where the lab took all a run left of the machine, other programs had 0 cores of it: `-0.0` in the API's
    JSON would say something else."""
    lab, others = shared(0.306, 0.306, 0.5)  # the lab rounds up to 0.31: past what the run left
    assert (lab, others) == (0.31, 0.0) and others is not None and math.copysign(1.0, others) == 1.0
