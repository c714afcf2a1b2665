"""The run queue as the lab uses it: a seam a second implementation (Redis, issue 15) implements again.
The embedded one is Admission (app/running/admission.py: one FIFO queue in memory).

Only what the lab uses; the lab holds a Queue and never asks which one it is.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Hashable, Protocol


class Queue(Protocol):
    """One FIFO queue of runs, and the runs it let start: a run that measures time executes alone."""

    @property
    def queue(self) -> Sequence[Hashable]:
        """The runs waiting, head first."""
        ...

    @property
    def executing(self) -> Mapping[Hashable, bool]:
        """The runs executing, each with whether it measures time."""
        ...

    @property
    def queued(self) -> int:
        ...

    def enqueue(self, key: Hashable, measures_time: bool) -> None: ...

    def remove(self, key: Hashable) -> None:
        """Take a queued run out (cancelled before it started)."""
        ...

    def admit(self) -> list[Hashable]:
        """Move every run that may start now, from the head, in order, from queued to executing."""
        ...

    def finish(self, key: Hashable) -> None:
        """An executing run ended."""
        ...

    def position(self, key: Hashable) -> int | None:
        """1-based place in the queue, or None when not queued."""
        ...

    def would_queue(self, runs: int, measures_time: bool) -> int:
        """How many of `runs` runs enqueued now could not start at once."""
        ...
