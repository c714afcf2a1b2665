"""The lab: start runs (queued behind a limit on concurrent runs), find them, cancel them, stop them all."""
from __future__ import annotations

import asyncio
from typing import Any

from app.broadcast import Broadcast
from app.experiments import Experiment
from app.render import Renderer
from app.runs import Run, RunStore
from app.settings import Settings
from app.supervisor import execute


class Lab:
    def __init__(self, settings: Settings, experiments: dict[str, Experiment], renderer: Renderer):
        self.settings = settings
        self.experiments = experiments
        self.renderer = renderer
        self.store = RunStore()
        self.broadcasts: dict[str, Broadcast] = {}
        self._tasks: set[asyncio.Task] = set()
        self._slots = asyncio.Semaphore(settings.max_concurrent_runs)

    def start(self, experiment: Experiment, params: dict[str, Any], owner: str = "") -> Run:
        run = self.store.create(experiment, params, owner)
        broadcast = Broadcast(run, self.renderer, self.settings.frame_rate)
        self.broadcasts[run.id] = broadcast
        for coro in (self._execute(run), broadcast.produce()):
            task = asyncio.create_task(coro)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return run

    async def _execute(self, run: Run) -> None:
        async with self._slots:
            if run.finished:  # cancelled while it waited
                return
            try:
                await execute(run, self.settings)
            except Exception as exc:  # e.g. LAB_PYTHON missing: the runner could not even start
                if not run.finished:
                    run.finish("failed", f"could not run the experiment: {type(exc).__name__}: {exc}")

    def cancel(self, run: Run) -> None:
        if run.status == "queued":
            run.finish("cancelled", "cancelled while queued")
        run.cancel_requested.set()

    async def shutdown(self) -> None:
        """Stop every run (their process groups are killed) before the server exits."""
        for run in self.store.active():
            self.cancel(run)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=self.settings.cancel_grace_s + 5)
        for task in list(self._tasks):
            task.cancel()
