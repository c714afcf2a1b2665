"""The Execution seam's contract (app/running/seams.py), one suite over both implementations, each driven through
the lab as a server drives it: runs executed here on a warm runner (ExecuteHere), or on a runner node through a
real redis-server (ExecuteOnNodes, with a Node in the same event loop). A run started ends; a cancel stops it,
and a queued one ends at once; stopping what executes (the embedded server's shutdown, a node's SIGTERM)
interrupts the run executing and leaves the queued one queued."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest

from app.drawing.environment import environment
from app.drawing.render import Renderer
from app.model.experiments import Experiment, catalogue
from app.model.runs import Run
from app.model.status import Status
from app.running import engines
from app.running.lab import Lab
from app.running.node import Node
from app.storage import redis_connection, redis_queue
from app.storage.seams import RunStorage
from tests.helpers import make_settings, until_async

SLEEPS = catalogue(("tests.fixtures.experiment_sleeps",))
SLEEPER = SLEEPS["test-sleeps"]
SHORT = {"workers": 1, "seconds": 1}
LONG = {"workers": 1, "seconds": 60}  # longer than any test waits: it ends only when stopped


@dataclass
class Running:
    """A lab, one run executing at a time, and how to stop what executes its runs."""

    lab: Lab
    stop_executing: Callable[[], Awaitable[None]]
    queued_still: Callable[[Run], Awaitable[bool]]  # whether a run is still queued where it is kept


@asynccontextmanager
async def here() -> AsyncIterator[Running]:
    settings = make_settings(max_concurrent_runs=1)
    lab = Lab(settings, SLEEPS, Renderer(environment()), engine=engines.embedded(settings, SLEEPS))
    await lab.open()
    shut: list[bool] = []

    async def shutdown() -> None:  # the server's, once
        if not shut:
            shut.append(True)
            await lab.shutdown()

    async def queued_still(run: Run) -> bool:
        stored = await lab.store.find(run.id)
        return stored is not None and stored.status == Status.QUEUED

    try:
        yield Running(lab, shutdown, queued_still)
    finally:
        await shutdown()
        await lab.store.close()


@asynccontextmanager
async def on_nodes(url: str) -> AsyncIterator[Running]:
    settings = make_settings(redis_url=url, node_ttl_s=2.0)
    redis = redis_connection.client(settings)
    lab = Lab(settings, SLEEPS, Renderer(environment()), engine=engines.distributed(settings, SLEEPS, redis))
    await lab.open()
    node_redis = redis_connection.connect(url)
    node = Node(node_redis, settings, SLEEPS, (), "node-a")
    serving = asyncio.create_task(node.serve())

    async def stop_node() -> None:
        node.stop()
        await serving

    async def queued_still(run: Run) -> bool:
        doc = await redis_queue.state(redis, run.id)
        return doc is not None and doc["status"] == Status.QUEUED

    try:
        yield Running(lab, stop_node, queued_still)
    finally:
        if not serving.done():
            await stop_node()
        await lab.shutdown()
        await lab.store.close()
        await redis.aclose()
        await node_redis.aclose()


@pytest.fixture(params=["here", "on nodes"])
def executing(request: pytest.FixtureRequest) -> Callable[[], object]:
    if request.param == "here":
        return here
    url = request.getfixturevalue("redis_server").url
    return lambda: on_nodes(url)


def start(lab: Lab, experiment: Experiment, params: dict[str, int]) -> Run:
    return lab.start(experiment, params, "owner-1")


async def reaches(store: RunStorage, run: Run, *statuses: Status, timeout: float = 30) -> Run:
    """The run as the lab's store has it once it is in one of `statuses`."""

    def found() -> Run | None:
        stored = store.get(run.id)
        return stored if stored is not None and stored.status in statuses else None

    reached: Run | None = await until_async(
        found, timeout=timeout, what=f"run {run.id} {'/'.join(statuses)}", every=0.02
    )
    assert reached is not None
    return reached


def test_a_run_started_executes_and_ends(executing):
    async def go() -> None:
        async with executing() as running:
            run = start(running.lab, SLEEPER, SHORT)
            await running.lab.store.flush()
            ended = await reaches(running.lab.store, run, *(s for s in Status if s.finished))
            assert ended.status == Status.DONE, ended.error
            assert ended.started_at is not None and ended.timeline.lanes

    asyncio.run(go())


def test_a_cancel_stops_the_run_executing_and_ends_a_queued_one_at_once(executing):
    async def go() -> None:
        async with executing() as running:
            lab = running.lab
            first, second = start(lab, SLEEPER, LONG), start(lab, SLEEPER, LONG)
            await lab.store.flush()
            await reaches(lab.store, first, Status.RUNNING)
            await lab.cancel(second)
            assert second.status == Status.CANCELLED and second.error == "cancelled while queued"
            assert lab.position(second) is None
            await lab.cancel(first)
            stopped = await reaches(lab.store, first, Status.CANCELLED, Status.FAILED, Status.INTERRUPTED)
            assert stopped.status == Status.CANCELLED, stopped.error

    asyncio.run(go())


def test_stopping_what_executes_interrupts_the_run_executing_and_leaves_the_queued_one_queued(executing):
    async def go() -> None:
        async with executing() as running:
            lab = running.lab
            first, second = start(lab, SLEEPER, LONG), start(lab, SLEEPER, LONG)
            await lab.store.flush()
            await reaches(lab.store, first, Status.RUNNING)
            await running.stop_executing()
            stopped = await reaches(lab.store, first, *(s for s in Status if s.finished))
            assert stopped.status == Status.INTERRUPTED, stopped.error
            assert await running.queued_still(second), (
                "a run that never started stays queued for the next server or node"
            )
            assert second.started_at is None

    asyncio.run(go())
