"""Dispatch through Redis (issue 15): runner nodes and web replicas against the embedded lab.

    .venv/bin/python -m benchmarks dispatch [--quick]
    .venv/bin/python -m benchmarks.dispatch [--quick] [--parts drain,first,flood,sizing] [--no-web] [--repeat N]

Each part starts a fresh `redis-server` (Debian's, on a free loopback port, append-only, its files in a
temporary directory) and real `python -m app worker` processes, and queues runs the way a web replica does
(`app/storage/redis_queue.py` `submit`, the formats of `app/storage/redis_formats.py`):

- **drain**: 40 runs of a sleep (tests/fixtures/experiment_quick.py, 500 ms) submitted at once, drained by 1, 2 and 4
  nodes: the seconds from the first submit to the last run's end, and the ratio to 1 node. Sleep-bound, so it
  scales past the cores: the ideal is 1/N.
- **first**: the time from submitting a run to its first event. Embedded: `POST /api/runs` to the first
  websocket message holding a lane (benchmarks/serve.py's server). Redis: `submit` to the first `events`
  entry on the run's stream with one idle node (the node's side alone); and, on a web replica (the same
  server with `LAB_REDIS_URL`) plus one node, `POST /api/runs` to the first events entry and to the first
  lane on the websocket. A server that runs the run itself although given `LAB_REDIS_URL` (no web replica
  mode in this commit) is said so and its rows left out.
- **flood**: one node runs benchmarks/flood_experiment.py: the events per second that land in the run's
  stream (from the stream's own entry ids: Redis's clock), with Redis's AOF fsynced every second and on every
  write (what docker-compose.yml chooses), and the stream's bytes per event. Unless `--no-web`, once web
  replicas exist: the same flood started through a web replica while a viewer follows it on the websocket,
  with the replica's event-loop lag (benchmarks/serve.py's 1 ms probe).
- **sizing**: each catalogue experiment with its default params, run alone on one node, one run at a time:
  seconds from `submit` to the run's end (dispatch included), runs per minute, and the bytes its keys (state,
  stream, snapshot) take in Redis (`MEMORY USAGE`). docs/sizing.md is made of this table.

Medians over `--repeat` rounds, the node counts of a round in rotation.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import ConnectionError as RedisConnectionError
from websockets.sync.client import connect

from app.model.status import FINISHED
from app.storage import redis_formats as formats
from app.storage import redis_replies as replies
from app.storage.redis_formats import Job
from app.storage.redis_queue import submit
from benchmarks.serve import BENCH_MODULES, ROOT, Server, free_port, header, serving

SLEEP_MODULE = "tests.fixtures.experiment_quick"  # `test-quick`: sleeps `ms` and returns
NODE_START_S = 30
ALL_PARTS = ("drain", "first", "flood", "sizing")


# -- Redis and nodes -------------------------------------------------------------------------------


@contextmanager
def redis_server(appendfsync: str = "everysec") -> Iterator[str]:
    """A fresh redis-server on a free loopback port, append-only, in a temporary directory: its URL."""
    if not shutil.which("redis-server"):
        raise SystemExit("benchmarks.dispatch needs redis-server: apt-get install redis-server (see .ci/run)")
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                tmp,
                "--appendonly",
                "yes",
                "--appendfsync",
                appendfsync,
                "--save",
                "",
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"redis://127.0.0.1:{port}/0"
        try:
            with Redis.from_url(url) as client:
                deadline = time.monotonic() + 10
                while True:
                    try:
                        client.ping()
                        break
                    except RedisConnectionError:
                        if proc.poll() is not None or time.monotonic() > deadline:
                            raise RuntimeError(f"redis-server did not answer on port {port}") from None
                        time.sleep(0.02)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=10)


@contextmanager
def nodes(url: str, count: int, modules: tuple[str, ...] = ()) -> Iterator[list[subprocess.Popen]]:
    """`count` runner nodes (`python -m app worker`) on `url`, each ready to take a run; stopped (SIGTERM) after."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "LAB_PYTHONS": json.dumps([sys.executable]),
            "LAB_RUN_TIMEOUT_S": "600",
        }
        module_args = [arg for module in modules for arg in ("--module", module)]
        started: list[tuple[subprocess.Popen, Path]] = []
        try:
            for i in range(count):
                log = Path(tmp) / f"node-{i + 1}.log"
                with log.open("wb") as out:
                    proc = subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "app",
                            "worker",
                            "--redis",
                            url,
                            "--name",
                            f"bench-{i + 1}",
                            *module_args,
                        ],
                        cwd=ROOT,
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                started.append((proc, log))
            deadline = time.monotonic() + NODE_START_S
            for proc, log in started:
                while "taking runs" not in log.read_text(errors="replace"):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"a node did not start:\n{log.read_text(errors='replace')[-2000:]}")
                    time.sleep(0.05)
            time.sleep(0.5)  # each node's runner for its first run is started ahead, as between runs
            yield [proc for proc, _ in started]
        finally:
            for proc, _ in started:
                if proc.poll() is None:
                    proc.terminate()
            for proc, _ in started:
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def new_job(experiment: str, params: dict[str, Any], measures_time: bool = False) -> Job:
    return Job(
        f"bench-{uuid.uuid4().hex[:12]}", experiment, params, measures_time, owner="bench", created_at=time.time()
    )


