"""A class follows a lesson: a teacher leads a 5-step lesson, students follow it live over /ws/lesson, answer
each question, and run the steps everyone runs; then the same through two web replicas on Redis, one of them
SIGKILLed mid-lesson.

    .venv/bin/python -m benchmarks.class_follows [--quick] [--students 30] [--replicas 1|2] [--nodes 2]
                                                  [--browsers 2]

The servers are `python -m app` processes (SQLite in a temporary directory; with `--replicas 2`, two web
replicas and `--nodes` runner nodes on a redis-server of their own, the cookie secret shared through Redis).
Each student is an asyncio task with its own cookie (the one its first GET /lesson got) and a websocket on
/ws/lesson that records when each step's fragment (`data-step="N"`) first arrives. It joins with a name,
answers each question when its page shows it open, and, as its page does (`hx-trigger="load"` on the
"run it yourself" form, sent once per page: when "everyone runs it" first reaches it), POSTs /lesson/run
each time a fragment arrives with that form. The
teacher (Bearer LAB_ADMIN_TOKEN) posts the present actions: go, ask, everyone (or run), reveal, and records
when each `go` was sent: a step's latency is its arrival at a student minus that.

With two replicas the students are split across them; after step 3's answers replica B is SIGKILLed: its
students' sockets drop and they reconnect through A with the same cookie, and answers.json must still hold
every answer given before the kill.

It prints: students, steps, the step changes' latency (p50/p95/max), answers kept vs sent, the class's runs
started and finished, the queue's order (runs asked one after the other must start in that order), the
reveal's values (answers.json) against the runs' own results (/api/runs/{id}), and the 5xx count.
tests/end_to_end/test_class_follows.py runs it small and asserts on the figures `follow()` returns.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2 as httpx
import websockets

from benchmarks.serve import ROOT, header, percentile

if TYPE_CHECKING:  # Playwright is imported only when the class has browsers (`browsers` below)
    from playwright.async_api import Page

TOKEN = "class-teacher-token"
TEACHER = {"authorization": f"Bearer {TOKEN}"}
LESSON_ID = "class-follows"
# Five steps: two that everyone runs (the race, and a timing one kept short), a choice and number question each.
LESSON = """
title = "A class follows"
summary = "The benchmark's lesson: a race, everyone's race, a lock, everyone's speedup, and a last look."

[[steps]]
title = "The race as written"
experiment = "race-counter"
params = { workers = 2, iterations = 2000, window = "none" }
measure = "actual"
[steps.question]
text = "What will the counter be?"
choices = ["0", "Not 0"]

[[steps]]
title = "Everyone's race"
experiment = "race-counter"
params = { workers = 2, iterations = 100000, window = "call" }
measure = "actual"
measure_label = "final counter"
everyone = true
[steps.question]
text = "What will your counter be?"
choices = ["0, every run", "Another number, the same every run", "A different number each run"]

[[steps]]
title = "With a lock"
experiment = "lock-counter"
params = { workers = 2, iterations = 2000 }
measure = "actual"
[steps.question]
text = "The counter at the end?"
unit = ""
tolerance = 0

[[steps]]
title = "Everyone's speedup"
experiment = "cpu-threads-vs-processes"
params = { workers = 2, first = 22, tasks = 2, start_method = "fork" }
measure = "thread_speedup"
measure_label = "thread pool's speedup"
everyone = true
[steps.question]
text = "How many times as fast as main?"
unit = "×"
tolerance = 0.2

