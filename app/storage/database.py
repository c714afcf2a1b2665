"""One thread that owns a SQLite connection: jobs in, results out, so the event loop never touches the disk.

Jobs run in the order they were submitted. Whatever jobs are waiting when the thread wakes run in
one transaction: under load, many small writes cost one commit. A job that raises fails alone
(its future gets the exception); the others in its transaction are kept.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

Job = tuple[Callable[..., Any], tuple[Any, ...], Future[Any]]
MAX_JOBS_PER_TRANSACTION = 256
T = TypeVar("T")
log = logging.getLogger(__name__)


def connect(path: str) -> sqlite3.Connection:
    if path != ":memory:":
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")  # readers (a second process, a backup) never block the writer
    conn.execute("PRAGMA synchronous = NORMAL")  # durable at each checkpoint; a power cut may lose the last commits
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


class Database:
    def __init__(self, path: str):
        self.path = path
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        ready: Future[None] = Future()
        self._thread = threading.Thread(target=self._serve, args=(ready,), name="lab-database", daemon=True)
        self._thread.start()
        ready.result()  # an unusable path fails here, at startup, not at the first run

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run `fn(connection, *args)` on the database thread."""
        future: Future[T] = Future()
        self._jobs.put((fn, args, future))
        return future

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.wrap_future(self.submit(fn, *args))

    async def stop(self) -> None:
        """Finish every job submitted so far, then close the connection."""
        if self._thread is None:
            return
        self._jobs.put(None)
        await asyncio.to_thread(self._thread.join)
        self._thread = None

    def _serve(self, ready: Future[None]) -> None:
        try:
            conn = connect(self.path)
        except Exception as exc:  # not logged here: start() raises it, at startup
            ready.set_exception(exc)
            return
        ready.set_result(None)
        try:
            while True:
                jobs = [self._jobs.get()]
                while jobs[-1] is not None and len(jobs) < MAX_JOBS_PER_TRANSACTION:
                    try:
                        jobs.append(self._jobs.get_nowait())
                    except queue.Empty:
                        break
                stop = jobs[-1] is None
                self._transaction(conn, [job for job in jobs if job is not None])
                if stop:
                    return
        finally:
            conn.close()

    @staticmethod
    def _transaction(conn: sqlite3.Connection, jobs: list[Job]) -> None:
        if not jobs:
            return
        results: list[tuple[Future[Any], Any, BaseException | None]] = []
        conn.execute("BEGIN")
        for fn, args, future in jobs:
            try:
                results.append((future, fn(conn, *args), None))
            except Exception as exc:  # fails alone; often a write nobody awaits, so this log is all that tells of it
                log.exception("database job %s failed", getattr(fn, "__qualname__", fn))
                results.append((future, None, exc))
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:  # disk full, database locked by another process for too long
            log.exception("database transaction of %d jobs could not be committed; each fails", len(jobs))
            # A full disk (an I/O error) makes SQLite roll back by itself, and a ROLLBACK then raises:
            # it would end this thread, and every later job (and the pages waiting on one) would hang.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            results = [(future, None, error or exc) for future, _, error in results]
        # Results only once committed: a caller that saw its write done can read it back from anywhere.
        for future, result, error in results:
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)
