"""What the test modules share: settings, waiting on a condition, a hand-moved clock, processes, a served
app and a free port, other interpreters.

conftest.py keeps the fixtures and hooks; anything a test module imports by name lives here, once.
A test waits on the condition it needs (`until`), never for a while in the hope that it holds.
"""

from __future__ import annotations

import asyncio
import functools
import html
import inspect
import itertools
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, cast

import anyio
import httpx2 as httpx
from jinja2 import Environment
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from starlette.testclient import WebSocketTestSession
from starlette.types import ASGIApp, Message
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Origin

from app.drawing.environment import environment
from app.model.documents import BudgetJson, NumberedEventJson
from app.model.events import Event
from app.model.experiments import catalogue, load
from app.model.runs import Run
from app.model.status import FINISHED
from app.settings import Settings
from app.storage import redis_formats as formats
from app.storage import redis_replies as replies
from app.storage.redis_documents import StateDoc
from app.storage.redis_formats import Job
from app.storage.redis_queue import entries
from app.storage.wire import unpack_events
from app.web import urls
from app.web.documents import RunCreatedJson, RunView
from experiments import MODULES

if TYPE_CHECKING:  # the browser tests' types: Playwright is imported by those tests alone
    from playwright.sync_api import FloatRect, Locator

ROOT = Path(__file__).resolve().parent.parent
TEST_MODULES = MODULES + ("tests.fixtures.experiment_raises", "tests.fixtures.experiment_sleeps")
# A run that lasts until it is cancelled: a sleeping child process and a sleeping thread.
SLEEPS_SECONDS = 60
SLEEPS = {"experiment": "test-sleeps", "params": {"workers": 1, "seconds": SLEEPS_SECONDS}}
# The first step of the lesson files the lesson tests write (docs/lessons.md): a race everyone runs, a choice.
RACE_STEP = """[[steps]]
title = "A race with a call in it"
experiment = "race-counter"
params = { workers = 2, iterations = 2000, window = "call" }
everyone = true
measure = "actual"
measure_label = "final counter"
notes = "Ask them why the counter is not 0."
notice = "Each run lost a different number of updates."

[steps.question]
text = "Will the counter end at 0?"
choices = ["yes", "no, a little off", "no, far off"]
"""
SECRET = "lab-test-secret"  # LAB_SECRET of the tests that make their clients' cookies (client_cookie)


def client_cookie(n: int, secret: str = SECRET) -> dict[str, str]:
    """The cookie header of the client numbered `n`, as a lab whose LAB_SECRET is `secret` signs it."""
    from app.web.clients import COOKIE, signed

    return {"cookie": f"{COOKIE}={signed(secret.encode(), f'{n:032x}')}"}


T = TypeVar("T")
P = ParamSpec("P")


# -- settings ---------------------------------------------------------------------------------


@functools.cache
def databases() -> str:
    """The directory every test's database is made in: never lab.db in the repo."""
    return tempfile.mkdtemp(prefix="lab-test-db-")


def make_settings(**overrides: Any) -> Settings:
    # Fair-use limits out of the way, except in tests of them (tests/running/test_limits.py).
    generous = {"max_runs_in_flight_per_client": 100, "max_runs_per_minute_per_client": 1000}
    overrides.setdefault("database", tempfile.mktemp(suffix=".db", dir=databases()))
    return Settings(**{"htmx_source": "local", **generous, **overrides})


@functools.cache
def templates() -> Environment:
    """The app's templates (app/drawing/environment.py's, with app/web/urls.py's links), compiled once for
    every test: some 0.2 s each time."""
    return environment(urls.GLOBALS)


# -- waiting on a condition -------------------------------------------------------------------


