"""Where the lab keeps its runs and who executes them: the embedded engine (one process) or the distributed one
(Redis and runner nodes, LAB_REDIS_URL). The lab (app/running/lab.py) holds one and never asks which.

Each is the seams (app/*/seams.py) implemented once: a run store, a sweep store, a lesson store, a queue and an
execution.
The embedded lab executes its runs here, on a WarmRunner (app/running/execute_here.py); a web replica leaves
them to the runner nodes (app/running/node.py), asks Redis to cancel, and reaps the runs of nodes that died
(app/running/execute_on_nodes.py).
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from app.model.experiments import Experiment
from app.running.admission import Admission
from app.running.execute_here import ExecuteHere
from app.running.execute_on_nodes import ExecuteOnNodes
from app.running.limits import MemoryRates, Rates
from app.running.node_queue import NodeQueue
from app.running.pythons import Interpreter
from app.running.ratelimit import Guesses, MemoryGuesses
from app.running.redis_rates import RedisGuesses, RedisRates
from app.running.seams import Execution, Queue
from app.settings import Settings
from app.storage.lab_secret import file_secret, redis_secret, secret_file
from app.storage.lesson_store import LessonStore
from app.storage.pins import MemoryPin, Pin, RedisPin
from app.storage.redis_connection import Redis
from app.storage.redis_lessons import RedisLessons
from app.storage.redis_store import RedisRunStore
from app.storage.redis_sweeps import RedisSweeps
from app.storage.redis_writer import OrderedWriter
from app.storage.seams import LessonStorage, RunStorage, SweepStorage
from app.storage.store import RunStore
from app.storage.sweep_store import SweepStore


@dataclass
class Engine:
    """What a lab is made of: where its runs, sweeps and lessons are kept, its queue, where its runs execute, and
    the state its processes share (the fair-use windows, the pin)."""

    store: RunStorage
    sweeps: SweepStorage
    lessons: LessonStorage  # the lessons a class was given: the live one, and the record of each
    queue: Queue[str]
    execution: Execution
    rates: Rates  # the fair-use windows (app/running/limits.py)
    secret: Callable[[], Awaitable[bytes]]  # the key that signs client cookies (app/storage/lab_secret.py)
    pin: Pin = field(default_factory=MemoryPin)  # the run the teacher pinned to every home page
    guesses: Guesses = field(default_factory=MemoryGuesses)  # wrong admin tokens per address (app/web/auth.py)


def embedded(
    settings: Settings, experiments: dict[str, Experiment], interpreters: tuple[Interpreter, ...] = ()
) -> Engine:
    """One process: SQLite, a FIFO queue in memory, runs executed here (on `interpreters`, app/running/pythons.py)."""
    store = RunStore(settings.database, experiments, int(settings.max_log_mb * 1_000_000))

    async def secret() -> bytes:
        return await asyncio.to_thread(file_secret, secret_file(settings.database))

    return Engine(
        store,
        SweepStore(store.db),
        LessonStore(store.db),
        Admission(settings.max_concurrent_runs),
        ExecuteHere(settings, interpreters),
        MemoryRates(settings),
        secret,
    )


def distributed(settings: Settings, experiments: dict[str, Experiment], redis: Redis) -> Engine:
    """A web replica: runs, sweeps and lessons in Redis, runs executed by the runner nodes."""
    writer = OrderedWriter()  # runs, sweeps and cancels reach Redis in the order they were made
    store = RedisRunStore(redis, experiments, writer=writer)
    execution = ExecuteOnNodes(store, settings.node_ttl_s, f"web-{socket.gethostname()}-{os.getpid()}")
    return Engine(
        store,
        RedisSweeps(redis, writer),
        RedisLessons(redis),
        NodeQueue(store),
        execution,
        RedisRates(redis, settings),
        lambda: redis_secret(redis),
        RedisPin(redis),
        RedisGuesses(redis),
    )
