"""The lesson store, one suite over both implementations: LessonStore (a table of the embedded lab's SQLite
database, the live session held in memory) and RedisLessons (a document per session, for every web replica).
A begun lesson is live until the next one begins; each change is applied to the session as stored now and
kept, or refused with nothing kept; answers sent at once are all kept, by one replica or two; a lesson's
sessions are listed newest first; and all of it is found again after a restart, or by another replica."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from app.model import lesson_state
from app.model.lesson_state import LessonError, LessonState, answer, ask, join
from app.model.lessons import Lesson, Question, Step
from app.storage.lesson_store import LessonStore
from app.storage.redis_lessons import RedisLessons
from app.storage.seams import LessonStorage
from app.storage.store import RunStore

QUESTION = Question("Will updates be lost?", choices=("none", "a few", "many"))
RACE = Lesson("race", "Races", (Step("Race", "race-counter", question=QUESTION), Step("Lock", "lock-counter")))
LOCKS = Lesson("locks", "Locks", (Step("Lock", "lock-counter"),))
CLASS = 30  # students answering at once


class Lessons:
    """Lessons kept by one implementation; `again` is the same lessons seen afresh."""

    def __init__(self, where: str, tmp_path: Path, redis_url: str):
        self.where = where
        self.path = str(tmp_path / "lab.db")
        self.url = redis_url
        self.stores: list[RunStore] = []
        self.clients: list[Redis] = []

    async def open(self) -> LessonStorage:
        lessons: LessonStorage
        if self.where == "embedded":
            store = RunStore(self.path, {})
            await store.open()
            self.stores.append(store)
            lessons = LessonStore(store.db)
        else:
            self.clients.append(Redis.from_url(self.url))
            lessons = RedisLessons(self.clients[-1])
        await lessons.open()
        return lessons

    async def again(self) -> LessonStorage:
        """The embedded store reopened after its server stopped, or another web replica with its own client."""
        for store in self.stores:
            await store.close()
        self.stores.clear()
        return await self.open()

    async def close(self) -> None:
        for store in self.stores:
            await store.close()
        for client in self.clients:
            await client.aclose()


def with_lessons(where: str, tmp_path: Path, redis_url: str, body: Callable[[Lessons], Awaitable[Any]]) -> Any:
    async def go() -> Any:
        lessons = Lessons(where, tmp_path, redis_url)
        try:
            return await body(lessons)
        finally:
            await lessons.close()

    return asyncio.run(go())


def begun(session: str, at: float, lesson: Lesson = RACE) -> LessonState:
    return lesson_state.begin(session, lesson, at)


def answered(client: str, value: int = 1) -> Callable[[LessonState], LessonState]:
    return lambda state: answer(state, client, 0, value)


def asked(state: LessonState) -> LessonState:
    return ask(state, QUESTION)


def test_a_begun_lesson_is_live_and_found(where, tmp_path, redis_url):
    async def body(lessons: Lessons) -> None:
        store = await lessons.open()
        assert await store.live() is None
        state = begun("s1", 100.0)
        await store.begin(state)
        assert await store.live() == state and await store.find("s1") == state
        assert await store.given("race") == [state]
        assert await store.find("s2") is None and await store.find("x" * 65) is None

    with_lessons(where, tmp_path, redis_url, body)


def test_a_session_is_begun_once(where, tmp_path, redis_url):
    async def body(lessons: Lessons) -> None:
        store = await lessons.open()
        await store.begin(begun("s1", 100.0))
        await store.begin(begun("s2", 200.0))
        with pytest.raises(LessonError, match="s1 was begun already"):
            await store.begin(begun("s1", 300.0))
        assert (await store.live()) == begun("s2", 200.0)

    with_lessons(where, tmp_path, redis_url, body)


def test_a_second_lesson_begun_ends_the_first_which_stays_its_class_record(where, tmp_path, redis_url):
    async def body(lessons: Lessons) -> None:
        store = await lessons.open()
        await store.begin(begun("s1", 100.0))
        await store.change("s1", asked)
        answered_once = await store.change("s1", answered("a"))
        second = begun("s2", 200.0, LOCKS)
        await store.begin(second)
        assert await store.live() == second
        ended = await store.find("s1")
        assert ended is not None and not ended.live and ended.ended_at == 200.0
        assert ended.current.answers == {1: {"a": 1}} and ended.version == answered_once.version + 1
        assert await store.given("race") == [ended] and await store.given("locks") == [second]
        with pytest.raises(LessonError, match="ended"):
            await store.change("s1", answered("b"))

    with_lessons(where, tmp_path, redis_url, body)


def test_a_lesson_ended_by_a_change_leaves_none_live_and_stays_its_class_record(where, tmp_path, redis_url):
    async def body(lessons: Lessons) -> None:
        store = await lessons.open()
        await store.begin(begun("s1", 100.0))
        ended = await store.change("s1", lambda state: lesson_state.end(state, 500.0))
        assert await store.live() is None and await store.find("s1") == ended and ended.ended_at == 500.0
        store = await lessons.again()
        assert await store.live() is None and await store.given("race") == [ended]
        await store.begin(begun("s2", 600.0))
        assert await store.find("s1") == ended  # ended once, when it was
        assert await store.delete_before(550.0) == 1 and await store.given("race") == [begun("s2", 600.0)]

    with_lessons(where, tmp_path, redis_url, body)


def test_a_change_is_kept_and_returned(where, tmp_path, redis_url):
    async def body(lessons: Lessons) -> None:
        store = await lessons.open()
        await store.begin(begun("s1", 100.0))
        changed = await store.change("s1", asked)
        assert changed.current.phase == "asking" and changed.version == 1
        assert await store.find("s1") == changed and await store.live() == changed
        joined = await store.change("s1", lambda state: join(state, "c1", "Ada"))
        assert joined.people == {"c1": "Ada"} and joined.current.phase == "asking"
        assert await store.change("s1", lambda state: join(state, "c1", "Ada")) == joined  # no change: as it was
        assert await store.given("race") == [joined]

    with_lessons(where, tmp_path, redis_url, body)


def test_a_refused_change_keeps_nothing(where, tmp_path, redis_url):
    async def body(lessons: Lessons) -> None:
        store = await lessons.open()
        state = begun("s1", 100.0)
        await store.begin(state)
        with pytest.raises(LessonError, match="not open yet"):
            await store.change("s1", answered("a"))

        def asked_then_refused(state: LessonState) -> LessonState:
            ask(state, QUESTION)  # made, and dropped: the change as a whole refuses
            raise LessonError("refused halfway")

        with pytest.raises(LessonError, match="refused halfway"):
            await store.change("s1", asked_then_refused)
        assert await store.find("s1") == state and await store.live() == state
        assert await (await lessons.again()).find("s1") == state

    with_lessons(where, tmp_path, redis_url, body)


def test_a_change_of_an_unknown_session_is_refused(where, tmp_path, redis_url):
    async def body(lessons: Lessons) -> None:
        store = await lessons.open()
        for session in ("nope", "x" * 65):
            with pytest.raises(LessonError, match="no lesson session"):
                await store.change(session, asked)
        assert await store.find("nope") is None and await store.live() is None

    with_lessons(where, tmp_path, redis_url, body)


def test_a_class_answering_at_once_loses_no_answer(where, tmp_path, redis_url):
    async def body(lessons: Lessons) -> None:
        store = await lessons.open()
        await store.begin(begun("s1", 100.0))
        await store.change("s1", asked)
        returned = await asyncio.gather(*(store.change("s1", answered(f"c{i}", i % 3)) for i in range(CLASS)))
        kept = await store.find("s1")
        assert kept is not None and kept.current.answers == {1: {f"c{i}": i % 3 for i in range(CLASS)}}
        assert kept.version == 1 + CLASS and sorted(state.version for state in returned) == list(range(2, CLASS + 2))
        assert await (await lessons.again()).find("s1") == kept

    with_lessons(where, tmp_path, redis_url, body)


def test_two_replicas_answering_at_once_lose_no_answer(redis_server):
    """Two web replicas, each its own client (and connections), take a class's answers at once."""

    async def body() -> None:
        clients = [Redis.from_url(redis_server.url) for _ in range(2)]
        try:
            one, two = (RedisLessons(client) for client in clients)
            await one.begin(begun("s1", 100.0))
            await two.change("s1", asked)
            await asyncio.gather(
                *(
                    replica.change("s1", answered(f"{name}{i}"))
                    for i in range(CLASS)
                    for name, replica in [("a", one), ("b", two)]
                )
            )
            for replica in (one, two):
                kept = await replica.live()
                assert kept is not None and len(kept.current.answers[1]) == 2 * CLASS
                assert kept.version == 1 + 2 * CLASS
        finally:
            for client in clients:
                await client.aclose()

    asyncio.run(body())


