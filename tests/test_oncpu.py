"""On-CPU lanes, pure: the sampler's arithmetic and the timeline's fold of what it measured.

tests/test_oncpu_runs.py measures real runs through the runner and its sampler process.
"""
from __future__ import annotations

import signal

from app.cpu import budget, sentences as cpu_sentences
from app.events import Event
from app.timeline import Timeline
from experiments import sampler

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


def test_a_zombies_exit_status_names_the_signal_that_killed_it():
    fields = ["0"] * 49
    killed = "123 (python3 (x)) Z " + " ".join(fields[:48] + [str(signal.SIGKILL)])
    exited = "124 (python3) Z " + " ".join(fields[:48] + [str(3 << 8)])
    running = "125 (python3) R " + " ".join(fields[:48] + ["0"])
    assert sampler.exit_of(killed) == {"known": True, "signal": signal.SIGKILL, "status": 0}
    assert sampler.exit_of(exited) == {"known": True, "signal": 0, "status": 3}
    assert sampler.exit_of(running)["known"] is False


def test_the_machines_busy_time_leaves_out_idle_and_iowait():
    assert sampler.host_busy_ns("cpu  100 5 20 9999 7 1 2 3 0 0", 100) == (100 + 5 + 20 + 1 + 2 + 3) * 10 * MS


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
        timeline.apply(Event("machine", ms * MS, "", value={
            "cores": 2, "host_busy_ns": host * MS, "run_ns": run * MS, "waited_ns": 0, "sampler_ns": 0}))
    cpu = budget(timeline)
    assert (cpu.workers_busy_cores, cpu.others_busy_cores) == (1.0, 1.0)
    assert [(p.name, p.workers_busy_cores, p.others_busy_cores) for p in cpu.phases] == [("process pool", 1.0, 1.0)]
    assert any("could have had 1.0 at most." in s for s in cpu_sentences(cpu))
    assert any("speedup measured there cannot exceed" in s for s in cpu_sentences(cpu, {"process_speedup": 1.1}))
    assert not any("speedup" in s for s in cpu_sentences(cpu, {"expected": 0, "actual": 0}))


