"""Every contract test runs once per implementation of its seam: `where` is "embedded" (this process, SQLite)
or "redis" (a distributed lab's, on a real redis-server), as uvicorn's conftest parametrizes its protocols."""

from __future__ import annotations

import pytest

IMPLEMENTATIONS = ("embedded", "redis")


@pytest.fixture(params=IMPLEMENTATIONS)
def where(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def redis_url(where: str, request: pytest.FixtureRequest) -> str:
    """The url of a fresh redis-server for the Redis implementation; "" for the embedded one (it needs none)."""
    if where != "redis":
        return ""
    return str(request.getfixturevalue("redis_server").url)