[[steps]]
title = "A last look"
experiment = "lock-counter"
params = { workers = 2, iterations = 2000 }
"""
EVERYONE = {2: "actual", 4: "thread_speedup"}  # step -> the measure the reveal draws
STEPS = 5
KILL_AFTER_ANSWERS_OF = 3  # with two replicas, B dies once step 3's answers are in
FINISHED = ("done", "failed", "cancelled", "interrupted", "timeout")
WAIT_S = 300.0  # the most any phase of the lesson is waited for before the benchmark gives up


# --- the processes -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Processes:
    directory: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    redis_url: str | None = None

    def env(self, name: str) -> dict[str, str]:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "LAB_DATABASE": str(self.directory / f"{name}.db"),
            "LAB_HTMX_SOURCE": "local",
            "LAB_ADMIN_TOKEN": TOKEN,
            "LAB_LESSONS_DIR": str(self.directory / "lessons"),
            "LAB_PYTHONS": json.dumps([sys.executable]),
            "LAB_NODE_TTL_S": "2",
        }
        if self.redis_url:
            env["LAB_REDIS_URL"] = self.redis_url
        return env

    def redis(self) -> str:
        port = free_port()
        proc = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(self.directory)]
            + ["--appendonly", "yes", "--save", "", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.procs.append(proc)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    self.redis_url = f"redis://127.0.0.1:{port}/0"
                    return self.redis_url
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer PING")

    def web(self, name: str) -> tuple[str, subprocess.Popen[bytes]]:
        """A web server (a replica when on Redis): its URL once /healthz answers."""
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", "--port", "0"],
            cwd=ROOT,
            env=self.env(name),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        url = None
        while url is None:
            line = proc.stdout.readline().decode(errors="replace")
            if not line and proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"web server {name} did not start")
            if found := re.search(r"Uvicorn running on (http://127\.0\.0\.1:\d+)", line):
                url = found[1]
        # Its log is left unread from here: a thread drains it so the server never blocks on a full pipe.
        drain = subprocess.Popen(["cat"], stdin=proc.stdout, stdout=subprocess.DEVNULL)
        self.procs.append(drain)
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    return url, proc
            time.sleep(0.05)
        raise RuntimeError(f"web server {name} did not answer /healthz")

    def node(self, name: str) -> None:
        assert self.redis_url
        log = (self.directory / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", "worker", "--redis", self.redis_url, "--name", name],
            cwd=ROOT,
            env=self.env(name),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        deadline = time.monotonic() + 30
        while "taking runs" not in (self.directory / f"{name}.log").read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"node {name} did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# --- the class -----------------------------------------------------------------------------------------


@dataclass
class Figures:
    statuses: Counter[int] = field(default_factory=Counter)
    unreachable: int = 0  # requests that found their replica gone (then sent to another)
    gos: dict[int, float] = field(default_factory=dict)  # step -> when the teacher sent `go`


class Class:
    def __init__(self, urls: list[str], students: int) -> None:
        self.urls = urls
        self.alive = [True] * len(urls)
        self.figures = Figures()
        self.students = [Student(self, n, n % len(urls)) for n in range(students)]
        self.browsers: list[BrowserStudent] = []
        self.http = httpx.AsyncClient(timeout=60, follow_redirects=False)

    async def request(
        self, method: str, path: str, home: int, http: httpx.AsyncClient | None = None, **kwargs: Any
    ) -> tuple[httpx.Response, int]:
        """The response, and the replica that answered (`home` unless it was found gone); through `http` (a
        student's own client, its cookie jar a browser's), else the teacher's."""
        tried = 0
        while True:
            replica = home if self.alive[home] else self.alive.index(True)
            try:
                response = await (http or self.http).request(method, self.urls[replica] + path, **kwargs)
            except httpx.TransportError:
                self.figures.unreachable += 1
                tried += 1
                if tried > 50:
                    raise
                await asyncio.sleep(0.1)
                continue
            self.figures.statuses[response.status_code] += 1
            return response, replica

    async def teacher(self, action: str, **form: int) -> None:
        response, _ = await self.request(
            "POST", f"/lessons/{LESSON_ID}/present/{action}", 0, data=form, headers=TEACHER
        )
        if response.status_code != 303:
            raise RuntimeError(f"the teacher's {action} answered {response.status_code}: {response.text}")

    async def export(self) -> dict[str, Any]:
        response, _ = await self.request("GET", f"/lessons/{LESSON_ID}/present", 0, headers=TEACHER)
        session = re.search(r'href="/lessons/given/([0-9a-f]+)"', response.text)
        assert session, "the teacher's page links the session's record"
        response, _ = await self.request("GET", f"/lessons/given/{session[1]}/answers.json", 0, headers=TEACHER)
        document: dict[str, Any] = response.json()
        return document

    async def run_of(self, run_id: str, home: int) -> dict[str, Any]:
        response, _ = await self.request("GET", f"/api/runs/{run_id}", home)
        run: dict[str, Any] = response.json()
        return run


