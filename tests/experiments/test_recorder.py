"""The recorder, in real threads and real child processes (fork and spawn), read back from a pipe."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from app.model.events import StreamParser
from experiments.harness import recorder
from experiments.harness.recorder import PIPE_BUF, Recorder
from tests.helpers import ROOT
from tests.lock_helpers import hold_while_another_waits, python_calls


def read_all(fd: int) -> list:
    chunks = []
    while data := os.read(fd, 65536):
        chunks.append(data)
    parser = StreamParser()
    return parser.feed(b"".join(chunks)) + parser.close()


def run_script(code: str) -> list:
    """Run `code` in a fresh interpreter with a Recorder on fd 1; return the parsed events."""
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr.decode()
    parser = StreamParser()
    events = parser.feed(proc.stdout) + parser.close()
    assert not [e for e in events if e.kind == "output"], "every line written was a valid event batch"
    return events


def test_spans_from_threads_land_on_their_own_lanes_in_order():
    events = run_script("""
import threading
from experiments.harness.recorder import attach
rec = attach(1)
def work():
    with rec.activity("step", "run"):
        pass
threads = [threading.Thread(target=work, name=f"w{i}") for i in range(8)]
for t in threads: t.start()
for t in threads: t.join()
rec.close()
""")
    lanes = [e.worker for e in events if e.kind == "lane"]
    assert sorted(lanes) == sorted([f"w{i}" for i in range(8)])
    for lane in lanes:
        mine = [e for e in events if e.worker == lane and e.kind in ("begin", "end")]
        assert [e.kind for e in mine] == ["begin", "end"]
        assert mine[0].ts_ns <= mine[1].ts_ns


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_child_processes_record_on_their_own_lanes_without_duplicates(method):
    events = run_script(f"""
import multiprocessing
from experiments.harness.recorder import attach
from tests.fixtures.recorder_children import child_work
rec = attach(1)
rec.instant("parent before", "mark")
ctx = multiprocessing.get_context("{method}")
procs = [ctx.Process(target=child_work, args=(rec, 300), name=f"child-{{i}}") for i in range(3)]
for p in procs: p.start()
for p in procs: p.join()
rec.instant("parent after", "mark")
rec.close()
""")
    names = [(e.worker, e.name) for e in events if e.kind == "instant"]
    assert len(names) == len(set(names)), "no event is written twice (fork copies the parent's queue)"
    for i in range(3):
        ticks = [n for w, n in names if w == f"child-{i}"]
        assert ticks == [f"tick {k}" for k in range(300)]  # all of them, in order, flushed at exit
    assert ("main", "parent before") in names and ("main", "parent after") in names
    pids = {e.worker: e.value["pid"] for e in events if e.kind == "lane"}
    assert len(set(pids.values())) == 4


def test_traced_tasks_in_a_spawned_process_pool_draw_spans_on_worker_lanes():
    events = run_script("""
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from experiments.harness.recorder import attach, traced
from tests.fixtures.recorder_children import square
rec = attach(1)
with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
    assert list(pool.map(traced(square, rec, "square({})", "cpu"), range(6))) == [0, 1, 4, 9, 16, 25]
rec.close()
""")
    spans = sorted(e.name for e in events if e.kind == "begin")
    assert spans == [f"square({i})" for i in range(6)]
    assert all(e.worker != "main" for e in events if e.kind == "begin")


def test_prints_become_instants_on_the_printing_lane():
    events = run_script("""
