"""The running layer's seams, each implemented twice and chosen once, where the engine is built
(app/running/engines.py); the lab holds one of each and never asks which.

- Queue: the run queue. Admission (app/running/admission.py: one FIFO queue in memory), or NodeQueue
  (app/running/node_queue.py: the runner nodes' queue in Redis).
- Execution: where runs execute. ExecuteHere (app/running/execute_here.py: this process, on a warm runner), or
  ExecuteOnNodes (app/running/execute_on_nodes.py: runner nodes through Redis).

Only what the lab uses.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Protocol, TypeVar

from app.model.runs import Place, Run

Key = TypeVar("Key", bound=Hashable)


class Queue(Protocol[Key]):
    """One FIFO queue of runs (by key: the lab's are run ids), and the runs it let start: a run that measures
    time executes alone."""

    @property
    def queue(self) -> Sequence[Key]:
        """The runs waiting, head first."""
        ...

    @property
    def executing(self) -> Mapping[Key, bool]:
        """The runs executing, each with whether it measures time."""
        ...

    @property
    def queued(self) -> int: ...

    def enqueue(self, key: Key, measures_time: bool) -> None: ...

    def remove(self, key: Key) -> None:
        """Take a queued run out (cancelled before it started)."""
        ...

    def admit(self) -> list[Key]:
        """Move every run that may start now, from the head, in order, from queued to executing."""
        ...

    def finish(self, key: Key) -> None:
        """An executing run ended."""
        ...

    def position(self, key: Key) -> int | None:
        """1-based place in the queue, or None when not queued."""
        ...

    async def refresh(self) -> None:
        """Until what the queue says is as of now, where other processes change it too (the limits ask then)."""
        ...

    def would_queue(self, runs: int, measures_time: bool) -> int:
        """How many of `runs` runs enqueued now could not start at once."""
        ...


class Execution(Protocol):
    """Where the lab's runs execute: in this process, or on runner nodes that take them from a shared queue.
    The lab admits runs from its Queue and hands each one it admits to `execute`; the nodes' queue admits none
    here (the nodes take the runs), so there a run's end comes from its node, through the run store."""

    def ready(self) -> None:
        """Be ready for the next run (here: its runner started ahead, app/running/runners.py). Called as the lab
        is made and as each run it executed ends, never while one starts."""
        ...

    async def execute(self, run: Run) -> None:
        """Execute an admitted run until it ended (a run that could not start ends `failed`, saying why)."""
        ...

    async def stop(self, run: Run, withdraw: Callable[[Run], None]) -> None:
        """Ask that the run stop, ending `run.stop_as`. One still queued in the lab's own queue is `withdraw`n
        there (it ends at once); one queued where the nodes take it is taken off that queue."""
        ...

    def executing_together(self, runs: Sequence[Run]) -> None:
        """`runs` execute at the same time now, each told so if they share the machine."""
        ...

    def place(self, position: int, executing: int) -> Place:
        """Where a queued run stands, 1-based, with `executing` runs executing, in words for its page."""
        ...

    async def moved(self) -> None:
        """Until the queue may have moved by another process's doing (never, where only the lab moves it)."""
        ...

    async def serve(self) -> None:
        """The execution's own work while the lab is open (reaping the runs of nodes that died); cancelled
        at shutdown."""
        ...

    async def close(self) -> None:
        """After the lab's last run here ended: let go of what is kept ready."""
        ...