async def until(check: Callable[..., object], what: str, timeout: float = WAIT_S, every: float = 0.02) -> None:
    """Until `check()` is true (a lambda, its loop's step bound as a default: hence the `...`)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:.0f} s for {what}")
        await asyncio.sleep(every)


@dataclass
class Student:
    lab: Class
    n: int
    home: int  # the replica its page was served by (another once that one is gone)
    cookie: str = ""
    arrivals: dict[int, float] = field(default_factory=dict)  # step -> when its fragment first came
    answered: dict[int, str] = field(default_factory=dict)  # step -> the answer it sent (and was kept: 303)
    runs: dict[int, str] = field(default_factory=dict)  # step -> its run's id, as its page shows it
    run_posts: Counter[int] = field(default_factory=Counter)  # step -> POSTs /lesson/run its page sent
    # step -> its queued POST: sent, answered, and the replica that answered
    run_asked: dict[int, tuple[float, float, int]] = field(default_factory=dict)
    refused: Counter[int] = field(default_factory=Counter)  # status -> its answers and runs refused
    reconnects: int = 0
    socket_replicas: set[int] = field(default_factory=set)
    busy: set[asyncio.Task[None]] = field(default_factory=set)
    http: httpx.AsyncClient = field(init=False)

    @property
    def name(self) -> str:
        return f"s{self.n + 1:02d}"

    async def open_page(self) -> None:
        self.http = httpx.AsyncClient(timeout=60, follow_redirects=False)
        response, self.home = await self.lab.request("GET", "/lesson", self.home, self.http)
        self.cookie = response.headers["set-cookie"].split(";")[0]  # the jar sends it on; the socket needs it too

    async def post(self, path: str, form: dict[str, Any]) -> httpx.Response:
        response, self.home = await self.lab.request("POST", path, self.home, self.http, data=form)
        return response

    async def join(self) -> None:
        response = await self.post("/lesson/join", {"name": self.name})
        assert response.status_code == 303, response.text

    async def follow(self) -> None:
        """Its page's websocket, reconnected (through a live replica) whenever it drops."""
        while True:
            replica = self.home if self.lab.alive[self.home] else self.lab.alive.index(True)
            url = self.lab.urls[replica].replace("http://", "ws://") + "/ws/lesson"
            try:
                async with websockets.connect(url, additional_headers={"cookie": self.cookie}) as ws:
                    self.socket_replicas.add(replica)
                    self.home = replica
                    async for message in ws:
                        self.seen(str(message), time.monotonic())
            except (OSError, websockets.ConnectionClosed, websockets.InvalidHandshake):
                pass
            self.reconnects += 1
            await asyncio.sleep(0.2)  # as htmx's hx-ws waits before it tries again

    def seen(self, fragment: str, at: float) -> None:
        found = re.search(r'data-step="(\d+)"', fragment)
        if found is None:
            return
        step = int(found[1])
        self.arrivals.setdefault(step, at)
        if 'data-phase="asking"' in fragment and step not in self.answered:
            self.answered[step] = ""  # sending it
            self.spawn(self.answer(step))
        if 'class="run-mine" hx-post' in fragment:  # the form that posts as it loads (hx-trigger="load")
            self.spawn(self.ask_run(step))
        if own := re.search(r'Your run: <a href="/runs/([0-9a-f]+)"', fragment):
            self.runs.setdefault(step, own[1])

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self.busy.add(task)
        task.add_done_callback(self.busy.discard)

    async def answer(self, step: int) -> None:
        value = str(self.n % 2) if step == 1 else str(self.n % 3) if step == 2 else str(self.n % 5)
        if step == 4:
            value = f"{1 + self.n % 4 / 10:g}"
        response = await self.post("/lesson/answer", {"step": step, "answer": value})
        if response.status_code == 303:
            self.answered[step] = value
        else:
            self.refused[response.status_code] += 1
            del self.answered[step]

    async def ask_run(self, step: int) -> None:
        self.run_posts[step] += 1
        sent = time.monotonic()
        response = await self.post("/lesson/run", {"step": step})
        if response.status_code != 303:
            self.refused[response.status_code] += 1
        else:  # queued by the time it answers
            self.run_asked[step] = (sent, time.monotonic(), self.home)