def test_a_change_that_loses_every_race_gives_up_saying_so(redis_server, monkeypatch):
    """Another replica writes the session each time this one has read it: the change is tried again on the
    newer state, a bounded number of times, then refused in words (nothing of it kept)."""
    from redis import Redis as SyncRedis

    from app.storage import redis_lessons

    monkeypatch.setattr(redis_lessons, "TRIES", 5)
    tries: list[int] = []

    async def body() -> None:
        client = Redis.from_url(redis_server.url)
        try:
            store = RedisLessons(client)
            await store.begin(begun("s1", 100.0))
            with SyncRedis.from_url(redis_server.url) as other:

                def overtaken(state: LessonState) -> LessonState:
                    tries.append(state.version)
                    other.set("lab:lesson:s1", other.get("lab:lesson:s1") or b"")  # the other replica's write
                    return asked(state)

                with pytest.raises(LessonError, match="5 times running"):
                    await store.change("s1", overtaken)
            assert len(tries) == 5 and await store.find("s1") == begun("s1", 100.0)
        finally:
            await client.aclose()

    asyncio.run(body())


def test_a_lessons_sessions_are_listed_newest_first(where, tmp_path, redis_url):
    async def body(lessons: Lessons) -> None:
        store = await lessons.open()
        for session, at, lesson in [
            ("r1", 100.0, RACE),
            ("r3", 300.0, RACE),
            ("l1", 150.0, LOCKS),
            ("r2", 200.0, RACE),
        ]:
            await store.begin(begun(session, at, lesson))
        assert [state.id for state in await store.given("race")] == ["r3", "r2", "r1"]
        assert [state.id for state in await store.given("locks")] == ["l1"]
        assert await store.given("nothing") == []
        again = await lessons.again()
        assert [state.id for state in await again.given("race")] == ["r3", "r2", "r1"]
        assert [state.live for state in await again.given("race")] == [False, True, False]  # r2 began last

    with_lessons(where, tmp_path, redis_url, body)


