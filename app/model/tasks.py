"""Stopping asyncio tasks for good, at shutdown: a task may swallow its cancel.

redis-py's asyncio client can lose a CancelledError that arrives at the wrong moment inside a command
(redis/redis-py#2028, #2551): the task goes on, into its next `await asyncio.sleep`, and whoever waits
for it waits for ever (a lab's shutdown did, in one CI run: its dead-node reaper looped on). A cancel
asked again reaches the task at that next await; so cancel, wait a little, and cancel what is left again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from typing import Any

log = logging.getLogger(__name__)
ROUNDS, ROUND_S = 5, 1.0  # rounds of cancelling what still runs, and how long each waits


async def cancel_for_good(
    tasks: Collection[asyncio.Task[Any]], what: str, rounds: int = ROUNDS, round_s: float = ROUND_S
) -> list[asyncio.Task[Any]]:
    """Cancel `tasks` until they are done, a few rounds at most (read again each round: a live set may gain a task
    meanwhile); those that still are not done (never waited for good), said in the log as `what`'s."""
    for _ in range(rounds):
        left = [task for task in tasks if not task.done()]
        if not left:
            return []
        for task in left:
            task.cancel()
        await asyncio.wait(left, timeout=round_s)
    left = [task for task in tasks if not task.done()]
    log.warning("%d of %s would not stop", len(left), what)
    return left
