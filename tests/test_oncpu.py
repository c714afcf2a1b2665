"""On-CPU lanes: what the kernel says each worker did, measured from outside the experiment.

Through the real runner (and its sampler process): threads under one GIL take turns, processes
overlap, a sleeping thread is not on a CPU, and a worker killed mid-task ends its lane, named.
"""
from __future__ import annotations

import os
import signal
import time

import pytest
from fastapi.testclient import TestClient

from app.model.cpu import budget
from app.model.cpu import sentences as cpu_sentences
from app.model.events import Event
from app.model.timeline import Timeline
from app.web.server import create_app
from experiments import MODULES, sampler
from tests.conftest import make_settings, until
from tests.runner_helpers import Outcome, alive_in_group, run_experiment

MS = 1_000_000
TEST_MODULES = MODULES + ("tests.oncpu_experiment", "tests.pool_victim_experiment")


def on_cpu(out: Outcome) -> tuple[Timeline, dict[str, list[tuple[int, int]]]]:
    timeline = out.timeline()
    timeline.close()
    intervals: dict[str, list[tuple[int, int]]] = {}
    for span in timeline.cpu_spans:
        intervals.setdefault(timeline.lanes[span.lane].worker, []).append((span.start_ns, span.end_ns))
    return timeline, {worker: sorted(spans) for worker, spans in intervals.items()}


def total(intervals: list[tuple[int, int]]) -> int:
    return sum(end - start for start, end in intervals)


