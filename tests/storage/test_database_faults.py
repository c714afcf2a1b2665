"""The database thread outlives a failed commit (a full disk) and a failed job: later jobs run, none waits forever.

A full disk is made real in a child process: RLIMIT_FSIZE caps the files it may write, and SIGXFSZ
is ignored so the write fails with an I/O error, as it does on a full disk. SQLite then rolls the
transaction back by itself, and a ROLLBACK after it raises.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import textwrap

from tests.helpers import ROOT

CHILD = textwrap.dedent("""
    import asyncio, os, resource, signal, sys
    from app.storage.database import Database

    def create(conn):
        conn.execute("CREATE TABLE t (x BLOB)")

    def write(conn, size):
        conn.execute("INSERT INTO t VALUES (?)", (os.urandom(size),))

    def count(conn):
        return conn.execute("SELECT count(*) FROM t").fetchone()[0]

    async def main():
        db = Database(sys.argv[1])
        db.start()
        await db.run(create)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
        try:
            await asyncio.wait_for(db.run(write, 500_000), 10)  # past the cap: fails at COMMIT
            print("big write: stored")
        except asyncio.TimeoutError:
            print("big write: no answer")
        except Exception as exc:
            print("big write: failed")
        try:
            await asyncio.wait_for(db.run(write, 1_000), 10)  # the disk has room again for this much
            print("small write:", await asyncio.wait_for(db.run(count), 10))
        except asyncio.TimeoutError:
            print("small write: no answer")
        await asyncio.wait_for(db.stop(), 10)

    asyncio.run(main())
""")


def test_a_commit_that_fails_for_a_full_disk_fails_its_jobs_and_the_next_ones_run(tmp_path):
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "lab.db")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert out.stdout.splitlines() == ["big write: failed", "small write: 1"], out.stdout + out.stderr


def test_a_job_that_raises_fails_alone_and_its_traceback_is_logged(tmp_path, caplog):
    """A write nobody awaits (a run's events, its row) that fails is known only from the log: it must say
    which job failed and where."""
    from app.storage.database import Database

    def create(conn):
        conn.execute("CREATE TABLE t (x INTEGER)")

    def write(conn, x):
        conn.execute("INSERT INTO t VALUES (?)", (x,))

    def broken_write(conn):
        conn.execute("INSERT INTO no_such_table VALUES (1)")

    def count(conn):
        return conn.execute("SELECT count(*) FROM t").fetchone()[0]

    async def main():
        db = Database(str(tmp_path / "lab.db"))
        db.start()
        await db.run(create)
        jobs = [db.submit(write, 1), db.submit(broken_write), db.submit(write, 2)]  # one transaction, most likely
        outcomes = await asyncio.gather(*(asyncio.wrap_future(job) for job in jobs), return_exceptions=True)
        stored = await db.run(count)
        await db.stop()
        return [isinstance(outcome, Exception) for outcome in outcomes], stored

    with caplog.at_level(logging.ERROR, logger="app.storage.database"):
        failed, stored = asyncio.run(main())
    assert failed == [False, True, False] and stored == 2
    [record] = [r for r in caplog.records if "broken_write" in r.getMessage()]
    assert record.exc_info is not None and "no_such_table" in caplog.text
