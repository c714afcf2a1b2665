"""Where the lab keeps its runs and who executes them: the embedded engine (one process) or the distributed one
(Redis and runner nodes, LAB_REDIS_URL). The lab (app/running/lab.py) holds one and never asks which.

Each is the seams (app/*/seams.py) implemented once: a run store, a sweep store and a queue; and what executes
runs here, if anything: the embedded lab executes them on its WarmRunner; a web replica leaves them to the
runner nodes (app/running/node.py), asks Redis to cancel, and reaps the runs of nodes that died.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.model.experiments import Experiment
from app.model.runs import Run
from app.running.admission import Admission
from app.running.limits import Rates
from app.running.node_queue import NodeQueue
from app.running.ratelimit import Guesses, MemoryGuesses
from app.running.reaper import reap
from app.running.redis_rates import RedisGuesses, RedisRates
from app.running.runners import WarmRunner
from app.running.seams import Queue
from app.settings import Settings
from app.storage.lab_secret import file_secret, redis_secret, secret_file
from app.storage.pins import MemoryPin, Pin, RedisPin
from app.storage.redis_formats import GROUP, RUNS
from app.storage.redis_store import FOLLOW_BLOCK_MS, RedisRunStore
from app.storage.redis_sweeps import RedisSweeps
from app.storage.redis_writer import OrderedWriter
from app.storage.seams import RunStorage, SweepStorage
from app.storage.store import RunStore
from app.storage.sweep_store import SweepStore

log = logging.getLogger(__name__)


@dataclass
class Engine:
    """What a lab is made of: where its runs and sweeps are kept, its queue, who executes its runs, and the
    state its processes share (the fair-use windows, the pin)."""

    store: RunStorage
    sweeps: SweepStorage
    queue: Queue[str]
    runner: WarmRunner | None  # None: runner nodes execute the runs
    stop_elsewhere: Callable[[Run], Awaitable[None]] | None = None  # how a run executed elsewhere is cancelled
    rates: Rates | None = None  # the fair-use windows (None: this process's, app/running/limits.py)
    pin: Pin = field(default_factory=MemoryPin)  # the run the teacher pinned to every home page
    queue_moved: Callable[[], Awaitable[None]] | None = None  # until the queue may have moved elsewhere
    background: tuple[Callable[[], Awaitable[None]], ...] = field(default=())  # tasks while the lab is open
    secret: Callable[[], Awaitable[bytes]] | None = None  # the key that signs client cookies (app/storage/lab_secret.py)
    guesses: Guesses = field(default_factory=MemoryGuesses)  # wrong admin tokens per address (app/web/auth.py)


def embedded(settings: Settings, experiments: dict[str, Experiment]) -> Engine:
    """One process: SQLite, a FIFO queue in memory, runs executed here."""
    store = RunStore(settings.database, experiments, int(settings.max_log_mb * 1_000_000))

    async def secret() -> bytes:
        return await asyncio.to_thread(file_secret, secret_file(settings.database))

    return Engine(store, SweepStore(store.db), Admission(settings.max_concurrent_runs), WarmRunner(settings),
                  secret=secret)


def redis_client(settings: Settings) -> Redis:
    """A web replica's client of LAB_REDIS_URL. Every run in flight holds a connection while it is followed
    (a blocked XREAD): the pool must hold them all beside the requests' (redis-py's default stops at 100).
    A Redis host that vanishes without a word is found out by the timeouts, not waited for."""
    assert settings.redis_url is not None
    return Redis.from_url(settings.redis_url, max_connections=4 * settings.max_queued_runs + 200,
                          socket_connect_timeout=5, socket_timeout=FOLLOW_BLOCK_MS / 1000 + 10,
                          health_check_interval=30)


def distributed(settings: Settings, experiments: dict[str, Experiment], redis: Redis) -> Engine:
    """A web replica: runs and sweeps in Redis, executed by the runner nodes."""
    writer = OrderedWriter()  # runs, sweeps and cancels reach Redis in the order they were made
    store = RedisRunStore(redis, experiments, writer=writer)
    name = f"web-{socket.gethostname()}-{os.getpid()}"

    async def reap_dead_nodes() -> None:
        """The runs of nodes whose heartbeat expired end `interrupted` (every replica looks; one wins each)."""
        while True:
            await asyncio.sleep(settings.node_ttl_s / 3)
            try:
                if await reap(redis, settings.node_ttl_s, reaper=name):
                    await redis.xgroup_delconsumer(RUNS, GROUP, name)  # it claimed and acked them: nothing pending
            except RedisError:
                log.warning("Redis unreachable: dead nodes are not reaped now", exc_info=True)

    return Engine(store, RedisSweeps(redis, writer), NodeQueue(store), None, store.cancel, RedisRates(redis, settings),
                  RedisPin(redis), store.next_poll, (reap_dead_nodes,), lambda: redis_secret(redis), RedisGuesses(redis))