def poll(
    predicate: Callable[[], T], timeout: float, every: float = 0.02, sleep: Callable[[float], object] = time.sleep
) -> T:
    """Call `predicate` until it returns something true or `timeout` s have passed: its last value."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()) and time.monotonic() < deadline:
        sleep(every)
    return value


def until(
    predicate: Callable[[], T | None],
    timeout: float = 10.0,
    what: str = "the condition",
    every: float = 0.02,
    sleep: Callable[[float], object] = time.sleep,
) -> T:
    """Poll `predicate` until it returns something true (returned), for at most `timeout` s, else fail saying `what`.

    `sleep`: how to pass the time between two calls (a Playwright page's, so that its events run meanwhile).
    """
    value = poll(predicate, timeout, every, sleep)
    assert value, f"{what}: not within {timeout} s"
    return value


async def until_async(
    predicate: Callable[[], T | None], timeout: float = 5.0, what: str = "the condition", every: float = 0.001
) -> T:
    """`until` inside an event loop: the loop's other tasks run between two calls."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        await asyncio.sleep(every)
    return value


async def until_awaited(
    predicate: Callable[[], Awaitable[T | None]], timeout: float = 5.0, what: str = "the condition", every: float = 0.01
) -> T:
    """`until_async` for a condition read by awaiting (a Redis reply): awaited until true, at most `timeout` s."""
    deadline = time.monotonic() + timeout
    while not (value := await predicate()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        await asyncio.sleep(every)
    return value


def wait_for_status(
    client: httpx.Client,
    run_id: str,
    statuses: Collection[str] = FINISHED,
    timeout: float = 30.0,
    every: float = 0.05,
) -> RunView:
    """Until the run's status is one of `statuses` (by default: it is over), asking every `every` s; a 503 with
    Retry-After (a distributed lab's Redis away for a moment, restarting) is asked again. `client`: a TestClient
    or an httpx.Client."""
    last: dict[str, str] = {"said": "no answer"}  # the run's status as last read, for the failure's message

    def reached() -> RunView | None:
        response = client.get(f"/api/runs/{run_id}")
        if response.status_code == 503 and "retry-after" in response.headers:
            last["said"] = f"503 ({response.text})"
            return None
        assert response.status_code == 200, response.text
        run = cast(RunView, response.json())  # GET /api/runs/{id}'s document
        last["said"] = run["status"]
        return run if run["status"] in statuses else None

    run = poll(reached, timeout, every=every)
    assert run, f"run {run_id} still {last['said']} after {timeout} s"
    return run


def result_of(run: RunView) -> dict[str, Any]:
    """The run's result (the experiment's own keys), failing if it has none: it has not ended, or it failed early."""
    assert run["result"] is not None, f"run {run['id']} ({run['status']}) has no result: {run['error']}"
    return run["result"]


def budget_of(run: RunView) -> BudgetJson:
    """The run's CPU budget, failing if it has none: it has not ended, or it never got under way."""
    assert run["cpu"] is not None, f"run {run['id']} ({run['status']}) has no CPU budget: {run['error']}"
    return run["cpu"]


def post_sleeps(client: httpx.Client, headers: dict[str, str] | None = None) -> str:
    """Start (or queue) a test-sleeps run through the API; its id. `client`: a TestClient or an httpx.Client."""
    response = client.post("/api/runs", json=SLEEPS, headers=headers)
    assert response.status_code == 201, response.text
    return cast(RunCreatedJson, response.json())["id"]


def start_sleeper(client: httpx.Client) -> tuple[str, int, int]:
    """Start test-sleeps and wait until it sleeps: its run id, the runner's pid and its child's pid."""
    run_id = post_sleeps(client)
    sleep = f"sleep({SLEEPS_SECONDS})"

    def sleeping() -> tuple[int, int] | None:
        events = cast(list[NumberedEventJson], client.get(f"/api/runs/{run_id}/events").json())
        header = next((e for e in events if e["kind"] == "header"), None)
        printed = next((e for e in events if e["kind"] == "instant" and e["name"].startswith("child pid")), None)
        if header and printed and any(e["kind"] == "begin" and e["name"] == sleep for e in events):
            return header["value"]["pid"], int(printed["name"].split()[-1])
        return None

    runner, child = until(sleeping, timeout=20, what="the sleeper reporting its child", every=0.05)
    return run_id, runner, child


def receive_text(ws: WebSocketTestSession, timeout_s: float = 10) -> str:
    """ws.receive_text() on a TestClient websocket, but a TimeoutError after `timeout_s`, not a hung suite.

    Starlette's test session has no timeout of its own: this is its receive_text() with one
    (it reaches into the session's stream and close check, as of starlette 1.x).
    """

    async def receive() -> Message:
        with anyio.fail_after(timeout_s):
            return await ws._send_rx.receive()

    message = ws.portal.call(receive)
    ws._raise_on_close(message)
    return cast(str, message["text"])  # an ASGI message is a plain mapping: Starlette's receive_text casts it too


# -- a clock moved by hand ------------------------------------------------------------------

MS = 1_000_000  # a millisecond, in the ns of event timestamps
T0 = 5_000 * MS  # where the renderer tests' runs start, and their clock (conftest.py's `clock`) reads at first


Now = TypeVar("Now", int, float)  # a clock's reading: ns (event timestamps) or s (time.time's)


class FakeClock(Generic[Now]):
    """A clock for code that takes one (`clock=`): it reads `now`, which the test sets."""

    def __init__(self, now: Now = 0) -> None:
        self.now: Now = now

    def __call__(self) -> Now:
        return self.now


# -- processes --------------------------------------------------------------------------------


def alive(pid: int) -> bool:
    """True if `pid` is a live process (a zombie awaiting its parent counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):  # gone, or reaped between the open and the read
        return False


def alive_in_group(pgid: int) -> list[int]:
    """Pids of the processes in group `pgid` that are still running (zombies do not count)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) == pgid and state != "Z":
            found.append(int(entry.name))
    return found


def read_until(stream: IO[bytes] | None, pattern: str, timeout: float = 15.0) -> tuple[re.Match[str], str]:
    """Read a child's output pipe until `pattern` appears: the match and all that was read so far."""
    assert stream is not None, "the child's output is not a pipe"
    fd, text = stream.fileno(), ""
    deadline = time.monotonic() + timeout
    while not (found := re.search(pattern, text)):
        left = deadline - time.monotonic()
        assert left > 0, f"{pattern!r} not in the output within {timeout} s: {text[-500:]!r}"
        if select.select([fd], [], [], left)[0]:
            chunk = os.read(fd, 65536)
            assert chunk, f"the output ended without {pattern!r}: {text[-500:]!r}"
            text += chunk.decode("utf-8", "replace")
    return found, text


# -- serving the app --------------------------------------------------------------------------


def listening_socket(send_buffer: int | None = None) -> socket.socket:
    """A socket listening on a free loopback port, to hand to a server (by object or fd).

    The server gets the socket itself, not its port number: a port found free and closed again
    may be taken by someone else before the server binds it.
    """
    sock = socket.socket()
    if send_buffer is not None:  # accepted sockets inherit it
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    return sock


def url_of(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


@contextmanager
def serving(app: ASGIApp, settings: Settings | None = None) -> Iterator[str]:
    """A real uvicorn server for `app` in a thread, on a free loopback port: yields its base URL."""
    import uvicorn

    from app.__main__ import uvicorn_options

    options = uvicorn_options(settings) if settings is not None else {}
    sock = listening_socket()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", **options))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    until(lambda: server.started, timeout=10, what="uvicorn starting")
    try:
        yield url_of(sock)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def wait_until_up(url: str, proc: subprocess.Popen | None = None, timeout: float = 20.0) -> None:
    """Until the server at `url` answers /healthz with 200 (failing at once if its process `proc` exits)."""

    def up() -> bool:
        assert proc is None or proc.poll() is None, f"the server exited with {proc.returncode}"
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    until(up, timeout=timeout, what=f"the server at {url} answering", every=0.05)


class AppProcess:
    """`python -m app --port 0` with the environment `env`, as a class would start it (under `prefix`, a tracer's
    command, if given): `url` once it serves, `output` (stdout and stderr, uvicorn's log) once it has stopped.
    Port 0: it binds a free port itself, so no other process can take it first, and its log says which."""

    def __init__(self, env: dict[str, str], prefix: tuple[str, ...] = ()):
        self.env, self.prefix, self.url, self.output = env, prefix, "", ""

    def __enter__(self) -> AppProcess:
        self.proc = subprocess.Popen(
            [*self.prefix, sys.executable, "-m", "app", "--port", "0"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            started, self.output = read_until(self.proc.stdout, r"Uvicorn running on (http://127\.0\.0\.1:\d+)")
            self.url = started.group(1)
            wait_until_up(self.url, self.proc)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.output += self.proc.communicate(timeout=10)[0].decode()


class ServerProcess:
    """A real lab server in its own process (`python -m tests.lab_server FD`), for tests that stop or kill it."""

    def __init__(self, database: Path, **env: str):
        sock = listening_socket()
        self.port = sock.getsockname()[1]
        self.url = url = url_of(sock)
        env = {
            **os.environ,
            "LAB_DATABASE": str(database),
            "LAB_HTMX_SOURCE": "local",
            "PYTHONPATH": str(ROOT),
            "LAB_MAX_RUNS_IN_FLIGHT_PER_CLIENT": "100",
            "LAB_MAX_RUNS_PER_MINUTE_PER_CLIENT": "1000",
            # Its runs are on this interpreter: not a probe of each one found (pyenv's, .pythons/) at each start.
            "LAB_PYTHONS": json.dumps([sys.executable]),
            **env,
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.lab_server", str(sock.fileno())], cwd=ROOT, env=env, pass_fds=[sock.fileno()]
        )
        sock.close()  # the server holds it now: once it is gone, so is the port
        self.http = httpx.Client(base_url=url, timeout=10)
        wait_until_up(url, self.proc)

    def stop(self, sig: int) -> None:
        self.proc.send_signal(sig)
        self.proc.wait(timeout=20)
        self.http.close()


# -- other interpreters -----------------------------------------------------------------------

PYENV_VERSIONS = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"


def python_under(base: Path, pattern: str) -> str | None:
    """The first interpreter at `base/<pattern>/bin/python3` (a glob), if there is one."""
    found = sorted(base.glob(f"{pattern}/bin/python3"))
    return str(found[0]) if found else None


def pyenv_python(pattern: str) -> str | None:
    """The pyenv-installed CPython `pattern` ("3.9.18", "3.13.*"), if there is one."""
    return python_under(PYENV_VERSIONS, pattern)


# -- a real redis-server ----------------------------------------------------------------------


class RedisServer:
    """Debian's `redis-server` on a free loopback port, its files (AOF) in `directory`, for the tests of runner
    nodes: `url` once it answers PING; stopped, and waited for, on exit. Append-only, as a deployment runs it.

    redis-server cannot be handed a bound socket: the port is found free, then given to it; if someone took
    it meanwhile, it exits at once and another port is tried.
    """

    def __init__(self, directory: Path):
        self.directory, self.url = directory, ""
        self.proc: subprocess.Popen[bytes] | None = None  # once started

    def __enter__(self) -> RedisServer:
        import shutil

        assert shutil.which("redis-server"), (
            "the node tests need redis-server: apt-get install redis-server (see .ci/run)"
        )
        for _ in range(5):
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            if self._start(port):
                return self
            self.stop()  # the port was taken, or it could not start: try another
        raise AssertionError("redis-server did not answer PING on any of 5 free ports")

    def _start(self, port: int) -> bool:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--appendonly",
                "yes",
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
        self.url = f"redis://127.0.0.1:{port}/0"
        return bool(poll(self._answers, timeout=10, every=0.02)) and self.proc.poll() is None

    def restart(self) -> None:
        """Stopped (SIGTERM: it writes its append-only file and exits) and started again on the same port and files."""
        self.stop()
        port = int(self.url.rsplit(":", 1)[1].split("/")[0])
        assert self._start(port), "redis-server did not start again on its port"

    def _answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            return True  # exited: waiting longer will not help (the caller sees it exited)
        try:
            with socket.create_connection(("127.0.0.1", int(self.url.rsplit(":", 1)[1].split("/")[0])), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- a class's network: a teacher's machine and a student's ------------------------------------


class ClassNetwork:
    """Two network namespaces joined by a veth pair: the teacher's machine (198.51.100.1) and a student's
    (198.51.100.2), on a network of their own (TEST-NET-2: these addresses exist only inside them, and
    nothing else is reachable from there). `exec_in` prefixes a command so that it runs on one of them.
    Needs root and iproute2; `unavailable()` says why not where a machine cannot make them."""

    TEACHER, STUDENT = "198.51.100.1", "198.51.100.2"

    def __init__(self) -> None:
        suffix = f"{os.getpid() % 100000}-{next(_networks)}"
        self.teacher, self.student = f"lab-teacher-{suffix}", f"lab-student-{suffix}"
        self._veth = (f"vt{suffix}"[:15], f"vs{suffix}"[:15])

    @staticmethod
    def unavailable() -> str | None:
        if os.geteuid() != 0:
            return "network namespaces need root (CI runs as root)"
        if not shutil.which("ip"):
            return "network namespaces need iproute2's `ip`"
        return None

    def exec_in(self, namespace: str, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", namespace, *argv]

    def __enter__(self) -> ClassNetwork:
        teacher_end, student_end = self._veth
        steps = [
            ["ip", "netns", "add", self.teacher],
            ["ip", "netns", "add", self.student],
            ["ip", "link", "add", teacher_end, "type", "veth", "peer", "name", student_end],
            ["ip", "link", "set", teacher_end, "netns", self.teacher],
            ["ip", "link", "set", student_end, "netns", self.student],
        ]
        for namespace, end, address in (
            (self.teacher, teacher_end, self.TEACHER),
            (self.student, student_end, self.STUDENT),
        ):
            steps += [
                ["ip", "-n", namespace, "link", "set", "lo", "up"],
                ["ip", "-n", namespace, "addr", "add", f"{address}/24", "dev", end],
                ["ip", "-n", namespace, "link", "set", end, "up"],
            ]
        try:
            for step in steps:
                subprocess.run(step, check=True, capture_output=True, timeout=10)
        except subprocess.CalledProcessError as failed:
            self.__exit__()
            raise RuntimeError(f"{' '.join(failed.cmd)}: {failed.stderr.decode().strip()}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        for namespace in (self.teacher, self.student):  # the veth pair goes with them
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=10)


_networks = itertools.count()


def box_of(locator: Locator) -> FloatRect:
    """Where a browser test's `locator` is drawn on its page, failing if it is not visible."""
    box = locator.bounding_box()
    assert box is not None, f"{locator} is not visible"
    return box


def page_says(page: str) -> str:
    """What a run page says about its run, as text: the page without the code that ran (whose source holds
    every sentence the experiment could print), its markup and entities."""
    said = page.split('<details class="code">')[0]
    return html.unescape(re.sub(r"<[^>]+>", " ", said))


# -- runs made by hand: stored (the store tests') and drawn (the renderer's) --------------------

# The race-counter experiment, for runs that need a real one but never execute.
EXPERIMENTS = catalogue(("experiments.race_counter",))
RACE = EXPERIMENTS["race-counter"]


def header(ts: int = 1) -> list[Event]:
    return [
        Event("header", ts, "main", value={"python": "3.11.7", "pid": 10}),
        Event("lane", ts, "main", value={"pid": 10, "thread": "MainThread"}),
    ]


def spans(n: int, t0: int = 10, worker: str = "w1") -> list[Event]:
    out: list[Event] = []
    for i in range(n):
        out += [Event("begin", t0 + 10 * i, worker, f"step {i}", "run"), Event("end", t0 + 10 * i + 5, worker)]
    return out


def result(ts: int) -> list[Event]:
    return [Event("result", ts, "main", value={"expected": 0, "actual": 0, "correct": True})]


def drawn(run: Run) -> tuple[Any, ...]:
    """What a page draws from a run: its lanes, spans, marks, result and header."""
    tl = run.timeline
    return ([(lane.worker, lane.pid) for lane in tl.lanes], list(tl.spans), list(tl.marks), tl.result, tl.header)


HEADER = {"python": "3.11.7", "pid": 100}


def a_run(*events: Event, header: dict | None = HEADER) -> Run:
    run = Run("r1", load("tests.fixtures.handoff_experiment"), {"items": 4, "consume_ms": 0})
    run.start()
    run.ingest([Event("header", T0, "main", value=header)] if header else [])
    run.ingest(list(events))
    return run


def at(ms: float) -> int:
    return T0 + int(ms * MS)


def begin(ms: float, worker: str, name: str, category: str = "run") -> Event:
    return Event("begin", at(ms), worker, name, category)


def end(ms: float, worker: str) -> Event:
    return Event("end", at(ms), worker)


def instant(ms: float, worker: str, category: str) -> Event:
    return Event("instant", at(ms), worker, category, category)


def counter(ms: float, value: float, name: str = "items waiting") -> Event:
    return Event("counter", at(ms), "main", name, value=value)


def oob_targets(html: str) -> list[str]:
    return re.findall(r'hx-swap-oob="([^"]+)"', html)


# -- seams -----------------------------------------------------------------------------------


def members(protocol: type) -> dict[str, object]:
    """The members a Protocol declares (its own and its Protocol bases'), by name."""
    names = {
        name
        for klass in protocol.__mro__
        if klass not in (object,) and getattr(klass, "_is_protocol", False)
        for name in vars(klass)
        if not name.startswith("_")
    }
    return {name: inspect.getattr_static(protocol, name) for name in names}


# -- a distributed lab: runner nodes and web replicas on a redis-server -----------------------

TTL_S = 2.0  # the nodes' heartbeat: a killed node is found dead this long after


def call(url: str, fn: Callable[Concatenate[Redis, P], Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
    """An async function of app/storage/redis_queue.py (or the reaper) called with a client of its own."""

    async def go() -> T:
        async with Redis.from_url(url) as redis:
            return await fn(redis, *args, **kwargs)

    return asyncio.run(go())


class NodeProcess:
    """`python -m app worker` on `url`, with the test experiments, its log in `log`; `env`: its settings (LAB_...)."""

    def __init__(self, url: str, name: str, directory: Path, ttl_s: float = TTL_S, **env: str):
        self.name, self.log = name, directory / f"{name}.log"
        env = {
            **os.environ,
            "LAB_NODE_TTL_S": str(ttl_s),
            "LAB_PYTHONS": json.dumps([sys.executable]),
            "PYTHONPATH": str(ROOT),
            **env,
        }
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "app",
                    "worker",
                    "--redis",
                    url,
                    "--name",
                    name,
                    "--module",
                    "tests.fixtures.experiment_sleeps",
                    "--module",
                    "tests.fixtures.experiment_raises",
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        until(
            lambda: "taking runs" in self.text() or self.proc.poll() is not None,
            timeout=20,
            what=f"node {name} starting",
        )
        assert self.proc.poll() is None, self.text()

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


def sleeps(run_id: str, seconds: int) -> Job:
    return Job(
        run_id,
        "test-sleeps",
        {"workers": 1, "seconds": seconds},
        measures_time=False,
        owner="tester",
        created_at=time.time(),
    )


def state(redis: SyncRedis, run_id: str) -> StateDoc | None:
    """The run's state document (`lab:run:{id}`), None if there is none."""
    raw = replies.value_of(redis.get(formats.state_key(run_id)))
    return cast(StateDoc, json.loads(raw)) if raw else None


def events_of(url: str, run_id: str) -> list[Event]:
    return [
        event
        for entry in call(url, entries, run_id)
        if entry.kind == "events"
        for _, event in unpack_events(entry.data, entry.first)
    ]


def sleeping(url: str, run_id: str) -> tuple[int, int] | None:
    """Once the sleeper sleeps: the runner's pid (its group) and its child's."""
    events = events_of(url, run_id)
    header = next((e for e in events if e.kind == "header"), None)
    child = next((e for e in events if e.kind == "instant" and e.name.startswith("child pid")), None)
    if header and child and any(e.kind == "begin" and e.name.startswith("sleep(") for e in events):
        return header.value["pid"], int(child.name.split()[-1])
    return None


def drawn_page(page: str) -> str:
    """The parts of a run page that show the run: its timeline, status and result."""
    parts = {
        part: re.search(rf'<(section|div) id="{part}".*?</\1>', page, re.S) for part in ("timeline", "status", "result")
    }
    missing = [k for k, p in parts.items() if not p]
    assert not missing, f"not on the page: {missing}"
    return "\n".join(p.group(0) for p in parts.values() if p)


def watch(server: ServerProcess, run_id: str) -> tuple[list[str], int]:
    """Every message the run's websocket sends, and its close code."""
    origin = f"http://127.0.0.1:{server.port}"
    with connect(f"ws://127.0.0.1:{server.port}/ws/runs/{run_id}", origin=Origin(origin), open_timeout=10) as socket:
        messages: list[str] = []
        try:
            while True:
                messages.append(socket.recv(timeout=10, decode=True))
        except ConnectionClosed as closed:
            return messages, closed.rcvd.code if closed.rcvd else 1006


def post(server: ServerProcess, body: dict, student: int | None = None) -> str:
    """Start a run through `server`: as its own client, or as the student numbered `student` (their cookie)."""
    if student is None:
        response = server.http.post("/api/runs", json=body)
    else:
        response = httpx.post(
            f"{server.url}/api/runs", json=body, headers={"Cookie": cookie(server, student)}, timeout=10
        )
    assert response.status_code == 201, response.text
    return cast(RunCreatedJson, response.json())["id"]


COOKIES: dict[int, str] = {}  # each student's cookie, as the replica it first asked gave it (the fixture clears it)


def cookie(server: ServerProcess, student: int) -> str:
    """Student `student`'s cookie: given by `server` the first time, then sent to either replica (they share the
    key that signs it, in Redis)."""
    if student not in COOKIES:
        COOKIES[student] = httpx.get(f"{server.url}/healthz", timeout=10).headers["set-cookie"].split(";")[0]
    return COOKIES[student]


# -- on-CPU intervals, as the tests of the strips compare them -------------------------------------------


def total(intervals: list[tuple[int, int]]) -> int:
    """How long sorted, disjoint intervals (start, end) last in all."""
    return sum(end - start for start, end in intervals)


def overlap(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> int:
    """How long two lists of sorted, disjoint intervals (start, end) cover together."""
    i = j = shared = 0
    while i < len(a) and j < len(b):
        shared += max(0, min(a[i][1], b[j][1]) - max(a[i][0], b[j][0]))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return shared