@dataclass
class BrowserStudent:
    """A student in headless Chromium (Debian's, through Playwright): its page follows the lesson with htmx's
    websocket as a student's would; this reads the step off the page every 20 ms, answers by clicking or
    typing, and leaves "everyone runs it" to the page itself."""

    lab: Class
    n: int
    page: Page
    home: int = 0  # browsers stay on A: a page on B could only reach A through a proxy, which this has not
    arrivals: dict[int, float] = field(default_factory=dict)
    answered: dict[int, str] = field(default_factory=dict)
    runs: dict[int, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"b{self.n + 1}"

    async def open_page(self) -> None:
        await self.page.goto(self.lab.urls[0] + "/lesson")

    async def join(self) -> None:
        await self.page.fill('form.join-lesson input[name="name"]', self.name)
        await self.page.click("form.join-lesson button")
        await self.page.wait_for_selector("#lesson-step")

    async def follow(self) -> None:
        while True:
            try:
                html = await self.page.inner_html("#lesson-step", timeout=1000)
            except Exception:  # between two pages (a form posted): the next one shows it
                await asyncio.sleep(0.02)
                continue
            at = time.monotonic()
            found = re.search(r'data-step="(\d+)"', html)
            if found:
                step = int(found[1])
                self.arrivals.setdefault(step, at)
                if 'data-phase="asking"' in html and step not in self.answered:
                    with contextlib.suppress(Exception):
                        await self.answer(step, html)
                if own := re.search(r'Your run: <a href="/runs/([0-9a-f]+)"', html):
                    self.runs.setdefault(step, own[1])
            await asyncio.sleep(0.02)

    async def answer(self, step: int, html: str) -> None:
        if "inputmode" in html:
            value = "1.5"
            await self.page.fill("form.answer input[name=answer]", value)
            await self.page.click("form.answer button")
        else:
            value = "1"
            await self.page.click(f'form.answer button[value="{value}"]')
        await self.page.wait_for_selector(".mine", timeout=10_000)
        self.answered[step] = value


@contextlib.asynccontextmanager
async def browsers(lab: Class, how_many: int) -> AsyncIterator[list[BrowserStudent]]:
    """`how_many` students in Chromium pages of their own (each its own context: its own cookie), or none
    when there is no Chromium or Playwright here."""
    chromium = shutil.which("chromium")
    if not how_many or chromium is None:
        yield []
        return
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        yield []
        return
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium)
        try:
            pages = [await (await browser.new_context()).new_page() for _ in range(how_many)]
            yield [BrowserStudent(lab, n, page) for n, page in enumerate(pages)]
        finally:
            await browser.close()


