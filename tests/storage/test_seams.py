"""The seams, implemented twice: embedded (one process) and distributed (Redis, docs/distributed.md). Each
implementation has every member of its Protocol, with the same parameters, so callers typed against the
Protocol hold either."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from app.drawing.broadcast import Broadcast
from app.drawing.seams import LiveFeed
from app.model.runs import Journal
from app.running.admission import Admission
from app.running.seams import Queue
from app.storage.lesson_store import LessonStore
from app.storage.pins import MemoryPin, Pin
from app.storage.seams import LessonStorage, RunStorage, SweepStorage
from app.storage.store import RunStore
from app.storage.sweep_store import SweepStore
from tests.helpers import members


def embedded() -> list[tuple[type, object]]:
    from app.drawing.render import Renderer
    from app.model.runs import Run
    from tests.helpers import RACE

    async def made():
        return Broadcast(Run("r1", RACE, {}), Renderer.__new__(Renderer), 20)

    store = RunStore(":memory:", {})
    return [
        (Queue, Admission(2)),
        (RunStorage, store),
        (LiveFeed, asyncio.run(made())),
        (SweepStorage, SweepStore(store.db)),
        (LessonStorage, LessonStore(store.db)),
        (Pin, MemoryPin()),
    ]


def distributed() -> list[tuple[type, object]]:
    """A web replica's (docs/distributed.md); a client made without a server: nothing here connects."""
    from redis.asyncio import Redis

    from app.running.node_queue import NodeQueue
    from app.storage.pins import RedisPin
    from app.storage.redis_lessons import RedisLessons
    from app.storage.redis_store import RedisRunStore
    from app.storage.redis_sweeps import RedisSweeps

    redis = Redis()
    store = RedisRunStore(redis, {})
    return [
        (Queue, NodeQueue(store)),
        (RunStorage, store),
        (SweepStorage, RedisSweeps(redis)),
        (LessonStorage, RedisLessons(redis)),
        (Pin, RedisPin(redis)),
    ]


@pytest.mark.parametrize(
    "protocol, implementation",
    embedded() + distributed(),
    ids=[
        "queue",
        "run store",
        "live feed",
        "sweep store",
        "lesson store",
        "pin",
        "node queue",
        "Redis run store",
        "Redis sweep store",
        "Redis lesson store",
        "Redis pin",
    ],
)
def test_each_implementation_has_every_member_of_its_seam(protocol, implementation):
    for name, member in members(protocol).items():
        assert hasattr(implementation, name), f"{type(implementation).__name__} lacks {protocol.__name__}.{name}"
        if inspect.isfunction(member):
            ours = inspect.signature(getattr(implementation, name))
            theirs = inspect.signature(member)
            assert list(ours.parameters) == list(theirs.parameters)[1:], name  # without self
            assert inspect.iscoroutinefunction(getattr(implementation, name)) == inspect.iscoroutinefunction(member), (
                name
            )


def test_the_run_store_seam_is_also_the_journal_a_run_reports_to():
    assert {"append", "save", "room"} <= set(members(RunStorage)) and Journal in RunStorage.__mro__
