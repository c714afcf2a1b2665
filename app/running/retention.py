"""LAB_RETAIN_DAYS: runs, sweeps and lessons given made longer ago than that are deleted, once at start and
then daily.

A lab keeps every run for good unless told otherwise (a run's URL is shared and comes back in a class's
notes). A teacher who wants a class's runs gone after a term sets the days; a run still queued or running
is never deleted, however old, nor the lesson being given (its record, with the class's names and answers,
goes once it has ended and is that old). In a distributed lab every replica does this: deleting is idempotent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from app.storage.seams import LessonStorage, RunStorage, SweepStorage

log = logging.getLogger(__name__)
DAY_S = 86_400.0


async def forget_older(
    days: float, runs: RunStorage, sweeps: SweepStorage, now: float, lessons: LessonStorage | None = None
) -> tuple[int, int, int]:
    """Delete the runs, sweeps and ended lessons made more than `days` before `now`: how many of each."""
    cutoff = now - days * DAY_S
    deleted = (
        await runs.delete_before(cutoff),
        await sweeps.delete_before(cutoff),
        0 if lessons is None else await lessons.delete_before(cutoff),
    )
    if any(deleted):
        log.info(
            "LAB_RETAIN_DAYS=%g: deleted %d runs, %d sweeps and %d lessons given made before %s",
            days,
            *deleted,
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(cutoff)),
        )
    return deleted


async def retain(
    days: float,
    runs: RunStorage,
    sweeps: SweepStorage,
    lessons: LessonStorage | None = None,
    clock: Callable[[], float] = time.time,
    every_s: float = DAY_S,
) -> None:
    """Forever: delete what is older than `days`, then wait `every_s`. A failure (the database or Redis away)
    is logged and tried again at the next turn: nothing else depends on it."""
    while True:
        try:
            await forget_older(days, runs, sweeps, clock(), lessons)
        except Exception:
            log.exception("LAB_RETAIN_DAYS: deleting old runs failed; trying again in %g s", every_s)
        await asyncio.sleep(every_s)
