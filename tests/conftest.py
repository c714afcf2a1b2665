"""Fixtures and hooks: an app with the test-only experiments, and browser tests ordered last.

What test modules import by name (settings, waits, clocks, servers) is in tests/helpers.py.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from redis import Redis as SyncRedis

from app.drawing.render import Renderer
from app.web.server import create_app
from tests.helpers import (
    COOKIES,
    SECRET,
    T0,
    TEST_MODULES,
    TTL_S,
    FakeClock,
    NodeProcess,
    RedisServer,
    ServerProcess,
    databases,
    make_settings,
    templates,
)

# Every test's database is a fresh file in a temporary directory, never lab.db in the repo,
# also for tests that build Settings() themselves.
os.environ.setdefault("LAB_DATABASE", os.path.join(databases(), "default.db"))
# Starlette's TestClient asks for http://testserver: a name the lab answers to only when told (app/web/security.py).
os.environ.setdefault("LAB_ALLOWED_HOSTS", '["testserver"]')


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(max_concurrent_runs=2), modules=TEST_MODULES)) as c:
        yield c


@pytest.fixture
def lab_with() -> Iterator[Callable[..., TestClient]]:
    """A lab whose limits the test chooses, one run executing at a time; a teacher token that cancels anything."""
    clients: list[TestClient] = []

    def make(**limits: Any) -> TestClient:
        settings = make_settings(
            **{"max_concurrent_runs": 1, "admin_token": "teacher-secret", "secret": SECRET, **limits}
        )
        clients.append(TestClient(create_app(settings, modules=TEST_MODULES)).__enter__())
        return clients[-1]

    yield make
    for c in clients:
        c.__exit__(None, None, None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Playwright's sync API leaves an event loop behind that breaks later asyncio-based
    # tests in the same process (see shared/STACK.md): run browser tests last.
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives headless Chromium (runs last)")


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, str]:
    """pytest-playwright launches Debian's chromium (Playwright's own download cannot work here)."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("browser tests need Debian's chromium: apt-get install chromium (see .ci/run)")
    return {"executable_path": chromium}


@pytest.fixture
def clock() -> FakeClock[int]:
    """A hand-moved clock, at T0 (tests/helpers.py), for the renderer and whatever else takes one."""
    return FakeClock(T0)


@pytest.fixture
def renderer(clock: FakeClock[int]) -> Renderer:
    """The app's renderer on the templates compiled once, its clock the test's `clock`."""
    return Renderer(templates(), clock=clock)


@pytest.fixture
def redis(redis_server: RedisServer) -> Iterator[SyncRedis]:
    """A (synchronous) client of the test's redis-server."""
    with SyncRedis.from_url(redis_server.url) as client:
        yield client


@pytest.fixture
def lab(
    redis_server: RedisServer, tmp_path: Path
) -> Iterator[tuple[Callable[..., ServerProcess], Callable[..., NodeProcess]]]:
    """Start web replicas and runner nodes on the test's Redis; all stopped after (tests/end_to_end/test_replicas.py)."""
    started: list[ServerProcess | NodeProcess] = []
    COOKIES.clear()

    def web(name: str, ttl_s: float = TTL_S, **env: str) -> ServerProcess:
        settings = {
            "LAB_REDIS_URL": redis_server.url,
            "LAB_NODE_TTL_S": str(ttl_s),
            "LAB_PYTHONS": json.dumps([sys.executable]),
            **env,
        }
        server = ServerProcess(tmp_path / f"{name}.db", **settings)
        started.append(server)
        return server

    def node(name: str, ttl_s: float = TTL_S, **env: str) -> NodeProcess:
        process = NodeProcess(redis_server.url, name, tmp_path, ttl_s, **env)
        started.append(process)
        return process

    yield web, node
    for process in reversed(started):
        if process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A real redis-server (append-only) on a free loopback port, its files in the test's tmp dir; stopped after."""
    with RedisServer(tmp_path) as server:
        yield server
