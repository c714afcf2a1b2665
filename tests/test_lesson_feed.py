"""The lesson feed's one-at-a-time (app/web/lesson_feed.py `alone`): a student's page that asks for its run again
while its first ask is still starting it waits for that one, is told meanwhile that its run is starting
(`busy`), and every page following the lesson is woken once it is over, whatever came of it."""

from __future__ import annotations

import asyncio

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