async def lesson(lab: Class, kill: Callable[[], None] | None, kill_during_runs: bool = False) -> dict[str, Any]:
    """The teacher leads the lesson; the figures, and answers.json before and after B's kill (once step 3's
    answers are in, or, `kill_during_runs`, as step 4's runs are being started)."""
    students: list[Student | BrowserStudent] = [*lab.students, *lab.browsers]
    figures = lab.figures
    response, _ = await lab.request("POST", f"/lessons/{LESSON_ID}/start", 0, headers=TEACHER)
    assert response.status_code == 303, response.text
    for student in students:
        await student.open_page()
    await asyncio.gather(*(s.join() for s in students))
    followers = [asyncio.create_task(s.follow()) for s in students]
    await until(lambda: all(1 in s.arrivals for s in students), "every student's page showing step 1")
    for s in students:
        s.arrivals.clear()  # step 1 is timed from its `go`, as the others are
    before_kill: dict[str, Any] | None = None
    run_ids: dict[int, dict[str, str]] = {}
    try:
        for step in range(1, STEPS + 1):
            figures.gos[step] = time.monotonic()
            await lab.teacher("go", step=step)
            await until(lambda step=step: all(step in s.arrivals for s in students), f"every student at step {step}")
            if step == STEPS:
                break
            await lab.teacher("ask")
            await until(lambda step=step: all(s.answered.get(step) for s in students), f"every answer to step {step}")
            if step == KILL_AFTER_ANSWERS_OF and kill is not None and not kill_during_runs:
                before_kill = await lab.export()
                kill()
                await until(lambda: all(s.socket_replicas - {1} and s.home == 0 for s in lab.students), "reconnects")
            if step in EVERYONE:
                await lab.teacher("everyone")
                if step == KILL_AFTER_ANSWERS_OF + 1 and kill is not None and kill_during_runs:
                    before_kill = await lab.export()
                    await until(lambda: any(s.run_posts[4] for s in lab.students if s.home == 1), "B starting runs")
                    kill()
                await until(
                    lambda step=step: all(step in s.runs for s in students), f"every student's run of step {step}"
                )
                run_ids[step] = {s.name: s.runs[step] for s in students}
                for s in students:
                    while (await lab.run_of(s.runs[step], s.home))["status"] not in FINISHED:
                        await asyncio.sleep(0.1)
            else:
                await lab.teacher("run")
            await lab.teacher("reveal")
        after = await lab.export()
    finally:
        for task in followers:
            task.cancel()
        await asyncio.gather(*followers, return_exceptions=True)
    return {"before_kill": before_kill, "after": after, "run_ids": run_ids}


async def class_follows(
    students: int, replicas: int, nodes: int, browser_pages: int = 0, kill_during_runs: bool = False
) -> dict[str, Any]:
    """Run the lesson on fresh servers; its figures as a dict (tests/end_to_end/test_class_follows.py asserts on them)."""
    directory = Path(tempfile.mkdtemp(prefix="lab-class-"))
    (directory / "lessons").mkdir()
    (directory / "lessons" / f"{LESSON_ID}.toml").write_text(LESSON)
    processes = Processes(directory)
    try:
        if replicas > 1:
            processes.redis()
        # All at once: each start-up takes seconds on a busy machine (the replicas agree on the cookie secret
        # through Redis, whichever comes first).
        with ThreadPoolExecutor() as pool:
            starting = [pool.submit(processes.web, chr(ord("a") + i)) for i in range(replicas)]
            nodes_up = [pool.submit(processes.node, f"node-{i + 1}") for i in range(nodes if replicas > 1 else 0)]
            servers = [future.result() for future in starting]
            for future in nodes_up:
                future.result()
        lab = Class([url for url, _ in servers], students)

        def kill() -> None:
            servers[1][1].send_signal(signal.SIGKILL)
            servers[1][1].wait()
            lab.alive[1] = False

        async with browsers(lab, browser_pages) as pages:
            lab.browsers = pages
            started = time.monotonic()
            outcome = await lesson(lab, kill if replicas > 1 else None, kill_during_runs)
            seconds = time.monotonic() - started
        runs = {
            step: {name: await lab.run_of(run_id, 0) for name, run_id in ids.items()}
            for step, ids in outcome["run_ids"].items()
        }
        await lab.http.aclose()
        for student in lab.students:
            await student.http.aclose()
        held = await runs_held(processes)
        processes.stop()
        return summarize(lab, outcome, runs, seconds, held)
    finally:
        processes.stop()
        shutil.rmtree(directory, ignore_errors=True)


async def runs_held(processes: Processes) -> int:
    """How many runs the lab started in all (on Redis: its history; embedded: A's runs table, read once it stopped)."""
    if processes.redis_url:
        from redis.asyncio import Redis

        async with Redis.from_url(processes.redis_url) as redis:
            return int(await redis.zcard("lab:history"))
    processes.stop()
    import sqlite3

    with contextlib.closing(sqlite3.connect(processes.directory / "a.db")) as db:
        return int(db.execute("SELECT count(*) FROM runs").fetchone()[0])


