"""The seams a second implementation will implement again (Redis, issue 15): each embedded implementation
has every member of its Protocol, with the same parameters, so callers typed against the Protocol hold it."""
from __future__ import annotations

import asyncio
import inspect

import pytest

from app.drawing.broadcast import Broadcast
from app.drawing.seams import LiveFeed
from app.model.runs import Journal
from app.running.admission import Admission
from app.running.seams import Queue
from app.storage.seams import RunStorage
from app.storage.store import RunStore


def members(protocol: type) -> dict[str, object]:
    names = {name for klass in protocol.__mro__ if klass not in (object,) and getattr(klass, "_is_protocol", False)
             for name in vars(klass) if not name.startswith("_")}
    return {name: inspect.getattr_static(protocol, name) for name in names}


def embedded() -> list[tuple[type, object]]:
    from app.drawing.render import Renderer
    from app.model.runs import Run
    from tests.test_store import RACE

    async def made():
        return Broadcast(Run("r1", RACE, {}), Renderer.__new__(Renderer), 20)

    return [(Queue, Admission(2)), (RunStorage, RunStore(":memory:", {})), (LiveFeed, asyncio.run(made()))]


@pytest.mark.parametrize("protocol, implementation", embedded(), ids=["queue", "run store", "live feed"])
def test_each_embedded_implementation_has_every_member_of_its_seam(protocol, implementation):
    for name, member in members(protocol).items():
        assert hasattr(implementation, name), f"{type(implementation).__name__} lacks {protocol.__name__}.{name}"
        if inspect.isfunction(member):
            ours = inspect.signature(getattr(implementation, name))
            theirs = inspect.signature(member)
            assert list(ours.parameters) == list(theirs.parameters)[1:], name  # without self
            assert inspect.iscoroutinefunction(getattr(implementation, name)) == inspect.iscoroutinefunction(member), name


def test_the_run_store_seam_is_also_the_journal_a_run_reports_to():
    assert {"append", "save", "room"} <= set(members(RunStorage)) and Journal in RunStorage.__mro__
