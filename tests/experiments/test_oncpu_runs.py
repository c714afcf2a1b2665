"""On-CPU lanes: what the kernel says each worker did, measured from outside the experiment.

Through the real runner (and its sampler process): threads under one GIL take turns, processes
overlap, a sleeping thread is not on a CPU, and a worker killed mid-task ends its lane, named.
(The sampler's arithmetic and the timeline's fold, pure: tests/model/test_oncpu.py.)
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from fastapi.testclient import TestClient

from app.model.cpu import budget
from app.model.events import StreamParser
from app.model.timeline import Timeline
from app.web.server import create_app
from experiments import MODULES
from experiments.harness import sampler
from tests.helpers import ROOT, alive_in_group, make_settings, overlap, page_says, total, until
from tests.runner_helpers import Outcome, run_experiment, run_with_the_sampler_held

MS = 1_000_000
TEST_MODULES = MODULES + ("tests.fixtures.oncpu_experiment", "tests.fixtures.pool_victim_experiment")


def on_cpu(out: Outcome) -> tuple[Timeline, dict[str, list[tuple[int, int]]]]:
    timeline = out.timeline()
    timeline.close()
    intervals: dict[str, list[tuple[int, int]]] = {}
    for span in timeline.cpu_spans:
        intervals.setdefault(timeline.lanes[span.lane].worker, []).append((span.start_ns, span.end_ns))
    return timeline, {worker: sorted(spans) for worker, spans in intervals.items()}


def probe(workers: str, task: str, ms: int = 400) -> Outcome:
    out = run_experiment("tests.fixtures.oncpu_experiment", {"workers": workers, "task": task, "ms": ms})
    assert out.returncode == 0, out.stderr
    assert out.leftovers == []
    return out


# A process that forks its sampler as the runner does, keeps it from a CPU (SIGSTOP) past `start`'s timeout, lets it
# go, computes a while, then stops it: what `start` said, and what the sampler wrote.
LATE_SAMPLER = """
import json, os, signal, sys, threading, time
from experiments.harness import sampler
read_end, write_end = os.pipe()
pid, control, source = sampler.fork(out_fd=write_end)
os.close(write_end)
deadline = time.monotonic() + 10
while "pipe" not in open(f"/proc/{pid}/wchan").read():  # rehearsed, waiting for GO
    assert time.monotonic() < deadline, "the sampler waiting for GO"
    time.sleep(0.01)
os.kill(pid, signal.SIGSTOP)
late = sampler.start(control, 0.2)
os.kill(pid, signal.SIGCONT)
def spin():
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        pass
worker = threading.Thread(target=spin)
worker.start()
worker.join()
sampler.stop(pid, control)
written = b""
while chunk := os.read(read_end, 1 << 16):
    written += chunk
