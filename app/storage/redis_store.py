"""The run store of a web replica in distributed mode (LAB_REDIS_URL): the RunStorage seam on Redis.

A replica runs nothing itself. `create` queues the run for the runner nodes (redis_queue.submit); every run
in flight, whichever replica queued it, is followed here: its stream (app/storage/redis_formats.py) read
as it grows and folded into a mirror Run (app/storage/redis_mirror.py), which the drawing renders as it
renders a local run. So any replica serves any run live, and a viewer joining late gets the whole run:
the mirror is caught up from the stream's first entry before it is shown.

Every POLL_S the queue's view is read again (redis_queue.in_flight: what waits, what executes on which
node); a run in flight this replica does not follow yet is followed from then on, so "Live now" lists every
run of the class. A finished run is read back from its state document and its snapshot (or its stream, if
it has none), and a few are kept in memory. Writes go out in order (app/storage/redis_writer.py), retried
while Redis is away for a moment; a follower that loses Redis reads on from the last entry it had once Redis is back.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.model.documents import NumberedEventJson
from app.model.events import Event
from app.model.experiments import Experiment
from app.model.runs import Run
from app.model.status import Status
from app.model.tasks import cancel_for_good
from app.storage import redis_formats as formats
from app.storage import redis_queue, snapshots
from app.storage import redis_replies as replies
from app.storage.loads import Loads
from app.storage.records import Page, history_row, run_of
from app.storage.redis_formats import RUN_ID, Entry, InFlight, Job
from app.storage.redis_mirror import adopt, fold, mirror_of
from app.storage.redis_writer import OrderedWriter
from app.storage.run_cache import RunCache
from app.storage.wire import unpack_events

log = logging.getLogger(__name__)

POLL_S = 0.25  # how often the queue's view is read again
FOLLOW_BLOCK_MS = 2_000  # a follower's XREAD waits this long for new entries, then asks again
RETRY_S = 0.5  # Redis unreachable: a follower reads again after this long


class RedisRunStore:
    def __init__(
        self,
        redis: Redis,
        experiments: dict[str, Experiment],
        poll_s: float = POLL_S,
        writer: OrderedWriter | None = None,
    ):
        self.redis = redis
        self.experiments = experiments
        self.poll_s = poll_s
        self.in_flight = InFlight((), (), 0, 0)  # as last read
        self.polled = asyncio.Event()  # set at each read of the queue's view
        self._cache = RunCache()  # followed (not finished), and a few finished
        self._loads: Loads[str, Run | None] = Loads()
        self.writer = writer or OrderedWriter()
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- life cycle --

    async def open(self) -> list[Run]:
        """Ready: the nodes' group exists; runs left running are the reapers' (app/running/reaper.py), not
        this replica's to end, and runs queued are still in Redis's queue: none to queue again."""
        await redis_queue.ensure_group(self.redis)
        self._spawn(self._poll())
        return []

    async def close(self) -> None:
        """Stop following: every task cancelled and awaited, a few rounds at most. A follower the poll spawned
        while the writer closed, or one whose Redis call took a round to notice its cancel, is cancelled again;
        closing never waits for good (a test once hung here)."""
        await self.writer.close()
        await cancel_for_good(self._tasks, "the run store's tasks")

    async def next_poll(self) -> None:
        """Until the queue's view is read again."""
        self.polled.clear()
        await self.polled.wait()

    async def flush(self) -> None:
        """Until everything written here so far is in Redis, so any replica finds it."""
        await self.writer.flush()

    # -- runs --

    def create(self, experiment: Experiment, params: dict[str, Any], owner: str = "", sweep: str | None = None) -> Run:
        """A new run, queued for the nodes (written in order, see `flush`) and followed from its first entry."""
        run = Run(secrets.token_hex(6), experiment, params, owner, sweep=sweep)
        job = Job(run.id, experiment.id, params, experiment.measures_time, owner, sweep, run.created_at)
        self._cache.remember(run)
        follower = self._spawn(self._follow(run, "0-0"))

        def not_queued(error: RedisError) -> None:  # never in Redis: nobody will run it, no stream will come
            follower.cancel()
            run.finish(Status.FAILED, f"it could not be queued: Redis answered {error}")
            self._cache.remember(run)

        self.writer.write(lambda: redis_queue.submit(self.redis, job), not_queued)
        return run

    async def cancel(self, run: Run) -> None:
        """Take it off the queue if no node took it yet (it has ended `cancelled` when this returns), else ask
        its node to stop it."""
        await self.writer.flush()  # its submit, first
        ended = await redis_queue.cancel_queued(self.redis, run.id, time.time())
        if ended is not None:
            adopt(run, ended)  # now, as the embedded lab does; its stream's end entry changes nothing after
        else:
            await redis_queue.request_cancel(self.redis, run.id)

    def get(self, run_id: str) -> Run | None:
        return self._cache.get(run_id)

    def active(self) -> list[Run]:
        return self._cache.active()

    async def find(self, run_id: str) -> Run | None:
        run = self.get(run_id)
        if run is not None or not RUN_ID.fullmatch(run_id):
            return run
        return await self._loads.once(run_id, lambda: self._load(run_id))

    async def _load(self, run_id: str) -> Run | None:
        doc = await redis_queue.state(self.redis, run_id)
        if doc is None:
            return None
        run = run_of(doc, self.experiments)
        if run.finished:
            timeline = snapshots.load(await redis_queue.load_snapshot(self.redis, run_id), run_id)
            if timeline is not None:  # as the node left it: no replay
                run.timeline = timeline
                self._cache.remember(run)
                return run
        run = mirror_of(doc, self.experiments)  # the stream folded from its first entry brings it to now
        entries = await redis_queue.entries(self.redis, run_id)
        # Off the loop, as the SQLite store replays on its database thread: a long log takes seconds to fold,
        # and the replica's other viewers must not wait. Nothing else holds the mirror until it is remembered.
        await asyncio.to_thread(self._fold_all, run, entries)
        after = entries[-1].id if entries else "0-0"
        self._cache.remember(run)
        if not run.finished:
            self._spawn(self._follow(run, after))
        return run

    async def _follow(self, run: Run, after: str) -> None:
        """Fold the run's stream into it, from after the entry `after`, until its end."""
        key = formats.events_key(run.id)
        away = False
        while not run.finished:
            try:
                reply = await self.redis.xread({key: after}, block=FOLLOW_BLOCK_MS)
            except RedisError as exc:
                if not away:  # once per outage, not every RETRY_S
                    log.warning("run %s: Redis unreachable while following it (%s); trying again", run.id, exc)
                away = True
                await asyncio.sleep(RETRY_S)
                continue
            away = False
            for entry_id, fields in replies.read_entries_of(reply):
                after = entry_id.decode()
                try:
                    entry = formats.read_entry(entry_id, fields)
                except (ValueError, KeyError):
                    log.warning("run %s: entry %s left out", run.id, after, exc_info=True)
                    continue
                if run.truncated is not None and entry.state is not None and Status(entry.state["status"]).finished:
                    await self._end_with_snapshot(run, entry)
                else:
                    self._fold(run, entry)
        self._cache.remember(run)

    async def _end_with_snapshot(self, run: Run, end: Entry) -> None:
        """A run whose stored log was cut at LAB_MAX_LOG_MB: its mirror holds only what the cut log kept; it
        ends drawn as its node drew it (the snapshot its end was written with), as any replica loads it."""
        timeline = snapshots.load(await redis_queue.load_snapshot(self.redis, run.id), run.id)
        self._fold(run, end)
        if timeline is not None:
            run.timeline = timeline  # in the same step as the end: the last frame draws it

    @classmethod
    def _fold_all(cls, run: Run, entries: list[Entry]) -> None:
        for entry in entries:
            cls._fold(run, entry)

    @staticmethod
    def _fold(run: Run, entry: Entry) -> None:
        try:
            fold(run, entry)
        except Exception:  # a row this replica cannot decode: the rest of the run is still shown
            log.exception("run %s: entry %s could not be folded", run.id, entry.id)

    # -- the event log, read from the run's stream --

    async def rows(self, run_id: str, first: int, last: int, limit: int) -> list[tuple[int, bytes]]:
        rows: list[tuple[int, bytes]] = []
        async for entry in redis_queue.each_entry(self.redis, run_id):
            if entry.kind != "events" or entry.first < first:
                continue
            if entry.first > last or len(rows) >= limit:
                break
            rows.append((entry.first, entry.data))
        return rows

    async def stored_events(self, run_id: str, after: int, limit: int) -> list[tuple[int, Event]]:
        out: list[tuple[int, Event]] = []
        async for entry in redis_queue.each_entry(self.redis, run_id):
            if entry.kind != "events" or entry.last <= after:
                continue
            out.extend((seq, event) for seq, event in unpack_events(entry.data, entry.first) if seq > after)
            if len(out) >= limit:
                break
        return out[:limit]

    async def events(
        self, run_id: str, after: int, limit: int, lane_of_tid: dict[int, str] | None = None
    ) -> list[NumberedEventJson]:
        return [
            {"seq": seq, **event.to_json(lane_of_tid)} for seq, event in await self.stored_events(run_id, after, limit)
        ]

    async def delete_before(self, cutoff: float) -> int:
        deleted = await redis_queue.delete_before(self.redis, cutoff)
        self._cache.forget(deleted)
        return len(deleted)

    async def history(self, page: int, size: int) -> Page:
        docs, total = await redis_queue.history(self.redis, page, size)
        rows = [
            (
                doc["id"],
                doc["experiment"],
                doc["params"],
                doc["status"],
                doc["created_at"],
                doc["started_at"],
                doc["ended_at"],
            )
            for doc in docs
        ]  # HISTORY_COLUMNS's
        return Page([history_row(row) for row in rows], page, size, total)

    # -- the Journal: a node journals the runs it runs; a replica's mirrors report nothing --

    def append(self, run: Run, events: list[Event], wire: bytes = b"") -> None:
        return None

    def save(self, run: Run) -> None:
        return None

    async def room(self) -> None:
        return None

    # -- tasks --

    def _spawn(self, coroutine: Awaitable[Any]) -> asyncio.Future[Any]:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a task of the Redis run store failed", exc_info=task.exception())

    async def refresh(self) -> None:
        """Read the queue's view now; follow any run in flight not followed yet."""
        self.in_flight = await redis_queue.in_flight(self.redis)
        for job in (*self.in_flight.queued, *(job for job, _ in self.in_flight.executing)):
            try:
                await self.find(job.run)
            except RedisError:
                raise
            except Exception:  # one run this replica cannot read: the others are still followed
                log.exception("run %s could not be followed", job.run)
        self.polled.set()

    async def _poll(self) -> None:
        """Refresh every `poll_s`."""
        away = False
        while True:
            try:
                await self.refresh()
                away = False
            except RedisError as exc:
                if not away:
                    log.warning("Redis could not be read: the queue's view is not refreshed (%s)", exc)
                away = True
            except Exception:
                log.exception("the queue's view could not be read")
            await asyncio.sleep(self.poll_s)
