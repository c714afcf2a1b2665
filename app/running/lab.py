"""The lab: start runs (admitted from a FIFO queue, app/running/admission.py) and sweeps of them, find them,
cancel them, stop them all.

A run started here is a LiveRun until it has ended and its last frame is out: the one place that holds it
with its live feed and its admission. Which live runs are queued or executing is the queue's to say."""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from app.drawing.broadcast import Broadcast
from app.drawing.render import Renderer
from app.drawing.seams import LiveFeed
from app.drawing.sweeps import Point, Sweep
from app.model.experiments import Experiment
from app.model.runs import Place, Run
from app.model.status import Status
from app.running.admission import Admission
from app.running.limits import Client, Limits, Load, Refusal
from app.running.pythons import Interpreter
from app.running.runners import WarmRunner
from app.running.seams import Queue
from app.running.supervisor import execute_or_fail
from app.settings import Settings
from app.storage.seams import RunStorage
from app.storage.store import RunStore
from app.storage.sweep_store import SweepStore

log = logging.getLogger(__name__)


@dataclass
class LiveRun:
    """A run this process started, from its request until it has ended and its last frame is out."""

    run: Run
    feed: LiveFeed  # its frames for the viewers of its page
    admitted: asyncio.Event = field(default_factory=asyncio.Event)  # set once it may start, or was cancelled waiting


