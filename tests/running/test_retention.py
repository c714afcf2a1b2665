"""LAB_RETAIN_DAYS (app/running/retention.py): a run made longer ago is deleted with everything kept of it, at
start and then daily, from SQLite and from Redis; a run still in flight never is, however old, nor the lesson
being given; unset, nothing is."""

from __future__ import annotations

import asyncio
import sqlite3
import time

from fastapi.testclient import TestClient
from redis.asyncio import Redis

from app.model import lesson_state
from app.model.experiments import catalogue
from app.model.lessons import Lesson, Step
from app.model.status import Status
from app.model.sweeps import Point, Sweep
from app.running.retention import DAY_S, retain
from app.storage import redis_formats as formats
from app.storage import redis_queue
from app.storage import redis_replies as replies
from app.storage.lesson_store import LessonStore
from app.storage.redis_formats import Job
from app.storage.redis_queue import submit
from app.storage.redis_store import RedisRunStore
from app.storage.redis_sweeps import RedisSweeps
from app.storage.store import RunStore
from app.storage.sweep_store import SweepStore
from app.web.server import create_app
from tests.helpers import TEST_MODULES, FakeClock, make_settings, until, until_async, wait_for_status

QUICK = {"experiment": "test-raises", "params": {"workers": 1}}
RACE = catalogue(("experiments.race_counter",))["race-counter"]


def test_a_run_made_two_days_ago_is_deleted_at_start_and_one_made_today_is_kept(tmp_path):
    database = str(tmp_path / "lab.db")
    with TestClient(create_app(make_settings(database=database), modules=TEST_MODULES)) as lab:
        old, new = (lab.post("/api/runs", json=QUICK).json()["id"] for _ in range(2))
        for run_id in (old, new):
            wait_for_status(lab, run_id)
    with sqlite3.connect(database) as conn:
        conn.execute("UPDATE runs SET created_at = created_at - 2 * 86400 WHERE id = ?", (old,))
    with TestClient(create_app(make_settings(database=database), modules=TEST_MODULES)) as lab:  # unset: kept
        assert lab.get(f"/api/runs/{old}").status_code == 200
    with TestClient(create_app(make_settings(database=database, retain_days=1), modules=TEST_MODULES)) as lab:
        until(lambda: lab.get(f"/api/runs/{old}").status_code == 404, what="the old run deleted at start")
        assert lab.get(f"/api/runs/{new}").status_code == 200
        history = lab.get("/runs").text  # the history page
        assert f"/runs/{new}" in history and f"/runs/{old}" not in history
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM events WHERE run_id = ?", (old,)).fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM events WHERE run_id = ?", (new,)).fetchone()[0] > 0


def test_sqlite_runs_sweeps_and_lessons_become_old_and_go_at_the_next_daily_turn_and_those_in_flight_stay(tmp_path):
    async def go():
        store = RunStore(str(tmp_path / "lab.db"), {RACE.id: RACE})
        await store.open()
        sweeps, lessons = SweepStore(store.db), LessonStore(store.db)
        await sweeps.open()
        await lessons.open()
        lesson = Lesson("race", "Races", (Step("Race", RACE.id),))
        for session in ("given", "giving"):  # the second ends the first
            await lessons.begin(lesson_state.begin(session, lesson, time.time()))
        ended, waiting = store.create(RACE, {}), store.create(RACE, {})
        ended.start()
        ended.finish(Status.DONE)
        sweep = Sweep(
            sweeps.new_id(), RACE.id, {}, {"workers": [2]}, (Point({"workers": 2}, ended.id),), "", time.time()
        )
        sweeps.save(sweep)
        clock, turns = FakeClock(time.time()), []

        def counted() -> float:
            turns.append(clock.now)
            return clock()

        daily = asyncio.create_task(retain(1, store, sweeps, lessons, clock=counted, every_s=0.01))
        await until_async(lambda: len(turns) >= 3, what="three turns of the daily task")  # nothing a day old yet
        kept = await store.find(ended.id) is not None and await lessons.find("given") is not None
        clock.now += 2 * DAY_S
        for _ in range(500):
            if (
                await store.find(ended.id) is None
                and await sweeps.find(sweep.id) is None
                and await lessons.find("given") is None
            ):
                break
            await asyncio.sleep(0.01)
        gone = (
            await store.find(ended.id) is None
            and await sweeps.find(sweep.id) is None
            and await lessons.find("given") is None
        )
        # queued: in flight, never deleted; nor the lesson being given
        still = await store.find(waiting.id) is not None and await lessons.live() == await lessons.find("giving")
        daily.cancel()
        await store.close()
        return kept, gone, still

    assert asyncio.run(go()) == (True, True, True)


def test_redis_runs_and_sweeps_made_two_days_ago_are_deleted_with_every_key_and_runs_in_flight_stay(redis_server):
    async def go():
        async with Redis.from_url(redis_server.url) as redis:
            store, sweeps = RedisRunStore(redis, {RACE.id: RACE}), RedisSweeps(redis)
            await store.open()
            now = time.time()
            for run_id, made in (("old", now - 2 * DAY_S), ("oldqueued", now - 2 * DAY_S), ("new", now)):
                await submit(redis, Job(run_id, RACE.id, {}, created_at=made))
            for run_id in ("old", "new"):  # ended as a node ends them: the state document, a snapshot
                queued = await redis_queue.state(redis, run_id)
                assert queued is not None
                await redis.set(
                    formats.state_key(run_id), formats.dumps(formats.ended(queued, Status.DONE, "", 0, now))
                )
                await redis.set(formats.snapshot_key(run_id), b"snapshot")
            for sweep_id, made in (("oldsweep", now - 2 * DAY_S), ("newsweep", now)):
                sweeps.save(Sweep(sweep_id, RACE.id, {}, {"workers": [2]}, (Point({"workers": 2}, "old"),), "", made))
            await sweeps.flush()
            before = [key for key in formats.run_keys("old") if await redis.exists(key)]
            daily = asyncio.create_task(retain(1, store, sweeps, clock=FakeClock(now), every_s=0.01))
            for _ in range(500):  # runs are deleted before sweeps in a pass: wait for both
                if not await redis.exists(formats.state_key("old")) and await sweeps.find("oldsweep") is None:
                    break
                await asyncio.sleep(0.01)
            daily.cancel()
            left = {run_id: await redis.exists(formats.state_key(run_id)) for run_id in ("old", "oldqueued", "new")}
            history = sorted(member.decode() for member in replies.keys_of(await redis.zrange(formats.HISTORY, 0, -1)))
            after = [key for key in formats.run_keys("old") if await redis.exists(key)]
            found = [await sweeps.find(sweep_id) is not None for sweep_id in ("oldsweep", "newsweep")]
            await store.close()
            return before, left, history, after, found

    before, left, history, after, found = asyncio.run(go())
    assert len(before) >= 3  # state, stream, snapshot: there was something to delete
    assert left == {"old": 0, "oldqueued": 1, "new": 1}  # a run still queued stays, however old
    assert history == ["new", "oldqueued"] and after == []
    assert found == [False, True]
