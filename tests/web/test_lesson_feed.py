"""The lesson feed's one-at-a-time (app/web/lesson_feed.py `alone`): a student's page that asks for its run again
while its first ask is still starting it waits for that one, is told meanwhile that its run is starting
(`busy`), and every page following the lesson is woken once it is over, whatever came of it."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from app.model import lesson_state
from app.model.lessons import Lesson, Step
from app.web.lesson_feed import LessonFeed


def test_a_second_ask_waits_for_the_first_and_the_pages_are_woken_when_it_is_over():
    async def scenario() -> list[str]:
        feed = LessonFeed(lab=None, storage=None, lessons={})  # type: ignore[arg-type]  # neither is used here
        happened: list[str] = []
        first_inside = asyncio.Event()

        async def ask(name: str, inside: asyncio.Event | None = None) -> None:
            async with feed.alone("run:ada"):
                happened.append(f"{name} in")
                if inside is not None:
                    inside.set()
                await asyncio.sleep(0.01)
                happened.append(f"{name} out")

        first = asyncio.create_task(ask("first", first_inside))
        await first_inside.wait()
        woken = feed.changed()
        second = asyncio.create_task(ask("second"))
        await asyncio.sleep(0)
        assert feed.busy("run:ada") and not feed.busy("run:grace")
        await asyncio.gather(first, second)
        assert not feed.busy("run:ada"), "nothing is kept once no one asks"
        assert woken.is_set(), "the pages shown 'starting' are rendered again"
        return happened

    assert asyncio.run(scenario()) == ["first in", "first out", "second in", "second out"]


def test_a_look_that_read_the_lesson_before_a_change_does_not_put_the_pages_back_before_it():
    lesson = Lesson("races", "Races", (Step("A race", "race-counter"), Step("A lock", "lock-counter")))
    before = lesson_state.begin("s1", lesson, 0.0)
    after = lesson_state.go(before, 1)

    class Storage:  # the periodic look reads `before`, then waits; the change's look reads `after`
        def __init__(self) -> None:
            self.states, self.hold = [before, after], asyncio.Event()

        async def live(self) -> lesson_state.LessonState:
            state = self.states.pop(0)
            if state is before:
                await self.hold.wait()
            return state

    async def scenario() -> int:
        storage = Storage()
        lab = SimpleNamespace(experiments={}, settings=SimpleNamespace(max_concurrent_runs=1))
        feed = LessonFeed(lab, storage, {"races": lesson})  # type: ignore[arg-type]  # as much of them as it reads
        periodic = asyncio.create_task(feed.refresh())
        await asyncio.sleep(0)
        await feed.refresh()  # the change's own look
        storage.hold.set()
        await periodic
        assert feed.view is not None
        return feed.view.state.step

    assert asyncio.run(scenario()) == 1, "the pages stay at the step the teacher went to"
