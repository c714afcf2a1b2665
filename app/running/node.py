"""A runner node (`concurrency-lab worker`): take runs from Redis one at a time and run each as the lab does.

The node reads the queue `lab:runs` as a consumer of the group `nodes` (app/storage/redis_formats.py), one
entry at a time (XREADGROUP COUNT 1, and only when idle): the queue stays FIFO across nodes, and a run that
measures time runs alone on its node. Each run goes through the embedded lab's own path: a Run, the
supervisor's `execute` on a WarmRunner (the same runner, sandboxing, limits and sampler), reporting to a
RedisJournal instead of the SQLite store. Once its end is written, the entry is acknowledged and deleted (one
transaction): the queue holds only runs in flight.

Beside the run, two loops: the heartbeat (`lab:node:{name}`, a TTL of LAB_NODE_TTL_S, refreshed every
third of it), whose expiry tells the reaper (app/storage/redis_reaper.py) the node died, and which notes where the
run it runs was last seen (`lab:run:{id}:seen`, its monotonic clock); and the cancel watch,
which looks for the run's cancel request every CANCEL_POLL_S and sets `run.cancel_requested`, as the
embedded cancel does. SIGTERM (or SIGINT) stops the node as the embedded server's shutdown stops the lab:
its run ends `interrupted`, its process group killed, and it takes no other.

A job that cannot run (another version, an unknown experiment, params out of bounds) ends its run `failed`,
saying why; the node goes on.

Its Redis commands are app/storage's (redis_nodes.py, redis_queue.py, redis_reaper.py): this module is the loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time

from app.model.experiments import Experiment, catalogue
from app.model.own_experiments import add_own, report
from app.model.runs import Run
from app.model.status import Status
from app.running import pythons
from app.running.pythons import Interpreter
from app.running.runners import WarmRunner
from app.running.supervisor import execute_or_fail
from app.settings import Settings
from app.storage import redis_formats as formats
from app.storage import redis_nodes
from app.storage.redis_connection import Redis, connect
from app.storage.redis_formats import RUNS, Job, JobError, read_job
from app.storage.redis_journal import RedisJournal
from app.storage.redis_queue import ack_and_delete, ensure_group, state
from app.storage.redis_reaper import reap, reap_own
from experiments.harness.params import ParamError, validate

log = logging.getLogger(__name__)
READ_BLOCK_MS = 500  # how long a read of the queue waits for a job: how soon an idle node notices SIGTERM


def default_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Node:
    def __init__(
        self,
        redis: Redis,
        settings: Settings,
        experiments: dict[str, Experiment],
        interpreters: tuple[Interpreter, ...],
        name: str,
    ):
        self.redis, self.settings, self.experiments, self.interpreters, self.name = (
            redis,
            settings,
            experiments,
            interpreters,
            name,
        )
        self.journal = RedisJournal(redis, name, int(settings.max_log_mb * 1_000_000))
        self.warm_runner = WarmRunner(settings)
        self.stopping = asyncio.Event()
        self.run: Run | None = None  # the run it runs now

    async def serve(self) -> None:
        """Take and run jobs until `stopping` is set; then end the run it has `interrupted` and leave."""
        await ensure_group(self.redis)
        await reap_own(self.redis, self.name)  # before its heartbeat: what its previous life left
        await self._beat()
        heartbeat = asyncio.create_task(self._heartbeat())
        self.warm_runner.start_next()
        log.info("node %s: taking runs from %s", self.name, RUNS)
        try:
            while not self.stopping.is_set():
                await reap(self.redis, self.settings.node_ttl_s, reaper=self.name)
                for entry_id, fields in await redis_nodes.take(self.redis, self.name, READ_BLOCK_MS):
                    await self._take(entry_id, fields)
        finally:
            heartbeat.cancel()
            await self.journal.close()
            await self.warm_runner.close()
            try:
                await redis_nodes.leave(self.redis, self.name)
            except Exception:  # Redis gone: its heartbeat expires by itself
                log.warning("node %s: could not take its heartbeat down", self.name, exc_info=True)

    def stop(self) -> None:
        """As the embedded shutdown: the run it runs ends `interrupted` (its process group killed); no other starts."""
        self.stopping.set()
        if self.run is not None and not self.run.finished:
            self.run.stop_as = Status.INTERRUPTED
            self.run.stopped_by = f"the runner node {self.name}"
            self.run.cancel_requested.set()

    async def _take(self, entry_id: bytes, fields: dict[bytes, bytes]) -> None:
        run = self._run_of(fields)
        if run is not None and await self._ended_already(run.id):
            run = None  # a job queued twice, or a queued run its web side ended (cancelled): never run it again
        if run is not None:
            run.journal = self.journal
            if self.stopping.is_set():  # taken as SIGTERM came: it never starts
                run.finish(Status.INTERRUPTED, "the node stopped before it started")
            elif await redis_nodes.cancel_requested(self.redis, run.id):
                run.finish(Status.CANCELLED, "cancelled while queued")
            else:
                await self._execute(run)
        await self.journal.flush()
        await ack_and_delete(self.redis, entry_id)  # its end is written: it is never taken again, nor in flight

    async def _ended_already(self, run_id: str) -> bool:
        doc = await state(self.redis, run_id)
        if doc is not None and Status(doc["status"]).finished:
            log.warning("node %s: run %s has already ended %s: not run again", self.name, run_id, doc["status"])
            return True
        return False

    def _run_of(self, fields: dict[bytes, bytes]) -> Run | None:
        """The run a job asks for, queued; a job that cannot run is ended `failed` here, saying why (None
        if it has no run id to write that to)."""
        job: Job | None = None
        try:
            job = read_job(fields)
            experiment = self.experiments.get(job.experiment)
            if experiment is None:
                raise JobError(
                    f"unknown experiment {job.experiment!r}: this node has {', '.join(sorted(self.experiments))}",
                    job.run,
                )
            try:
                params = validate(experiment.params, job.params)
            except ParamError as exc:
                raise JobError(f"bad params: {exc}", job.run) from None
            return Run(job.run, experiment, params, job.owner, job.sweep, created_at=job.created_at)
        except JobError as exc:
            log.warning("node %s: a job that cannot run (run %s): %s", self.name, exc.run, exc)
            if exc.run is None:
                return None
            failed = formats.run_of_job(job) if job is not None else formats.run_of_job(Job(exc.run, "", {}))
            failed.journal = self.journal
            failed.finish(Status.FAILED, f"the job could not run: {exc}")
            return None

    async def _execute(self, run: Run) -> None:
        """As the embedded lab's `_execute`: the supervisor runs it; what it could not start fails the run."""
        self.run = run
        if self.stopping.is_set():  # SIGTERM came while it was being taken: `stop` did not see it
            self.stop()
        await self._beat()
        watch = asyncio.create_task(self._watch_cancel(run))
        try:
            await execute_or_fail(run, self.settings, self.warm_runner, self.interpreters)
        finally:
            watch.cancel()
            self.run = None
            if not self.stopping.is_set():
                self.warm_runner.start_next()  # now, not as the next run starts: see app/running/runners.py

    async def _watch_cancel(self, run: Run) -> None:
        while not run.cancel_requested.is_set():
            await asyncio.sleep(formats.CANCEL_POLL_S)
            try:
                if await redis_nodes.cancel_requested(self.redis, run.id):
                    run.cancel_requested.set()  # stop_as is still CANCELLED: the supervisor ends it so
            except Exception:  # Redis unreachable for a moment: look again
                log.warning("node %s: could not look for a cancel of run %s", self.name, run.id, exc_info=True)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.settings.node_ttl_s / 3)
            try:
                await self._beat()
            except Exception:  # Redis unreachable for a moment: beat again
                log.warning("node %s: could not beat", self.name, exc_info=True)

    async def _beat(self) -> None:
        """The node's heartbeat and, while it runs a run, where the run was last seen running (the clock its
        events are stamped with): a reaper cuts its open spans there if the node dies."""
        run_id = self.run.id if self.run is not None else None
        doc = formats.heartbeat_doc(self.name, socket.gethostname(), os.getpid(), run_id, time.time())
        await redis_nodes.beat(self.redis, self.name, formats.dumps(doc), int(self.settings.node_ttl_s * 1000), run_id)


async def work(settings: Settings, name: str, modules: tuple[str, ...]) -> None:
    """Be a node until SIGTERM or SIGINT: the experiments of `modules`, on the interpreters the lab offers."""
    interpreters = await asyncio.to_thread(pythons.offered, settings.python, settings.pythons)
    lab_params = (pythons.param(interpreters),)
    # The teacher's own too, as the web side lists them: LAB_EXPERIMENTS_DIR must hold the same files here.
    experiments, problems = add_own(
        catalogue(modules, pythons.lab_params(interpreters)), settings.experiments_dir, lab_params
    )
    report(settings.experiments_dir, experiments, problems)
    redis = connect(settings.redis_url or "redis://127.0.0.1:6379/0")
    node = Node(redis, settings, experiments, interpreters, name)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, node.stop)
    try:
        await node.serve()
    finally:
        await redis.aclose()
