"""The run queue as the lab uses it: a seam a second implementation (Redis, issue 15) implements again.
The embedded one is Admission (app/running/admission.py: one FIFO queue in memory).

Only what the lab uses; the lab holds a Queue and never asks which one it is.
"""
from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Protocol, TypeVar

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
    def queued(self) -> int:
        ...

    @property
    def nodes(self) -> int | None:
        """The runner nodes up, when runs execute on nodes (a distributed lab); None when they execute here."""
        ...

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