class Lab:
    def __init__(self, settings: Settings, experiments: dict[str, Experiment], renderer: Renderer,
                 interpreters: tuple[Interpreter, ...] = ()):
        self.settings = settings
        self.interpreters = interpreters  # what a run's `python` param may choose (app/running/pythons.py)
        self.experiments = experiments
        self.renderer = renderer
        # The embedded implementations of the seams (app/*/seams.py); nothing below asks which it holds.
        store = RunStore(settings.database, experiments, int(settings.max_log_mb * 1_000_000))
        self.store: RunStorage = store
        self.sweeps = SweepStore(store.db)
        self._live: dict[str, LiveRun] = {}  # by run id: added in start(), removed in _live_through()
        self._tasks: set[asyncio.Task[None]] = set()
        self.admission: Queue[str] = Admission(settings.max_concurrent_runs)
        self._stopping = False
        self.limits = Limits(settings)
        self.warm_runner = WarmRunner(settings)
        self.warm_runner.start_next()  # the first run's runner

    async def request(self, experiment: Experiment, params: dict[str, Any], client: Client, admin: bool = False) -> Run | Refusal:
        """Start a run for `client` if the fair-use limits (app/running/limits.py) allow it, else say which refuses it."""
        refusal = await self._allow(experiment, 1, client, admin)
        return refusal or self.start(experiment, params, client.id)

    async def sweep(self, experiment: Experiment, base: dict[str, Any], vary: dict[str, list[Any]],
              points: list[dict[str, Any]], client: Client, admin: bool = False) -> Sweep | Refusal:
        """Queue a run per point (checked by app/drawing/sweeps.py expand) as one request: the limits are asked
        once whether they hold all of them, so none of its own points is refused later."""
        refusal = await self._allow(experiment, len(points), client, admin)
        if refusal is not None:
            return refusal
        sweep_id = self.sweeps.new_id()
        runs = [self.start(experiment, params, client.id, sweep_id) for params in points]
        sweep = Sweep(sweep_id, experiment.id, base, vary, tuple(Point(run.params, run.id) for run in runs),
                      client.id, time.time())
        self.sweeps.save(sweep)
        return sweep

    async def _allow(self, experiment: Experiment, runs: int, client: Client, admin: bool) -> Refusal | None:
        """Whether `client` may start a request of `runs` runs now; counted against its rate if so."""
        load = Load(self.admission.would_queue(runs, experiment.measures_time), self.queued,
                    self.in_flight_of(client.id))
        return await self.limits.admit(client, load, admin, runs)

    def start(self, experiment: Experiment, params: dict[str, Any], owner: str = "", sweep: str | None = None) -> Run:
        run = self.store.create(experiment, params, owner, sweep)
        live = LiveRun(run, Broadcast(run, self.renderer, self.settings.frame_rate))
        self._live[run.id] = live
        self.admission.enqueue(run.id, experiment.measures_time)
        self._admit()
        task = asyncio.create_task(self._live_through(live))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return run

    async def _live_through(self, live: LiveRun) -> None:
        """Execute the run and feed its viewers, side by side; once both are over it is live no more, and
        a finished run is served from the store (sockets already open keep their feed)."""
        run = live.run
        try:
            outcomes = await asyncio.gather(self._execute(live), live.feed.produce(), return_exceptions=True)
        finally:
            del self._live[run.id]
        for part, outcome in zip(("its execution", "its live feed"), outcomes):
            if isinstance(outcome, Exception):
                log.error("run %s (%s): %s failed", run.id, run.experiment.id, part, exc_info=outcome)

    def feed(self, run_id: str) -> LiveFeed | None:
        """A live run's feed; None once a finished run's last frame is out (or it was never live here)."""
        live = self._live.get(run_id)
        return live.feed if live is not None else None

    # Queue state, for pages and limits
    def position(self, run: Run) -> int | None:
        """1-based place of a queued run in the queue, None once it executes (or never queued)."""
        return self.admission.position(run.id)

    def place(self, run: Run) -> Place | None:
        position = self.position(run)
        return None if position is None else Place(position, len(self.admission.executing))

    @property
    def queued(self) -> int:
        return self.admission.queued

    @property
    def executing(self) -> int:
        return len(self.admission.executing)

    @property
    def in_flight(self) -> int:
        """Runs queued or executing: what the limits count."""
        return self.queued + self.executing

    def in_flight_of(self, owner: str) -> int:
        """The client's requests queued or executing: a run, or a sweep (one, however many of its runs)."""
        return len({run.sweep or run.id for run in self._in_flight_runs() if run.owner == owner})

    def _in_flight_runs(self) -> list[Run]:
        """The runs queued or executing, as the queue has them."""
        return [self._live[run_id].run for run_id in (*self.admission.executing, *self.admission.queue)]

    def _admit(self) -> None:
        """Start what may start, then tell every run still queued where it now stands."""
        if self._stopping:  # shutdown never starts a queued run
            return
        for run_id in self.admission.admit():
            self._live[run_id].admitted.set()
        executing = [self._live[run_id].run for run_id in self.admission.executing]
        for run in executing:
            run.ran_beside(len(executing) - 1)
        for run_id in self.admission.queue:
            run = self._live[run_id].run
            run.place = self.place(run)
            run.changed.set()  # its page's socket sends the new position

    async def _execute(self, live: LiveRun) -> None:
        run = live.run
        try:
            await live.admitted.wait()
            if run.finished:  # cancelled while it waited
                return
            run.place = None
            await execute_or_fail(run, self.settings, self.warm_runner, self.interpreters)
        finally:
            self.admission.finish(run.id)
            if not self._stopping:
                self.warm_runner.start_next()  # now, not as the next run starts: see app/running/runners.py
            self._admit()

    def cancel(self, run: Run) -> None:
        if run.status == Status.QUEUED:
            if self.admission.position(run.id) is not None:  # still in the queue (not admitted, about to start)
                self.admission.remove(run.id)  # counts no more against its client's limit, at once
            run.place = None
            run.finish(run.stop_as, "cancelled while queued" if run.stop_as == Status.CANCELLED else "the server stopped before it started")
            live = self._live.get(run.id)
            if live is not None:
                live.admitted.set()  # its execution wakes, sees it finished, and ends
            self._admit()
        run.cancel_requested.set()

    async def shutdown(self) -> None:
        """Stop every run (their process groups are killed) before the server exits; start none. They end
        `interrupted`: nobody cancelled them, and their page and the history say the server stopped."""
        self._stopping = True
        for run in self._in_flight_runs():
            run.stop_as = Status.INTERRUPTED
            self.cancel(run)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=self.settings.cancel_grace_s + 5)
        for task in list(self._tasks):
            task.cancel()
        await self.warm_runner.close()