import threading
from experiments.harness.recorder import attach
rec = attach(1)
t = threading.Thread(target=lambda: print("hello", "world"), name="talker")
t.start(); t.join()
print("done"); rec.close()
""")
    assert [(e.worker, e.name, e.category) for e in events if e.kind == "instant"] == [
        ("talker", "hello world", "print"),
        ("main", "done", "print"),
    ]


def test_no_write_exceeds_pipe_buf_so_processes_never_interleave(tmp_path):
    # A file, not a pipe, so the writes never block on a full pipe while nobody reads.
    fd = os.open(tmp_path / "events", os.O_WRONLY | os.O_CREAT)
    rec = Recorder(fd=fd, flush_interval_s=60)
    for i in range(2000):
        rec.instant("x" * (i % 250), "mark")
    rec.close()
    os.close(fd)
    lines = (tmp_path / "events").read_bytes().split(b"\n")[:-1]
    assert max(len(line) + 1 for line in lines) <= PIPE_BUF
    assert sum(len(json.loads(line)) for line in lines) == 2000 + 2  # + the lane declaration, the flusher's tid


def test_recording_only_queues_the_event_encoding_waits_for_the_flush(tmp_path):
    fd = os.open(tmp_path / "events", os.O_WRONLY | os.O_CREAT)
    rec = Recorder(fd=fd, flush_interval_s=60)
    for i in range(1000):
        rec.instant(f"tick {i}", "mark")
    assert os.fstat(fd).st_size == 0, "nothing is encoded or written on the recording thread's hot path"
    rec.close()
    os.close(fd)
    events = StreamParser().feed((tmp_path / "events").read_bytes())
    assert [e.name for e in events if e.kind == "instant"] == [f"tick {i}" for i in range(1000)]


def test_a_thread_recording_faster_than_the_flusher_writes_its_events_itself(tmp_path):
    fd = os.open(tmp_path / "events", os.O_WRONLY | os.O_CREAT)
    rec = Recorder(fd=fd, flush_interval_s=60, high_water=100)
    for _ in range(1000):
        rec.instant("x", "mark")
        assert len(rec._queue) <= 101, "the queue is bounded: memory cannot grow without end"
    assert os.fstat(fd).st_size > 0
    rec.close()
    os.close(fd)


def test_each_write_is_whole_lines_of_at_most_pipe_buf(monkeypatch):
    writes: list[bytes] = []

    def write(fd: int, data: bytes) -> int:  # os.write, keeping each write apart
        writes.append(bytes(data))
        return len(data)

    monkeypatch.setattr(os, "write", write)
    rec = Recorder(fd=99, flush_interval_s=60)
    for i in range(3000):
        rec.instant("y" * (i % 200), "mark")
    rec.close()
    assert all(len(w) <= PIPE_BUF and w.endswith(b"\n") for w in writes)
    assert len(writes) < 3000 // 10, "many events per write"
    events = StreamParser().feed(b"".join(writes))
    assert len(events) == 3000 + 2  # + the lane declaration, the flusher's tid


def test_an_uncontended_recorded_lock_runs_no_python_code():
    # A Python frame while acquiring would let CPython switch threads with the lock held,
    # and so make a lock contended that is not contended in the tutorial's code.
    rec = Recorder(fd=os.open(os.devnull, os.O_WRONLY), flush_interval_s=60)
    lock = rec.Lock("l")

    def locked():
        with lock:
            pass

    assert python_calls(locked) == []
    assert not lock.locked()
    assert lock.acquire(False) and lock.locked() and not lock.acquire(False)
    lock.release()
    with pytest.raises(TypeError):
        iter(lock)


@pytest.mark.parametrize("gil", [True, False], ids=["gil", "no gil"])
def test_a_contended_recorded_lock_draws_the_wait_on_the_waiting_lane(gil, monkeypatch):
    # Without a GIL (a free-threaded build) the lock is a plain method that tries the lock: drawn the same.
    monkeypatch.setattr(recorder, "gil_enabled", lambda: gil)
    r, w = os.pipe()  # a few events: they fit in the pipe's buffer
    rec = Recorder(fd=w, flush_interval_s=60)
    hold_while_another_waits(rec.Lock("l"))
    rec.close()
    os.close(w)
    events = read_all(r)
    os.close(r)
    waits = [e for e in events if e.kind == "begin" and e.name == "Lock.acquire l"]
    assert [e.worker for e in waits] == ["waiter"]
    end = next(e for e in events if e.kind == "end" and e.worker == "waiter")
    assert end.ts_ns - waits[0].ts_ns >= 15_000_000


def test_each_task_gets_a_lane_and_its_waits_are_named_after_what_it_awaits():
    events = run_script("""
import asyncio, threading, time
from experiments.harness.recorder import attach
rec = attach(1)
async def sleeper():
    await asyncio.sleep(0.01)
async def getter(queue):
    await queue.get()
async def locker(lock):
    async with lock:
        print("got the lock")
async def threaded():
    await asyncio.get_running_loop().run_in_executor(None, time.sleep, 0.01)
async def main():
    queue, lock = asyncio.Queue(), asyncio.Lock()
    await lock.acquire()
    tasks = [asyncio.create_task(sleeper(), name="sleeper"), asyncio.create_task(getter(queue), name="getter"),
             asyncio.create_task(locker(lock), name="locker"), asyncio.create_task(threaded(), name="threaded")]
    await asyncio.sleep(0.02)
    queue.put_nowait(1)
    lock.release()
    await asyncio.gather(*tasks)
rec.asyncio_run(main())
rec.close()
""")
    waits: dict[str, list[str]] = {}
    for e in events:
        if e.kind == "begin" and e.category in ("wait", "sleep"):
            waits.setdefault(e.worker, []).append(e.name)
    assert waits["sleeper"] == ["await sleep(0.01)"]
    assert waits["getter"] == ["await Queue.get"]
    assert waits["locker"] == ["await Lock.acquire"]
    assert waits["threaded"] == ["await Future"]  # the future a thread of the loop's pool completes
    assert waits["main()"][-1] == "await gather"
    lanes = {e.worker: e.value for e in events if e.kind == "lane"}
    assert lanes["locker"]["loop"] == "main" and "tid" not in lanes["locker"] and "tid" in lanes["main"]
    # a task's print lands on its own lane, the loop's plain callbacks (a sleep's timer) on the loop's
    assert [e.worker for e in events if e.kind == "instant" and e.name == "got the lock"] == ["locker"]
    assert "_set_result_unless_cancelled" in {e.name for e in events if e.kind == "begin" and e.worker == "main"}