def test_the_live_lesson_and_its_answers_survive_a_restart(where, tmp_path, redis_url):
    async def body(lessons: Lessons) -> None:
        store = await lessons.open()
        await store.begin(begun("s0", 50.0))
        await store.begin(begun("s1", 100.0))
        await store.change("s1", asked)
        await store.change("s1", answered("a", 2))
        kept = await store.change("s1", lambda state: join(state, "a", "Ada"))
        ended = await store.find("s0")
        store = await lessons.again()
        assert await store.live() == kept and await store.find("s1") == kept and await store.find("s0") == ended
        more = await store.change("s1", answered("b", 0))  # the class goes on where it was
        assert more.current.answers == {1: {"a": 2, "b": 0}} and more.version == kept.version + 1
        assert await (await lessons.again()).live() == more

    with_lessons(where, tmp_path, redis_url, body)


def test_retention_deletes_the_ended_sessions_begun_before_its_cutoff_never_the_live_one(where, tmp_path, redis_url):
    async def body(lessons: Lessons) -> None:
        store = await lessons.open()
        for session, at, lesson in [
            ("r1", 100.0, RACE),
            ("l1", 200.0, LOCKS),
            ("r2", 300.0, RACE),
            ("r3", 400.0, RACE),
        ]:
            await store.begin(begun(session, at, lesson))
        assert await store.delete_before(350.0) == 3  # r1, l1, r2 (ended: r3 began)
        assert await store.delete_before(10_000.0) == 0  # r3 is live, however old
        for session in ("r1", "l1", "r2"):
            assert await store.find(session) is None
        live = await store.change("r3", asked)
        assert await store.live() == live and await store.given("race") == [live] and await store.given("locks") == []
        again = await lessons.again()
        assert await again.find("r1") is None and await again.given("race") == [live] and await again.live() == live

    with_lessons(where, tmp_path, redis_url, body)
