"""The Execution seam when runs execute in this process (the embedded lab): each admitted run on the warm runner
(app/running/runners.py), through the supervisor (app/running/supervisor.py), as a runner node runs its own."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from app.model.runs import Place, Run, in_line
from app.model.status import Status
from app.running.pythons import Interpreter
from app.running.runners import WarmRunner
from app.running.supervisor import execute_or_fail
from app.settings import Settings


class ExecuteHere:
    def __init__(self, settings: Settings, interpreters: tuple[Interpreter, ...] = ()):
        self.settings = settings
        self.interpreters = interpreters  # what a run's `python` param may choose (app/running/pythons.py)
        self.warm_runner = WarmRunner(settings)

    def ready(self) -> None:
        self.warm_runner.start_next()  # now, not as the next run starts: see app/running/runners.py

    async def execute(self, run: Run) -> None:
        await execute_or_fail(run, self.settings, self.warm_runner, self.interpreters)

    async def stop(self, run: Run, withdraw: Callable[[Run], None]) -> None:
        if run.status == Status.QUEUED:  # the lab's own queue holds it, or it is about to start
            withdraw(run)
        run.cancel_requested.set()  # the supervisor's watch stops it, or it never starts

    def executing_together(self, runs: Sequence[Run]) -> None:
        for run in runs:
            run.ran_beside(len(runs) - 1)

    def place(self, position: int, executing: int) -> Place:
        return Place(position, in_line(position, executing))

    async def moved(self) -> None:
        await asyncio.get_running_loop().create_future()  # only the lab moves its queue: never

    async def serve(self) -> None:
        return None

    async def close(self) -> None:
        await self.warm_runner.close()
