"""Stopping tasks for good at shutdown, whatever swallows a cancel (app/model/tasks.py)."""

from __future__ import annotations

import asyncio
import contextlib

from app.model.tasks import cancel_for_good


def test_a_task_that_swallowed_its_cancel_is_cancelled_again_at_its_next_wait():
    """As redis-py's client can lose a CancelledError inside a command: the loop goes on to its next sleep."""

    async def go() -> tuple[list[asyncio.Task[None]], int]:
        swallowed = 0

        async def reaper() -> None:
            nonlocal swallowed
            while True:
                try:
                    await asyncio.sleep(0.01)  # a command that loses the cancel
                except asyncio.CancelledError:
                    swallowed += 1
                await asyncio.sleep(3600)  # its next wait: a cancel asked again ends it here

        task = asyncio.create_task(reaper())
        await asyncio.sleep(0)  # it runs up to its first wait
        return await cancel_for_good({task}, "the reaper", round_s=0.5), swallowed

    left, swallowed = asyncio.run(go())
    assert left == [] and swallowed == 1


def test_a_task_that_swallows_every_cancel_is_given_up_after_the_rounds_not_waited_for_for_good(caplog):
    async def go() -> tuple[list[asyncio.Task[None]], int]:
        swallowing, swallowed = True, 0

        async def stubborn() -> None:
            nonlocal swallowed
            while True:
                try:
                    await asyncio.sleep(3600)
                except asyncio.CancelledError:
                    if not swallowing:
                        raise
                    swallowed += 1

        task = asyncio.create_task(stubborn())
        await asyncio.sleep(0)
        left = await cancel_for_good([task], "the stubborn task", rounds=3, round_s=0.01)
        swallowing = False  # the test's own end: it stops now
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return left, swallowed

    left, swallowed = asyncio.run(asyncio.wait_for(go(), 10))
    assert len(left) == 1 and swallowed == 3
    assert "1 of the stubborn task would not stop" in caplog.text