def summarize(
    lab: Class, outcome: dict[str, Any], runs: dict[int, dict[str, dict[str, Any]]], seconds: float, held: int
) -> dict[str, Any]:
    students: list[Student | BrowserStudent] = [*lab.students, *lab.browsers]
    figures = lab.figures
    latencies = [s.arrivals[step] - figures.gos[step] for s in students for step in range(1, STEPS + 1)]
    after = outcome["after"]
    kept = sum(len(step["answers"].get("1", {})) for step in after["steps"])
    sent = sum(1 for s in students for value in s.answered.values() if value)
    teacher_runs = sum(1 for step in after["steps"] if step["teacher_run"])
    reveal: dict[int, list[Any]] = {}  # step -> the values the reveal drew (the runs' measures)
    own: dict[int, list[Any]] = {}  # step -> the students' runs' own measures
    order: dict[int, dict[str, Any]] = {}
    for step, by_name in runs.items():
        measure = EVERYONE[step]
        reveal[step] = sorted(r["value"] for r in after["steps"][step - 1]["class_runs"].values() if r)
        # A run without the measure (it failed) is a None, sorted last: the reveal has no value for it.
        measured = [(r.get("result") or {}).get(measure) for r in by_name.values()]
        own[step] = sorted(measured, key=lambda value: (value is None, value or 0))
        # Runs must start in the order the lab queued them (FIFO; the wait is each run's time in the queue). A
        # replica stamps created_at and queues in that order. Two each stamp it, then queue the run on Redis (a
        # round trip): two requests made at once through both may be queued either way, whatever their created_at;
        # known from outside is then only the order of two requests one after the other (one answered before the
        # other was sent).
        began = sorted(by_name, key=lambda name: by_name[name]["started_at"] or float("inf"))
        created = sorted(by_name, key=lambda name: by_name[name]["created_at"])
        requests = {s.name: s.run_asked[step] for s in lab.students if step in s.run_asked}
        start = {name: by_name[name]["started_at"] or float("inf") for name in requests}
        one_after_other = [(a, b) for a in requests for b in requests if requests[a][1] < requests[b][0]]
        if len({home for _, _, home in requests.values()}) <= 1:  # all through one replica
            out_of_order = sum(a != b for a, b in zip(created, began, strict=True))
        else:
            out_of_order = sum(start[b] < start[a] for a, b in one_after_other)
        waits = [r["started_at"] - r["created_at"] for r in by_name.values() if r["started_at"]]
        order[step] = {
            "finished": sum(r["status"] == "done" for r in by_name.values()),
            "statuses": dict(Counter(r["status"] for r in by_name.values())),
            "out_of_order": out_of_order,  # started against the order they were queued in: FIFO on one runner, none
            "one_after_other": len(one_after_other),
            # By created_at: with two nodes the neighbours in the queue start at once, in either order; two
            # replicas may queue requests made at once either way.
            "most_places_off": max(abs(created.index(name) - began.index(name)) for name in by_name),
            "wait_p50_s": percentile(waits, 50),
            "wait_max_s": max(waits, default=0.0),
            "requests_spread_s": max(r["created_at"] for r in by_name.values())
            - min(r["created_at"] for r in by_name.values()),
        }
    kept_before = None
    if outcome["before_kill"] is not None:
        before = outcome["before_kill"]
        kept_before = all(
            after["steps"][i]["answers"].get(r) == answers
            for i, step in enumerate(before["steps"])
            for r, answers in step["answers"].items()
        )
    names = {s.name for s in students}
    asked = [step for step in after["steps"] if step["question"]]
    return {
        # Each answer under the name its student joined with: one that came back through another replica with
        # a cookie that replica did not accept would be a new, nameless "student N".
        "answers_by_their_students": sorted(after["students"]) == sorted(names)
        and all(set(step["answers"].get("1", {})) == names for step in asked),
        "students": len(lab.students),
        "browsers": len(lab.browsers),
        "replicas": len(lab.urls),
        "steps": STEPS,
        "seconds": seconds,
        "every_step_reached": all(set(s.arrivals) >= set(range(1, STEPS + 1)) for s in students),
        "latency_p50_s": percentile(latencies, 50),
        "latency_p95_s": percentile(latencies, 95),
        "latency_max_s": max(latencies),
        "answers_sent": sent,
        "answers_kept": kept,
        "run_posts": sum(sum(s.run_posts.values()) for s in lab.students),  # the browsers' pages post unseen
        "runs_started": sum(len(ids) for ids in outcome["run_ids"].values()),
        "teacher_runs": teacher_runs,
        "runs_held": held,  # every run the lab started: the class's, the teacher's, and any started twice
        "order": order,
        "reveal": reveal,
        "own": own,
        "refused": dict(sum((s.refused for s in lab.students), Counter())),
        "statuses": dict(figures.statuses),
        "server_errors": sum(n for status, n in figures.statuses.items() if status >= 500),
        "unreachable": figures.unreachable,
        "reconnects": sum(s.reconnects for s in lab.students),
        "answers_kept_after_kill": kept_before,
    }


