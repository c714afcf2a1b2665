"""Shared fixtures: an app with the test-only experiments, and browser tests ordered last."""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from contextlib import contextmanager

import anyio
import pytest
from fastapi.testclient import TestClient

from app.model.runs import FINISHED
from app.settings import Settings
from app.web.server import create_app
from experiments import MODULES

TEST_MODULES = MODULES + ("tests.experiment_raises", "tests.experiment_sleeps")
# A run that lasts until it is cancelled: a sleeping child process and a sleeping thread.
SLEEPS = {"experiment": "test-sleeps", "params": {"workers": 1, "seconds": 60}}


# Every test's database is a fresh file in a temporary directory, never lab.db in the repo,
# also for tests that build Settings() themselves.
DATABASES = tempfile.mkdtemp(prefix="lab-test-db-")
os.environ.setdefault("LAB_DATABASE", os.path.join(DATABASES, "default.db"))
# Starlette's TestClient asks for http://testserver: a name the lab answers to only when told (app/web/security.py).
os.environ.setdefault("LAB_ALLOWED_HOSTS", '["testserver"]')


def make_settings(**overrides) -> Settings:
    # Fair-use limits out of the way, except in tests of them (tests/test_limits.py).
    generous = {"max_runs_in_flight_per_client": 100, "max_runs_per_minute_per_client": 1000}
    overrides.setdefault("database", tempfile.mktemp(suffix=".db", dir=DATABASES))
    return Settings(**{"htmx_source": "local", **generous, **overrides})


@contextmanager
def serving(app, settings: Settings | None = None):
    """A real uvicorn server for `app` in a thread, on a free loopback port: yields its base URL."""
    import uvicorn

    from app.__main__ import uvicorn_options

    options = uvicorn_options(settings) if settings is not None else {}
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", **options))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def client():
    with TestClient(create_app(make_settings(max_concurrent_runs=2), modules=TEST_MODULES)) as c:
        yield c


def wait_for_status(client, run_id: str, statuses=FINISHED, timeout=30.0) -> dict:
    """Until the run's status is one of `statuses` (by default: it is over). `client`: a TestClient or an httpx.Client."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"/api/runs/{run_id}").json()
        if run["status"] in statuses:
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} still {run['status']} after {timeout} s")


def post_sleeps(client, headers: dict[str, str] | None = None) -> str:
    """Start (or queue) a test-sleeps run through the API; its id. `client`: a TestClient or an httpx.Client."""
    response = client.post("/api/runs", json=SLEEPS, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def start_sleeper(client) -> tuple[str, int, int]:
    """Start test-sleeps and wait until it sleeps: its run id, the runner's pid and its child's pid."""
    run_id = post_sleeps(client)
    sleep = f"sleep({SLEEPS['params']['seconds']})"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        events = client.get(f"/api/runs/{run_id}/events").json()
        header = next((e for e in events if e["kind"] == "header"), None)
        printed = next((e for e in events if e["kind"] == "instant" and e["name"].startswith("child pid")), None)
        sleeping = any(e["kind"] == "begin" and e["name"] == sleep for e in events)
        if header and printed and sleeping:
            return run_id, header["value"]["pid"], int(printed["name"].split()[-1])
        time.sleep(0.05)
    raise AssertionError("the sleeper never reported its child")


def receive_text(ws, timeout_s: float = 10) -> str:
    """ws.receive_text() on a TestClient websocket, but a TimeoutError after `timeout_s`, not a hung suite.

    Starlette's test session has no timeout of its own: this is its receive_text() with one
    (it reaches into the session's stream and close check, as of starlette 1.x).
    """
    async def receive():
        with anyio.fail_after(timeout_s):
            return await ws._send_rx.receive()

    message = ws.portal.call(receive)
    ws._raise_on_close(message)
    return message["text"]


def until(predicate, timeout: float = 10.0, what: str = "the condition"):
    """Poll `predicate` until it returns something true (returned), for at most `timeout` s."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.02)
    return value


def alive(pid: int) -> bool:
    """True if `pid` is a live process (a zombie awaiting its parent counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):  # gone, or reaped between the open and the read
        return False


def pytest_collection_modifyitems(items):
    # Playwright's sync API leaves an event loop behind that breaks later asyncio-based
    # tests in the same process (see shared/STACK.md): run browser tests last.
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives headless Chromium (runs last)")


@pytest.fixture(scope="session")
def browser_type_launch_args():
    """pytest-playwright launches Debian's chromium (Playwright's own download cannot work here)."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("browser tests need Debian's chromium: apt-get install chromium (see .ci/run)")
    return {"executable_path": chromium}
