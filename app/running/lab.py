"""The lab: start runs (admitted from a FIFO queue, app/running/admission.py) and sweeps of them, find them,
cancel them, stop them all.

A run started here is a LiveRun until it has ended and its last frame is out: the one place that holds it
with its live feed and its admission. Which live runs are queued or executing is the queue's to say.

Where runs are kept and where they execute is the engine's (app/running/engines.py), chosen once: this
process, or the runner nodes of a distributed lab (the Execution seam, app/running/seams.py). Every run
started here takes the same path: queued, live, handed to the execution once the queue admits it, and its
execution here waits no more once it ended, however it ended. In a distributed lab a run another replica
started is live here too, once anyone asks for its feed: its mirror (app/storage/redis_store.py) is drawn
as a local run is."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from app.drawing.broadcast import Broadcast
from app.drawing.render import Renderer
from app.drawing.seams import LiveFeed
from app.model.experiments import Experiment
from app.model.runs import Place, Run
from app.model.status import Status
from app.model.sweeps import Point, Sweep
from app.model.tasks import cancel_for_good
from app.running.engines import Engine, embedded
from app.running.limits import Client, Limits, Load, Refusal
from app.running.pythons import Interpreter
from app.running.retention import retain
from app.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class LiveRun:
    """A run this process started, from its request until it has ended and its last frame is out."""

    run: Run
    feed: LiveFeed  # its frames for the viewers of its page
    admitted: asyncio.Event = field(default_factory=asyncio.Event)  # set once it may start, or was cancelled waiting
    tasks: list[asyncio.Task[None]] = field(default_factory=list)  # its feed, and its execution


class Lab:
    def __init__(
        self,
        settings: Settings,
        experiments: dict[str, Experiment],
        renderer: Renderer,
        interpreters: tuple[Interpreter, ...] = (),
        engine: Engine | None = None,
    ):
        self.settings = settings
        self.interpreters = interpreters  # what a run's `python` param may choose (app/running/pythons.py)
        self.experiments = experiments
        self.renderer = renderer
        self.engine = engine or embedded(settings, experiments, interpreters)
        self.store, self.sweeps, self.admission = self.engine.store, self.engine.sweeps, self.engine.queue
        self.execution = self.engine.execution
        self._live: dict[str, LiveRun] = {}  # by run id: added in start() or feed(), removed in _live_through()
        self._executing: dict[str, LiveRun] = {}  # by run id: handed to the execution, which has not returned yet
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._retention: asyncio.Task[None] | None = None
        self.limits = Limits(settings, rates=self.engine.rates)
        self._admitting = asyncio.Lock()  # one request at a time from its limits to its runs queued
        self.execution.ready()  # for the first run

    async def open(self) -> None:
        """Ready to serve: the stores opened (runs the last server left running are marked interrupted, runs it
        left queued are queued again, in their order, ahead of any new one), the engine's tasks started."""
        left_queued = await self.store.open()
        await self.sweeps.open()
        await self.engine.lessons.open()  # the lesson left live is held again
        if (
            self.settings.retain_days is not None
        ):  # at start, then daily; not a run's task: shutdown waits for none of it
            self._retention = asyncio.create_task(
                retain(self.settings.retain_days, self.store, self.sweeps, self.engine.lessons)
            )
        for run in left_queued:
            self._queue_again(run)
        self._spawn(self.execution.serve())
        self._spawn(self._tell_places())

    async def _tell_places(self) -> None:
        """Runs queued elsewhere, or taken by a node, move the line: each queued run is told where it stands."""
        while True:
            await self.execution.moved()
            self._admit()

    async def request(
        self, experiment: Experiment, params: dict[str, Any], client: Client, admin: bool = False
    ) -> Run | Refusal:
        """Start a run for `client` if the fair-use limits (app/running/limits.py) allow it, else say which refuses it."""
        async with self._admitting:
            refusal = await self._allow(experiment, 1, client, admin)
            if refusal is not None:
                return refusal
            run = self.start(experiment, params, client.id)
        await self.store.flush()  # found from any replica once answered
        return run

    async def sweep(
        self,
        experiment: Experiment,
        base: dict[str, Any],
        vary: dict[str, list[Any]],
        points: list[dict[str, Any]],
        client: Client,
        admin: bool = False,
    ) -> Sweep | Refusal:
        """Queue a run per point (checked by app/drawing/sweeps.py expand) as one request: the limits are asked
        once whether they hold all of them, so none of its own points is refused later."""
        async with self._admitting:
            refusal = await self._allow(experiment, len(points), client, admin)
            if refusal is not None:
                return refusal
            sweep_id = self.sweeps.new_id()
            runs = [self.start(experiment, params, client.id, sweep_id) for params in points]
        sweep = Sweep(
            sweep_id,
            experiment.id,
            base,
            vary,
            tuple(Point(run.params, run.id) for run in runs),
            client.id,
            time.time(),
        )
        self.sweeps.save(sweep)
        await self.store.flush()
        return sweep

    async def _allow(self, experiment: Experiment, runs: int, client: Client, admin: bool) -> Refusal | None:
        """Whether `client` may start a request of `runs` runs now; counted against its rate if so. Asked under
        `_admitting`: the limits may wait on a shared store (app/running/redis_rates.py), and two requests of
        one client must not both count its runs in flight before either is queued."""
        await self.admission.refresh()  # runs other replicas queued, counted too
        load = Load(
            self.admission.would_queue(runs, experiment.measures_time), self.queued, self.in_flight_of(client.id)
        )
        return await self.limits.admit(client, load, admin, runs)

    def start(self, experiment: Experiment, params: dict[str, Any], owner: str = "", sweep: str | None = None) -> Run:
        run = self.store.create(experiment, params, owner, sweep)
        self._enqueue(run)
        return run

    def _enqueue(self, run: Run) -> None:
        live = self._go_live(run)
        self.admission.enqueue(run.id, run.experiment.measures_time)
        self._admit()
        live.tasks.append(self._spawn(self._execute(live)))

    def _queue_again(self, run: Run) -> None:
        """A run the last server left queued (it never started): queued again, live, so a page still open on
        it follows it once its socket reconnects. One of an experiment this server no longer has cannot run."""
        if run.experiment.id not in self.experiments:
            run.finish(
                Status.INTERRUPTED, "the server stopped before it started, and this server no longer has its experiment"
            )
            return
        self._enqueue(run)

    def _go_live(self, run: Run) -> LiveRun:
        live = LiveRun(run, Broadcast(run, self.renderer, self.settings.frame_rate))
        self._live[run.id] = live
        live.tasks.append(self._spawn(self._live_through(live)))
        return live

    def _spawn(self, work: Awaitable[None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a task of the lab failed", exc_info=task.exception())

    async def _live_through(self, live: LiveRun) -> None:
        """Feed the run's viewers until its last frame is out; then it is live no more, and a finished run is
        served from the store (sockets already open keep their feed)."""
        try:
            await live.feed.produce()
        except Exception:
            log.exception("run %s (%s): its live feed failed", live.run.id, live.run.experiment.id)
        finally:
            del self._live[live.run.id]
            if live.run.finished:  # ended elsewhere (its node ended it, or Redis took it off the queue) or here
                live.admitted.set()  # its execution waits no more

    def feed(self, run_id: str) -> LiveFeed | None:
        """A live run's feed; None once a finished run's last frame is out (or it is not in flight). A run
        executed elsewhere (another replica started it) goes live here as it is asked for."""
        live = self._live.get(run_id)
        if live is None:
            run = self.store.get(run_id)
            if run is None or run.finished:
                return None
            live = self._go_live(run)
        return live.feed

    # Queue state, for pages and limits
    def position(self, run: Run) -> int | None:
        """1-based place of a queued run in the queue, None once it executes (or never queued)."""
        return self.admission.position(run.id)

    def place(self, run: Run) -> Place | None:
        position = self.position(run)
        return None if position is None else self.execution.place(position, len(self.admission.executing))

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
        runs = (self.store.get(run_id) for run_id in (*self.admission.executing, *self.admission.queue))
        return [run for run in runs if run is not None]

    def _admit(self) -> None:
        """Start what may start, then tell every run still queued where it now stands."""
        if self._stopping:  # shutdown never starts a queued run
            return
        for run_id in self.admission.admit():
            live = self._live.get(run_id)
            if live is not None:  # gone only if its feed failed: its execution still waits for this
                live.admitted.set()
        executing = [self._live[run_id].run for run_id in self.admission.executing if run_id in self._live]
        self.execution.executing_together(executing)
        for run_id in self.admission.queue:
            queued = self.store.get(run_id)
            if queued is not None and queued.place != (place := self.place(queued)):
                queued.place = place
                queued.changed.set()  # its page's socket sends the new position

    async def _execute(self, live: LiveRun) -> None:
        run = live.run
        try:
            await live.admitted.wait()
            # cancelled while it waited, or ended on a node; or never started here: it stays queued
            if run.finished or self._stopping:
                return
            run.place = None
            self._executing[run.id] = live
            await self.execution.execute(run)
        finally:
            self._executing.pop(run.id, None)
            self.admission.finish(run.id)
            if not self._stopping:
                self.execution.ready()  # for the next run, now it ended
            self._admit()

    async def cancel(self, run: Run) -> None:
        await self.execution.stop(run, self._withdraw)

    def _withdraw(self, run: Run) -> None:
        """A run still queued in the lab's own queue (or admitted, about to start) ends now, having never started."""
        if self.admission.position(run.id) is not None:  # still in the queue (not admitted, about to start)
            self.admission.remove(run.id)  # counts no more against its client's limit, at once
        run.place = None
        run.finish(
            run.stop_as,
            "cancelled while queued" if run.stop_as == Status.CANCELLED else "the server stopped before it started",
        )
        live = self._live.get(run.id)
        if live is not None:
            live.admitted.set()  # its execution wakes, sees it finished, and ends
        self._admit()

    async def shutdown(self) -> None:
        """Stop every run (their process groups are killed) before the server exits; start none. They end
        `interrupted`: nobody cancelled them, and their page and the history say the server stopped. Runs still
        queued stay queued, stored so: the next server queues them again (open)."""
        self._stopping = True
        if self._retention is not None:
            self._retention.cancel()
        # Only runs executing here: a run still queued never started (it stays queued, and the next server queues
        # it again); runs executed elsewhere go on, served by the other replicas.
        stopping = [live for live in self._executing.values() if live.run.status != Status.QUEUED]
        for live in stopping:
            live.run.stop_as = Status.INTERRUPTED
            await self.cancel(live.run)
        ending = [task for live in stopping for task in live.tasks]
        if ending:
            await asyncio.wait(ending, timeout=self.settings.cancel_grace_s + 5)
        await cancel_for_good(self._tasks, "the lab's tasks")
        await self.execution.close()