def report(f: dict[str, Any]) -> None:
    print(
        f"{'students, browsers, replicas, steps':34} "
        f"{f['students']}, {f['browsers']}, {f['replicas']}, {f['steps']} ({f['seconds']:.0f} s)"
    )
    print(f"{'every student got every step':34} {f['every_step_reached']}")
    print(
        f"{'step change -> student p50/p95/max':34} "
        f"{f['latency_p50_s'] * 1000:.0f} / {f['latency_p95_s'] * 1000:.0f} / {f['latency_max_s'] * 1000:.0f} ms"
    )
    print(f"{'answers kept / sent':34} {f['answers_kept']} / {f['answers_sent']}")
    print(f"{'each kept under its name':34} {f['answers_by_their_students']}")
    print(
        f"{'class runs (their POSTs), all runs':34} {f['runs_started']} ({f['run_posts']} POSTs), "
        f"{f['runs_held']} in the lab with the teacher's {f['teacher_runs']}"
    )
    for step, o in f["order"].items():
        print(f"{f'step {step}: runs finished':34} {o['finished']} of {f['students'] + f['browsers']} {o['statuses']}")
        print(
            f"{f'step {step}: queue':34} {o['out_of_order']} started out of the order queued ({o['one_after_other']} "
            f"pairs asked one after the other; by created_at at most {o['most_places_off']} place off); requests over "
            f"{o['requests_spread_s']:.1f} s, wait p50 {o['wait_p50_s']:.1f} s, max {o['wait_max_s']:.1f} s"
        )
        same = f["reveal"][step] == f["own"][step]
        print(f"{f'step {step}: reveal == runs results':34} {same}  {f['reveal'][step][:8]}...")
    print(f"{'answers by status':34} {', '.join(f'{s}: {n}' for s, n in sorted(f['statuses'].items()))}")
    print(f"{'refused (student posts)':34} {f['refused']}")
    print(f"{'5xx':34} {f['server_errors']}")
    if f["answers_kept_after_kill"] is not None:
        print(f"{'answers kept after B killed':34} {f['answers_kept_after_kill']}")
        print(f"{'socket reconnects, requests to B':34} {f['reconnects']}, {f['unreachable']} found it gone")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--replicas", type=int, choices=(1, 2), default=0, help="default: both, 1 then 2")
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--browsers", type=int, default=2, help="students in Chromium pages too (0: none)")
    parser.add_argument("--kill-during-runs", action="store_true", help="kill B as step 4's runs start")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:  # a check that it still runs (tests/test_benchmarks.py): one server unless told
        args.students, args.nodes, args.browsers, args.replicas = 4, 1, 0, args.replicas or 1
    for replicas in (args.replicas,) if args.replicas else (1, 2):
        at = "as step 4's runs start" if args.kill_during_runs else "after step 3's answers"
        where = "one server" if replicas == 1 else f"two replicas on Redis, {args.nodes} nodes, B killed {at}"
        print(header(f"{args.students} students follow a {STEPS}-step lesson through {where}"))
        report(asyncio.run(class_follows(args.students, replicas, args.nodes, args.browsers, args.kill_during_runs)))


if __name__ == "__main__":
    main(sys.argv[1:])