def submit_all(url: str, jobs: list[Job]) -> float:
    """Queue every job at once, as many web replicas would: the wall time (time.time()) before the first."""

    async def go() -> float:
        async with AsyncRedis.from_url(url) as redis:
            started = time.time()
            for job in jobs:  # in order: the queue is FIFO
                await submit(redis, job)
            return started

    return asyncio.run(go())


def state(client: Redis, run_id: str) -> dict[str, Any] | None:
    raw = client.get(formats.state_key(run_id))
    return json.loads(raw) if raw else None


def wait_ended(client: Redis, run_ids: list[str], timeout: float = 900) -> list[dict[str, Any]]:
    """The state documents of `run_ids` once every one has ended (polled every 20 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        raws = client.mget([formats.state_key(r) for r in run_ids])
        docs = [json.loads(raw) if raw else {} for raw in raws]
        if all(doc.get("status") in FINISHED for doc in docs):
            return docs
        time.sleep(0.02)
    raise TimeoutError(f"runs still not ended after {timeout} s")


def entry_ms(entry_id: bytes | str) -> int:
    """The Redis clock (unix ms) at which a stream entry was added: the first half of its id."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-")[0])


def first_events_entry(client: Redis, run_id: str, timeout: float = 60) -> int:
    """Redis's unix ms of the run's first `events` entry, waiting for it (XREAD BLOCK)."""
    key, last = formats.events_key(run_id), "0"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = client.xread({key: last}, block=1000)
        for entry_id, fields in replies.read_entries_of(reply):
            if fields.get(b"kind") == b"events":
                return entry_ms(entry_id)
            last = entry_id.decode()
    raise TimeoutError(f"no events entry for run {run_id} in {timeout} s")