def overlap(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> int:
    i = j = shared = 0
    while i < len(a) and j < len(b):
        shared += max(0, min(a[i][1], b[j][1]) - max(a[i][0], b[j][0]))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return shared


def probe(workers: str, task: str, ms: int = 400) -> Outcome:
    out = run_experiment("tests.oncpu_experiment", {"workers": workers, "task": task, "ms": ms})
    assert out.returncode == 0, out.stderr
    assert out.leftovers == []
    return out


# -- pure: the sampler's arithmetic and the timeline's fold ----------------------------------

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


# -- through the runner ----------------------------------------------------------------------

def test_two_cpu_bound_threads_take_turns_on_the_gil():
    _, lanes = on_cpu(probe("threads", "spin"))
    a, b = lanes["worker-1"], lanes["worker-2"]
    assert total(a) > 50 * MS and total(b) > 50 * MS
    assert overlap(a, b) < 0.2 * min(total(a), total(b))
    assert len(a) >= 5 and len(b) >= 5  # turns, not one long stretch each


def test_two_cpu_bound_processes_overlap_when_two_cores_are_free():
    out = probe("processes", "spin")
    timeline, lanes = on_cpu(out)
    a, b = lanes["worker-1"], lanes["worker-2"]
    cpu = budget(timeline)
    assert cpu is not None and cpu.others_busy_cores is not None
    if os.cpu_count() < 2 or cpu.others_busy_cores > 0.5:
        pytest.skip(f"two cores were not free: others used {cpu.others_busy_cores} of {os.cpu_count()}")
    assert overlap(a, b) > 0.5 * min(total(a), total(b))


def test_a_sleeping_thread_is_not_on_a_cpu():
    out = probe("threads", "sleep", ms=400)
    timeline, lanes = on_cpu(out)
    for worker in ("worker-1", "worker-2"):
        assert total(lanes.get(worker, [])) < 10 * MS, worker  # starting and ending the sleep only
    assert timeline.by_worker["worker-1"].cpu_ns < 10 * MS


def test_the_recorders_flusher_is_no_lane_and_its_cpu_is_counted_apart():
    timeline, lanes = on_cpu(probe("threads", "spin", ms=200))
    assert set(lanes) <= {"main", "worker-1", "worker-2"}
    assert "recorder" in timeline.service.values()
    cpu = budget(timeline)
    assert cpu is not None and cpu.recorder_ms > 0 and cpu.sampler_ms > 0  # the flusher's tid was known
    assert 0.3 < cpu.workers_busy_cores <= cpu.cores + 0.05  # the spinners kept about one core busy


def test_race_counter_runs_the_tutorials_loop_as_written():
    out = run_experiment("experiments.race_counter", {"workers": 2, "iterations": 20_000, "window": "none"})
    listings = out.of("header")[0].value["bytecode"]
    assert set(listings) == {"increment", "decrement"}
    assert all("chunks" not in text and "range" in text for text in listings.values())


def test_with_sampling_off_the_run_works_and_its_header_says_why(monkeypatch):
    monkeypatch.setenv("LAB_ONCPU", "0")
    out = probe("threads", "spin", ms=50)
    assert out.of("oncpu") == []
    assert out.of("header")[0].value["oncpu"] == {"unavailable": "turned off (LAB_ONCPU)"}


def test_without_schedstat_sampling_is_unavailable_and_says_why(tmp_path):
    why = sampler.unavailable(proc=str(tmp_path))
    assert why is not None and "schedstat" in why
    assert sampler.unavailable() is None  # this machine has it


# -- a worker killed mid-task, through the API ----------------------------------------------

def start_and_kill_the_long_task(c: TestClient, pool: str) -> tuple[dict, int, str, float]:
    run = c.post("/api/runs", json={"experiment": "pool-victim", "params": {"pool": pool, "ms": 20_000}}).json()

    def long_task():
        events = c.get(f"/api/runs/{run['id']}/events").json()
        begun = [e for e in events if e["kind"] == "begin" and e["name"].startswith("task sleeps 20")]
        lanes = {e["worker"]: e["value"]["pid"] for e in events if e["kind"] == "lane"}
        return begun and (begun[0]["worker"], lanes[begun[0]["worker"]])

    worker, pid = until(long_task, timeout=20, what="the long task started")
    time.sleep(3 * sampler.CHILDREN_EVERY_S)  # the sampler has found the new process (a kill sooner goes unseen)
    killed_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    return run, pid, worker, killed_at


@pytest.mark.parametrize("pool, status", [("Pool", "hung"), ("ProcessPoolExecutor", "failed")])
def test_a_pool_worker_killed_mid_task_ends_the_run_soon_naming_it(pool, status):
    hang_after_s = 1.0
    settings = make_settings(hang_after_s=hang_after_s, run_timeout_s=60)
    with TestClient(create_app(settings, modules=TEST_MODULES)) as c:
        run, pid, worker, killed_at = start_and_kill_the_long_task(c, pool)
        body = until(lambda: (b := c.get(f"/api/runs/{run['id']}").json())["status"] not in ("queued", "running") and b,
                     timeout=30, what="the run ended")
        took = time.monotonic() - killed_at
        assert body["status"] == status, body
        assert took < hang_after_s + 2, f"ended {took:.1f} s after the kill"
        assert f"{worker} (pid {pid}) was killed by SIGKILL" in body["error"]
        events = c.get(f"/api/runs/{run['id']}/events").json()
        assert any(e["kind"] == "exit" and e["value"]["pid"] == pid and e["value"]["signal"] == signal.SIGKILL
                   for e in events)
        runner = next(e["value"]["pid"] for e in events if e["kind"] == "header")
        assert alive_in_group(runner) == []
        page = c.get(body["url"]).text
        assert "killed by SIGKILL" in page


def test_the_api_has_the_runs_cpu_budget_and_oncpu_events_on_their_lanes():
    with TestClient(create_app(make_settings(), modules=TEST_MODULES)) as c:
        run = c.post("/api/runs", json={"experiment": "oncpu-probe",
                                        "params": {"workers": "processes", "task": "spin", "ms": 200}}).json()
        body = until(lambda: (b := c.get(f"/api/runs/{run['id']}").json())["status"] == "done" and b, timeout=30,
                     what="the run finished")
        cpu = body["cpu"]
        assert cpu["cores"] == os.cpu_count()
        assert set(cpu["on_cpu_ms"]) >= {"main", "worker-1", "worker-2"}
        assert cpu["on_cpu_ms"]["worker-1"] > 10 and cpu["workers_busy_cores"] > 0.05  # spinning (less on a busy machine)
        assert cpu["others_busy_cores"] is not None and cpu["others_busy_cores"] >= 0
        events = c.get(f"/api/runs/{run['id']}/events?limit=100000").json()
        oncpu = [e for e in events if e["kind"] == "oncpu"]
        assert oncpu and all(e["end_ns"] > e["start_ns"] for e in oncpu)
        assert {e["worker"] for e in oncpu} >= {"worker-1", "worker-2"}
        page = c.get(body["url"]).text
        assert "CPU budget" in page and "core" in page and 'class="c-oncpu' in page


def test_with_sampling_off_the_page_says_on_cpu_lanes_are_unavailable_and_why():
    with TestClient(create_app(make_settings(oncpu=False), modules=TEST_MODULES)) as c:
        run = c.post("/api/runs", json={"experiment": "race-counter",
                                        "params": {"workers": 2, "iterations": 5_000, "window": "none"}}).json()
        body = until(lambda: (b := c.get(f"/api/runs/{run['id']}").json())["status"] == "done" and b, timeout=30,
                     what="the run finished")
        assert body["cpu"] is None
        page = c.get(body["url"]).text
        assert "on-CPU lanes unavailable: turned off (LAB_ONCPU)" in page
        bytecode = page.split('id="bytecode"')[1].split("</section>")[0]
        assert "chunks" not in bytecode and "range)" in bytecode  # the tutorial's `for _ in range(...)`


def test_with_sampling_off_processes_the_experiment_forks_keep_their_pipes(monkeypatch):
    """The sampler's control pipe, closed at once, must not be closed again in forked children
    (its number is reused by the experiment's own pipes by then)."""
    monkeypatch.setenv("LAB_ONCPU", "0")
    out = run_experiment("experiments.mp_queue", {"items": 3, "interval_ms": 10, "start_method": "fork"})
    assert out.returncode == 0, out.stderr
    assert "Bad file descriptor" not in out.stderr
    consumed = [e.name for e in out.events if e.kind == "instant" and e.name.startswith("Consumed")]
    assert consumed == ["Consumed: Item-0", "Consumed: Item-1", "Consumed: Item-2"]