print(json.dumps({"late": late, "source": source["source"], "written": written.decode()}))
"""


def test_a_sampler_that_follows_after_the_runner_stopped_waiting_still_draws_the_run():
    """`start` gives up waiting after its timeout and the run goes on; the sampler, once it gets a CPU, follows it
    and draws what it can (it died on its word to a runner no longer listening, and the run had no strips)."""
    proc = subprocess.run(
        [sys.executable, "-c", LATE_SAMPLER],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    said = json.loads(proc.stdout)
    assert said["late"] == "did not follow the run within 0.2 s of its start (a machine too busy to give it a CPU)"
    parser = StreamParser(batches_only=True)
    kinds = [event.kind for event in parser.feed(said["written"].encode()) + parser.close()]
    assert "oncpu" in kinds and "machine" in kinds and "torn" not in kinds, (said["source"], kinds)


def test_a_sampler_that_died_before_it_followed_the_run_is_said_and_the_run_goes_on_without_strips():
    out = run_with_the_sampler_held("tests.fixtures.oncpu_experiment", {"ms": 50}, held_s=0, killed=True)
    assert out.returncode == 0, out.stderr
    assert out.leftovers == []
    header = next(event for event in out.events if event.kind == "header")
    assert header.value["oncpu"] == {"unavailable": "the on-CPU sampler ended before it followed the run"}
    assert not [event for event in out.events if event.kind == "oncpu"]


# -- through the runner ----------------------------------------------------------------------


def test_two_cpu_bound_threads_take_turns_on_the_gil():
    _, lanes = on_cpu(probe("threads", "spin"))
    a, b = lanes["worker-1"], lanes["worker-2"]
    assert total(a) > 50 * MS and total(b) > 50 * MS
    assert overlap(a, b) < 0.2 * min(total(a), total(b))
    assert len(a) >= 5 and len(b) >= 5  # turns, not one long stretch each


@pytest.mark.alone  # judged with the machine to itself: `make test` runs these after the rest
def test_two_cpu_bound_processes_overlap_when_two_cores_are_free():
    out = probe("processes", "spin")
    timeline, lanes = on_cpu(out)
    a, b = lanes["worker-1"], lanes["worker-2"]
    cpu = budget(timeline)
    assert cpu is not None and cpu.others_busy_cores is not None
    if (os.cpu_count() or 1) < 2 or cpu.others_busy_cores > 0.5:  # cpu_count: None if it cannot tell
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


def watches(sampler_pid: int, pid: int) -> bool:
    """Whether the run's sampler holds a thread of process `pid` open: it found `pid`, and sees it end from
    then on (a kill sooner goes unseen)."""
    try:
        fds = os.listdir(f"/proc/{sampler_pid}/fd")
    except OSError:  # gone
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{sampler_pid}/fd/{fd}").startswith(f"/proc/{pid}/task/"):
                return True
        except OSError:  # closed meanwhile
            continue
    return False


def start_and_kill_the_long_task(c: TestClient, pool: str, more: int = 0) -> tuple[dict, int, str, float]:
    params = {"pool": pool, "ms": 20_000, "more": more, "more_ms": 1_000}
    run = c.post("/api/runs", json={"experiment": "pool-victim", "params": params}).json()

    def long_task():
        events = c.get(f"/api/runs/{run['id']}/events").json()
        begun = [e for e in events if e["kind"] == "begin" and e["name"].startswith("task sleeps 20")]
        lanes = {e["worker"]: e["value"]["pid"] for e in events if e["kind"] == "lane"}
        if not begun:
            return None
        header = next(e["value"] for e in events if e["kind"] == "header")  # sent before any span
        return begun[0]["worker"], lanes[begun[0]["worker"]], header["oncpu"]["sampler_pid"]

    worker, pid, sampler_pid = until(long_task, timeout=20, what="the long task started")
    until(lambda: watches(sampler_pid, pid), timeout=5, what=f"the sampler watching {worker}", every=0.01)
    killed_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    return run, pid, worker, killed_at


@pytest.mark.parametrize("source", ["auto", "proc"])  # the switch records where allowed; the /proc sampler
@pytest.mark.parametrize("pool, status", [("Pool", "hung"), ("ProcessPoolExecutor", "failed")])
def test_a_pool_worker_killed_mid_task_ends_the_run_soon_naming_it(pool, status, source):
    hang_after_s = 1.0
    settings = make_settings(hang_after_s=hang_after_s, run_timeout_s=60, oncpu_source=source)
    with TestClient(create_app(settings, modules=TEST_MODULES)) as c:
        run, pid, worker, killed_at = start_and_kill_the_long_task(c, pool)
        body = until(
            lambda: (b := c.get(f"/api/runs/{run['id']}").json())["status"] not in ("queued", "running") and b,
            timeout=30,
            what="the run ended",
        )
        took = time.monotonic() - killed_at
        assert body["status"] == status, body
        assert took < hang_after_s + 2, f"ended {took:.1f} s after the kill"
        assert f"{worker} (pid {pid}) was killed by SIGKILL" in body["error"]
        events = c.get(f"/api/runs/{run['id']}/events").json()
        assert any(
            e["kind"] == "exit" and e["value"]["pid"] == pid and e["value"]["signal"] == signal.SIGKILL for e in events
        )
        runner = next(e["value"]["pid"] for e in events if e["kind"] == "header")
        assert alive_in_group(runner) == []
        page = c.get(body["url"]).text
        assert "killed by SIGKILL" in page


def test_the_api_has_the_runs_cpu_budget_and_oncpu_events_on_their_lanes():
    with TestClient(create_app(make_settings(), modules=TEST_MODULES)) as c:
        run = c.post(
            "/api/runs",
            json={"experiment": "oncpu-probe", "params": {"workers": "processes", "task": "spin", "ms": 200}},
        ).json()
        body = until(
            lambda: (b := c.get(f"/api/runs/{run['id']}").json())["status"] == "done" and b,
            timeout=30,
            what="the run finished",
        )
        cpu = body["cpu"]
        assert cpu["cores"] == os.cpu_count()
        assert set(cpu["on_cpu_ms"]) >= {"main", "worker-1", "worker-2"}
        assert (
            cpu["on_cpu_ms"]["worker-1"] > 10 and cpu["workers_busy_cores"] > 0.05
        )  # spinning (less on a busy machine)
        assert cpu["others_busy_cores"] is not None and cpu["others_busy_cores"] >= 0
        events = c.get(f"/api/runs/{run['id']}/events?limit=100000").json()
        oncpu = [e for e in events if e["kind"] == "oncpu"]
        assert oncpu and all(e["end_ns"] > e["start_ns"] for e in oncpu)
        assert {e["worker"] for e in oncpu} >= {"worker-1", "worker-2"}
        page = c.get(body["url"]).text
        assert "CPU budget" in page and "core" in page and 'class="c-oncpu' in page


def test_with_sampling_off_the_page_says_on_cpu_lanes_are_unavailable_and_why():
    with TestClient(create_app(make_settings(oncpu=False), modules=TEST_MODULES)) as c:
        run = c.post(
            "/api/runs",
            json={"experiment": "race-counter", "params": {"workers": 2, "iterations": 5_000, "window": "none"}},
        ).json()
        body = until(
            lambda: (b := c.get(f"/api/runs/{run['id']}").json())["status"] == "done" and b,
            timeout=30,
            what="the run finished",
        )
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


def test_a_run_of_a_few_milliseconds_gives_no_figure_beyond_the_machine_and_says_what_it_cannot_tell():
    """/proc/stat counts in ticks: over a run of a few ms a figure of what other programs used could be
    off by several cores. The page gives none beyond the machine, and says the window was too short."""
    with TestClient(create_app(make_settings(), modules=TEST_MODULES)) as c:
        run = c.post(
            "/api/runs",
            json={"experiment": "race-counter", "params": {"workers": 2, "iterations": 1_000, "window": "none"}},
        ).json()
        body = until(
            lambda: (b := c.get(f"/api/runs/{run['id']}").json())["status"] == "done" and b,
            timeout=30,
            what="the run finished",
        )
        page = c.get(body["url"]).text
    cpu = body["cpu"]
    assert cpu is not None, "the sampler sent fewer than two samples"
    assert 0 <= cpu["workers_busy_cores"] <= cpu["cores"]
    # the lab's own server (this test's process: the runner's parent) is measured, and told apart from others
    assert cpu["lab_busy_cores"] is not None and 0 <= cpu["lab_busy_cores"] <= cpu["cores"] - cpu["workers_busy_cores"]
    left = cpu["cores"] - cpu["workers_busy_cores"] - cpu["lab_busy_cores"]
    assert cpu["others_busy_cores"] is None or cpu["others_busy_cores"] <= left + 0.01
    # threads that never ran at once are not said to have lost updates that cancelled out
    said = page_says(page)
    if body["result"]["together_ms"] == 0 and body["result"]["actual"] == body["result"]["expected"]:
        assert "The threads never ran at the same time" in said and "cancelled out" not in said
    if cpu["resolution_cores"] >= 0.5:
        assert "the run was too short to tell" in page and not re.search(r"other programs used \d", page)
    else:
        assert f"other programs used {cpu['others_busy_cores']:.1f} (give or take" in page


def cpu_run_page(c: TestClient, params: dict) -> tuple[dict, str]:
    run = c.post("/api/runs", json={"experiment": "cpu-threads-vs-processes", "params": params}).json()
    body = until(
        lambda: (b := c.get(f"/api/runs/{run['id']}").json())["status"] == "done" and b,
        timeout=60,
        what="the run finished",
    )
    return body, page_says(c.get(body["url"]).text)


def test_a_slow_process_pool_is_blamed_on_what_its_own_phase_measured():
    """cpu-threads-vs-processes with small tasks on spawn: the page names start-up only when the pool's first
    task began late enough to account for the time, other programs only when its phase's budget shows them,
    and otherwise gives the figures and says the run cannot tell."""
    with TestClient(create_app(make_settings(), modules=TEST_MODULES)) as c:
        body, page = cpu_run_page(c, {"workers": 2, "first": 20, "tasks": 4, "start_method": "spawn"})
        one, one_page = cpu_run_page(c, {"workers": 1, "first": 20, "tasks": 2, "start_method": "spawn"})
    result = body["result"]
    (pool,) = [p for p in body["cpu"]["phases"] if p["name"] == "process pool"]
    assert pool["first_task_ms"] is not None and 0 < pool["first_task_ms"] < pool["end_ms"] - pool["start_ms"]
    if result["process_speedup"] < result["ideal_speedup"] * 0.75:
        beyond = result["process_ms"] - result["serial_ms"] / result["ideal_speedup"]
        startup = pool["first_task_ms"] >= beyond / 2
        load = pool["others_busy_cores"] >= max(0.3, pool["resolution_cores"]) and pool["resolution_cores"] < 0.5
        assert ("its first task began only" in page) == startup
        assert ("cores while it ran" in page) == load
        assert ("the run cannot tell what did" in page) == (not startup and not load)
    # workers=1: the pools' difference from serial is called overhead only with every phase's cores free
    phases = {p["name"]: p for p in one["cpu"]["phases"]}
    free = all(
        n in phases
        and phases[n]["others_busy_cores"] is not None
        and phases[n]["others_busy_cores"] < 0.3
        and phases[n]["resolution_cores"] < 0.5
        for n in ("serial", "thread pool", "process pool")
    )
    faster = max(one["result"]["thread_speedup"], one["result"]["process_speedup"]) > 1.05
    assert ("is their overhead" in one_page) == (free and not faster)


def test_a_pool_that_lost_a_task_ends_hung_soon_while_its_other_workers_still_work():
    """multiprocessing.Pool never runs a lost task again: 20 one-second tasks left for the other workers would
    keep the run going some 10 s more and then hang; it ends `hung` at once, naming the worker and the task."""
    hang_after_s = 1.0
    settings = make_settings(hang_after_s=hang_after_s, run_timeout_s=60)
    with TestClient(create_app(settings, modules=TEST_MODULES)) as c:
        run, pid, worker, killed_at = start_and_kill_the_long_task(c, "Pool", more=20)
        body = until(
            lambda: (b := c.get(f"/api/runs/{run['id']}").json())["status"] not in ("queued", "running") and b,
            timeout=30,
            what="the run ended",
        )
        took = time.monotonic() - killed_at
        assert body["status"] == "hung", body
        assert took < hang_after_s + 2, f"ended {took:.1f} s after the kill"
        assert f"{worker} (pid {pid}) was killed by SIGKILL during task sleeps 20" in body["error"]
        assert "never runs a lost task again" in body["error"]
        events = c.get(f"/api/runs/{run['id']}/events?limit=100000").json()
        finished = [e for e in events if e["kind"] == "end" and e["worker"] != worker]
        assert len(finished) < 21, "it ended before the other workers had done their tasks"
        runner = next(e["value"]["pid"] for e in events if e["kind"] == "header")
        assert alive_in_group(runner) == []
        page = c.get(body["url"]).text
        assert "never runs a lost task again" in page and "killed by SIGKILL" in page