def cpu_s(procs: list[subprocess.Popen]) -> float:
    """CPU seconds the nodes spent so far, with their runners (children they have waited for), from /proc."""
    total = 0
    for proc in procs:
        with open(f"/proc/{proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime (fields 14-17)
    return total / os.sysconf("SC_CLK_TCK")


def ok(docs: list[dict[str, Any]]) -> None:
    bad = [f"{d.get('id')}: {d.get('status')} {d.get('error') or ''}" for d in docs if d.get("status") != "done"]
    if bad:
        raise RuntimeError("runs that did not end done: " + "; ".join(bad[:5]))


@contextmanager
def environ(**values: str) -> Iterator[None]:
    """os.environ with `values` set for the duration (benchmarks/serve.py's server inherits it)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


# -- (a) drain -------------------------------------------------------------------------------------


def drain(counts: tuple[int, ...], runs: int, sleep_ms: int, repeat: int) -> None:
    print(
        header(
            f"{runs} runs of a {sleep_ms} ms sleep ({SLEEP_MODULE}) queued at once; "
            f"median of {repeat}, node counts in rotation"
        )
    )
    times: dict[int, list[float]] = {n: [] for n in counts}
    cpu: dict[int, list[float]] = {n: [] for n in counts}
    for _ in range(repeat):
        for n in counts:
            with redis_server() as url, nodes(url, n, (SLEEP_MODULE,)) as procs, Redis.from_url(url) as client:
                jobs = [new_job("test-quick", {"ms": sleep_ms}) for _ in range(runs)]
                cpu_before = cpu_s(procs)
                started = submit_all(url, jobs)
                docs = wait_ended(client, [j.run for j in jobs])
                ok(docs)
                times[n].append(max(d["ended_at"] for d in docs) - started)
                cpu[n].append(cpu_s(procs) - cpu_before)
    one = median(times[counts[0]])
    ideal = runs * sleep_ms / 1000
    print(
        f"{'nodes':>5} {'drain s':>8} {'ratio to 1':>10} {'ideal 1/N':>9} {'s per run per node':>18} "
        f"{'node CPU s per run':>18}"
    )
    for n in counts:
        m = median(times[n])
        print(f"{n:5d} {m:8.2f} {m / one:10.2f} {1 / n:9.2f} {m * n / runs:18.3f} {median(cpu[n]) / runs:18.3f}")
    print(
        f"(the sleeps alone: {ideal:.1f} s on one node; per run beyond its sleep: dispatch, a fresh runner "
        "interpreter, journal. Node CPU: the nodes and their runners, /proc; it is what 2 cores cannot multiply)"
    )


# -- (b) first event -------------------------------------------------------------------------------

FIRST_PARAMS = {"count": 5, "every_ms": 7, "busy": 0, "delay_ms": 0}  # stamps: a lane at once, then a few marks


def first_lane(server: Server) -> tuple[str, float, float]:
    """POST a stamps run; (its id, wall time before the POST, seconds to the first websocket message with a lane)."""
    posted_wall, posted = time.time(), time.monotonic()
    run_id = server.start_run("stamps", FIRST_PARAMS)
    lane_s = float("nan")
    with connect(f"ws://127.0.0.1:{server.port}/ws/runs/{run_id}", max_size=None) as socket:
        for message in socket:
            if 'class="lane"' in message:
                lane_s = time.monotonic() - posted
                break
    server.wait_done(run_id)
    return run_id, posted_wall, lane_s


def first(repeat: int, web: bool) -> None:
    print(header(f"submit/POST to the first event of a stamps run ({FIRST_PARAMS['count']} marks); median of {repeat}"))
    rows: dict[str, list[float]] = {}
    with serving() as server:  # embedded: this server runs the run itself
        first_lane(server)  # the first run also warms the server up
        for _ in range(repeat):
            rows.setdefault("embedded: POST -> first lane on the websocket", []).append(first_lane(server)[2] * 1000)
    with redis_server() as url, nodes(url, 1, BENCH_MODULES), Redis.from_url(url) as client:
        for _ in range(repeat + 1):
            job = new_job("stamps", FIRST_PARAMS)
            submitted = submit_all(url, [job])
            got = first_events_entry(client, job.run) - submitted * 1000
            wait_ended(client, [job.run])
            rows.setdefault("redis, node only: submit -> first events entry", []).append(got)
        rows["redis, node only: submit -> first events entry"].pop(0)  # the node's first run warms it up
        if web:
            with environ(LAB_REDIS_URL=url), serving() as server:
                run_id, _, _ = first_lane(server)
                if client.exists(formats.state_key(run_id)):
                    for _ in range(repeat):
                        run_id, posted_wall, lane_s = first_lane(server)
                        rows.setdefault("web replica + node: POST -> first events entry", []).append(
                            first_events_entry(client, run_id) - posted_wall * 1000
                        )
                        rows.setdefault("web replica + node: POST -> first lane on the websocket", []).append(
                            lane_s * 1000
                        )
                else:
                    print(
                        "(the server given LAB_REDIS_URL ran the run itself: no web replica mode in this commit; "
                        "its rows are left out)"
                    )
    print(f"{'path':58} {'median ms':>9} {'min ms':>8} {'max ms':>8} {'to embedded':>11}")
    embedded = median(rows["embedded: POST -> first lane on the websocket"])
    for label, values in rows.items():
        print(
            f"{label:58} {median(values):9.1f} {min(values):8.1f} {max(values):8.1f} {median(values) / embedded:11.2f}"
        )


# -- (c) flood -------------------------------------------------------------------------------------


@dataclass
class Landed:
    events: int  # events in the stream
    rate_events: int  # events that landed between the two times below
    seconds: float  # from the end of the run's second events entry to its last, on Redis's clock
    stream_bytes: int

    @property
    def per_s(self) -> float:
        return self.rate_events / self.seconds if self.seconds > 0 else float("nan")


def landed(client: Redis, run_id: str) -> Landed:
    """How many events landed in the run's stream, and how fast (from the stream's own entry ids). The rate
    counts from the second events entry: the first holds the header, sent while the flood is still being
    encoded, which is the experiment's own time, not the path's."""
    rows = [
        (entry_ms(entry_id), int(fields[b"last"]))
        for entry_id, fields in replies.entries_of(client.xrange(formats.events_key(run_id)))
        if fields.get(b"kind") == b"events"
    ]
    size = int(client.memory_usage(formats.events_key(run_id), samples=0) or 0)
    if len(rows) < 3:
        return Landed(rows[-1][1] if rows else 0, 0, 0.0, size)
    (start_ms, start_events), (end_ms, end_events) = rows[1], rows[-1]
    return Landed(end_events, end_events - start_events, (end_ms - start_ms) / 1000, size)


def flood_params(events: int) -> dict[str, Any]:
    return {"events": events, "lanes": 4, "gap_ns": 1000, "mix": "spans"}


def flood(events: int, repeat: int, web: bool) -> None:
    print(header(f"a flood of {events} events on one node; median of {repeat}, the fsync settings in rotation"))
    results: dict[str, list[Landed]] = {}
    for _ in range(repeat):
        for fsync in ("everysec", "always"):
            with redis_server(fsync) as url, nodes(url, 1, BENCH_MODULES), Redis.from_url(url) as client:
                job = new_job("flood", flood_params(events))
                submit_all(url, [job])
                ok(wait_ended(client, [job.run]))
                results.setdefault(f"node, appendfsync {fsync}", []).append(landed(client, job.run))
    lag: list[tuple[float, float, float]] = []
    if web:
        with (
            redis_server("always") as url,
            nodes(url, 1, BENCH_MODULES),
            Redis.from_url(url) as client,
            environ(LAB_REDIS_URL=url),
            serving() as server,
        ):
            probe = server.start_run("stamps", {"count": 1, "every_ms": 0, "busy": 0, "delay_ms": 0})
            server.wait_done(probe)
            if client.exists(formats.state_key(probe)):
                for _ in range(repeat):
                    server.request("POST", "/bench/reset")
                    run_id = server.start_run("flood", flood_params(events))
                    viewer = threading.Thread(target=follow, args=(server.port, run_id), daemon=True)
                    viewer.start()
                    ok(wait_ended(client, [run_id]))
                    viewer.join(timeout=60)
                    stats = server.request("GET", "/bench/stats")
                    lag.append((stats["p50_ms"], stats["p99_ms"], stats["max_ms"]))
                    results.setdefault("web replica + node + 1 viewer, appendfsync always", []).append(
                        landed(client, run_id)
                    )
            else:
                print(
                    "(the server given LAB_REDIS_URL ran the run itself: no web replica mode in this commit; "
                    "its rows are left out)"
                )
    print(f"{'path':54} {'events':>8} {'events/s':>9} {'ratio':>6} {'stream B/event':>14}")
    base = median([r.per_s for r in results["node, appendfsync everysec"]])
    for label, rows in results.items():
        rate = median([r.per_s for r in rows])
        print(
            f"{label:54} {median([r.events for r in rows]):8.0f} {rate:9.0f} {rate / base:6.2f} "
            f"{median([r.stream_bytes / max(1, r.events) for r in rows]):14.2f}"
        )
    if lag:
        print(
            f"web replica's loop lag while a viewer follows the flood: p50 {median([x[0] for x in lag]):.1f} ms, "
            f"p99 {median([x[1] for x in lag]):.1f} ms, max {median([x[2] for x in lag]):.1f} ms (medians)"
        )


def follow(port: int, run_id: str) -> None:
    """A viewer of the run's page: read its websocket until the server closes it."""
    try:
        with connect(f"ws://127.0.0.1:{port}/ws/runs/{run_id}", max_size=None) as socket:
            for _ in socket:
                pass
    except Exception as exc:  # a viewer that fails is reported, not fatal: the lag is still measured
        print(f"(the viewer's websocket failed: {exc!r})")


