"""The lessons a class was given, on Redis: each session (app/model/lesson_state.py) the document
`lab:lesson:{session}`, the live one named by `lab:live-lesson`, each lesson's sessions indexed by `lab:given:{lesson}`
(app/storage/redis_formats.py), so every web replica shows and changes the same lesson. The Redis counterpart
of app/storage/lesson_store.py, with its interface (LessonStorage, app/storage/seams.py).

A change is an optimistic transaction: WATCH the session's key, GET it, apply the pure change here, then MULTI
SET EXEC, which Redis refuses if anyone wrote the key since the WATCH; refused, it is tried again on the state
as stored then. So two replicas' answers at once are applied one after the other and neither is lost. Nothing
is cached: another replica may have changed any session since.

Every write is awaited: once `change` returns, any replica finds what it kept.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from app.model.lesson_state import LessonError, LessonState, end
from app.storage import redis_formats as formats
from app.storage import redis_replies as replies

log = logging.getLogger(__name__)
T = TypeVar("T")
TRIES = 100  # a class of a hundred answering at once: each round of them, one at least is kept
BACKOFF_S = 0.005  # the most a refused try waits before the next, times its number (so the refused spread out)
MAX_ID_CHARS = 64


class RedisLessons:
    def __init__(self, redis: Redis):
        self.redis = redis

    async def open(self) -> None:
        """Nothing to make: Redis has no schema. Here for the interface (the SQLite store makes its table)."""

    async def live(self) -> LessonState | None:
        """The session `lab:live-lesson` names, unless it has ended (by a change, or a begin since the name
        was read: then the name is read again)."""
        named = None
        for _ in range(3):
            session = replies.value_of(await self.redis.get(formats.LIVE_LESSON))
            if session is None or session == named:
                return None
            state = await self.find(session.decode())
            if state is None or state.live:
                return state
            named = session
        return None

    async def begin(self, state: LessonState) -> None:
        """`state` live from now; the one live before it ends as `state` starts, in the same transaction."""
        key = formats.lesson_key(state.id)

        async def attempt(pipe: Pipeline) -> None:
            await pipe.watch(formats.LIVE_LESSON, key)
            if replies.value_of(await pipe.get(key)) is not None:
                raise LessonError(f"session {state.id} was begun already")
            before = replies.value_of(await pipe.get(formats.LIVE_LESSON))
            ended = None
            if before is not None:
                await pipe.watch(formats.lesson_key(before.decode()))
                ended = await self._read(pipe, before.decode())
            pipe.multi()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
            if ended is not None and ended.live:
                pipe.set(formats.lesson_key(ended.id), formats.dumps(formats.lesson_doc(end(ended, state.started_at))))
            pipe.set(key, formats.dumps(formats.lesson_doc(state)))
            pipe.set(formats.LIVE_LESSON, state.id)
            pipe.zadd(formats.given_key(state.lesson), {state.id: state.started_at})
            pipe.zadd(formats.LESSONS, {state.id: state.started_at})
            await pipe.execute()

        await self._optimistic(f"begin session {state.id}", attempt)

    async def change(self, session: str, change: Callable[[LessonState], LessonState]) -> LessonState:
        key = formats.lesson_key(session)

        async def attempt(pipe: Pipeline) -> LessonState:
            await pipe.watch(key)
            state = await self._read(pipe, session)
            if state is None:
                raise LessonError(f"there is no lesson session {session[:MAX_ID_CHARS]!r}")
            changed = change(state)  # a LessonError leaves the pipeline, which unwatches: nothing kept
            if changed is not state:
                pipe.multi()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
                pipe.set(key, formats.dumps(formats.lesson_doc(changed)))
                await pipe.execute()
            return changed

        if len(session) > MAX_ID_CHARS:
            raise LessonError(f"there is no lesson session {session[:MAX_ID_CHARS]!r}")
        return await self._optimistic(f"change session {session}", attempt)

    async def find(self, session: str) -> LessonState | None:
        if len(session) > MAX_ID_CHARS:
            return None
        return self._state_of(session, replies.value_of(await self.redis.get(formats.lesson_key(session))))

    async def given(self, lesson: str) -> list[LessonState]:
        """Every session of `lesson`, newest first (by started_at; one deleted meanwhile is left out)."""
        sessions = [m.decode() for m in replies.keys_of(await self.redis.zrevrange(formats.given_key(lesson), 0, -1))]
        if not sessions:
            return []
        docs = replies.values_of(await self.redis.mget([formats.lesson_key(session) for session in sessions]))
        states = (self._state_of(session, doc) for session, doc in zip(sessions, docs, strict=True))
        return [state for state in states if state is not None]

    async def delete_before(self, cutoff: float) -> int:
        """Delete the ended sessions begun before `cutoff` (unix s), with their places in the indexes; how many.
        A session that has ended never changes again, so nothing is watched; the live one is left alone."""
        found = replies.keys_of(await self.redis.zrangebyscore(formats.LESSONS, "-inf", f"({cutoff!r}"))
        sessions = [member.decode() for member in found]
        if not sessions:
            return 0
        docs = replies.values_of(await self.redis.mget([formats.lesson_key(session) for session in sessions]))
        gone: list[str] = []  # out of the indexes (a document already deleted, or unreadable, too)
        deleted: list[LessonState] = []
        for session, doc in zip(sessions, docs, strict=True):
            state = self._state_of(session, doc)
            if state is not None and state.live:  # ended, a session never changes again
                continue
            gone.append(session)
            if state is not None:
                deleted.append(state)
        if gone:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.delete(*(formats.lesson_key(session) for session in gone))
                pipe.zrem(formats.LESSONS, *gone)
                for lesson in {state.lesson for state in deleted}:
                    pipe.zrem(formats.given_key(lesson), *(s.id for s in deleted if s.lesson == lesson))
                await pipe.execute()
        return len(deleted)

    async def _optimistic(self, what: str, attempt: Callable[[Pipeline], Awaitable[T]]) -> T:
        """`attempt` on a fresh pipeline until its EXEC is not refused (a watched key was written meanwhile)."""
        for tries in range(1, TRIES + 1):
            try:
                async with self.redis.pipeline(transaction=True) as pipe:
                    return await attempt(pipe)
            except WatchError:  # the pipeline is back in the pool while this one waits
                await asyncio.sleep(random.uniform(0, BACKOFF_S * tries))
        raise LessonError(f"the lesson changed under {what} {TRIES} times running: the class is too busy, try again")

    async def _read(self, pipe: Pipeline, session: str) -> LessonState | None:
        """The session as stored now, read on a watching pipeline (commands run at once until MULTI)."""
        return self._state_of(session, replies.value_of(await pipe.get(formats.lesson_key(session))))

    @staticmethod
    def _state_of(session: str, raw: bytes | None) -> LessonState | None:
        if raw is None:
            return None
        try:
            return formats.read_lesson(raw)
        except ValueError:
            log.warning("lesson session %s cannot be read", session, exc_info=True)
            return None
