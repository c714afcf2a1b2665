"""Recorded blocking calls that are not inter-process communication: sleeping, waiting on results.

Each is drawn on the lane of the thread that blocks, named after the call, so a timeline
shows who was stuck where (see the span categories in experiments/harness/recorder.py).
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Iterable, Iterator, TypeVar

if TYPE_CHECKING:
    from experiments.harness.recorder import Recorder

T = TypeVar("T")


def sleep(rec: Recorder, seconds: float) -> None:
    """time.sleep(seconds), drawn as a `sleep(2.0)` span."""
    with rec.activity(f"sleep({round(seconds, 3)})", "sleep"):
        time.sleep(seconds)


def waited(rec: Recorder, name: str, items: Iterable[T]) -> Iterator[T]:
    """Iterate `items`, drawing each wait for the next one as a `name` wait span.

    For iterators that block until an item is ready: as_completed(), Executor.map().
    """
    iterator = iter(items)
    while True:
        with rec.activity(name, "wait"):
            try:
                item = next(iterator)
            except StopIteration:
                return
        yield item