# -- (d) sizing ------------------------------------------------------------------------------------


def run_bytes(client: Redis, run_id: str) -> int:
    """What one run takes in Redis: every key of it (state, stream, snapshot, ...), by MEMORY USAGE."""
    keys = [formats.state_key(run_id), *client.scan_iter(match=f"{formats.state_key(run_id)}:*", count=1000)]
    return sum(int(client.memory_usage(key, samples=0) or 0) for key in keys)


def sizing(repeat: int, only: tuple[str, ...]) -> None:
    from app.model.experiments import catalogue
    from experiments import MODULES

    experiments = [e for e in catalogue(MODULES).values() if not only or e.id in only]
    print(
        header(
            f"each experiment's default params alone on one node, one run at a time, appendfsync always; "
            f"median of {repeat}"
        )
    )
    print(
        f"{'experiment':28} {'times':>5} {'s per run':>9} {'runs/min':>8} {'events':>8} {'Redis KB per run':>16} ended"
    )
    with redis_server("always") as url, nodes(url, 1), Redis.from_url(url) as client:
        for experiment in experiments:
            seconds, events, size, statuses = [], [], [], []
            for _ in range(repeat):
                job = new_job(experiment.id, {}, experiment.measures_time)
                started = submit_all(url, [job])
                (doc,) = wait_ended(client, [job.run])
                statuses.append(doc["status"])  # a run that did not end done is timed all the same, and shown
                seconds.append(doc["ended_at"] - started)
                events.append(doc.get("events") or 0)
                size.append(run_bytes(client, job.run))
            m = median(seconds)
            print(
                f"{experiment.id:28} {'yes' if experiment.measures_time else 'no':>5} {m:9.2f} {60 / m:8.1f} "
                f"{median(events):8.0f} {median(size) / 1000:16.1f} {','.join(statuses)}",
                flush=True,
            )
        info = client.info("memory")
        print(f"Redis used_memory after these runs: {info['used_memory'] / 1e6:.1f} MB ({client.dbsize()} keys)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default=",".join(ALL_PARTS), help=f"comma-separated, of {', '.join(ALL_PARTS)}")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--runs", type=int, default=40, help="runs drained at once")
    parser.add_argument("--sleep-ms", type=int, default=500, help="the sleep of each drained run")
    parser.add_argument("--events", type=int, default=500_000, help="events of the flood")
    parser.add_argument("--experiments", default="", help="sizing: only these experiment ids (comma-separated)")
    parser.add_argument(
        "--no-web",
        dest="web",
        action="store_false",
        help="leave out the web replica's rows (first, flood): nodes and the embedded server only",
    )
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    parts = tuple(p for p in args.parts.split(",") if p)
    unknown = set(parts) - set(ALL_PARTS)
    if unknown:
        raise SystemExit(f"unknown parts {', '.join(sorted(unknown))} (known: {', '.join(ALL_PARTS)})")
    only = tuple(e for e in args.experiments.split(",") if e)
    if args.quick:
        args.repeat, args.runs, args.sleep_ms, args.events = 1, 4, 50, 5_000
        only = only or ("thread-start-join",)
    counts = (1, 2) if args.quick else (1, 2, 4)
    for part in parts:
        print(f"\n### {part}\n", flush=True)
        if part == "drain":
            drain(counts, args.runs, args.sleep_ms, args.repeat)
        elif part == "first":
            first(args.repeat, args.web)
        elif part == "flood":
            flood(args.events, args.repeat, args.web)
        elif part == "sizing":
            sizing(args.repeat, only)


if __name__ == "__main__":
    main()
