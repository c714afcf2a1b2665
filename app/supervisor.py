"""Run one experiment in a child process group and feed its event stream into the Run.

The runner is `python -m experiments.runner` in a new session (so its process group holds it
and every process it starts). Whatever happens (done, crash, cancel, timeout, server
shutdown), the group is killed at the end, so no experiment process outlives its run.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path

from app.events import StreamParser
from app.runs import Run
from app.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
STDERR_TAIL = 16_000
READ_SIZE = 1 << 16


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


async def _pump_events(stream: asyncio.StreamReader, run: Run) -> None:
    parser = StreamParser()
    while data := await stream.read(READ_SIZE):
        events = parser.feed(data)
        if events:
            run.ingest(events)
    run.ingest(parser.close())


async def _pump_stderr(stream: asyncio.StreamReader, run: Run) -> None:
    while data := await stream.read(READ_SIZE):
        run.stderr_tail = (run.stderr_tail + data.decode("utf-8", "replace"))[-STDERR_TAIL:]


def _outcome(run: Run, returncode: int) -> tuple[str, str | None]:
    if run.timeline.failure:
        return "failed", None
    if returncode == 0 and run.result is not None:
        return "done", None
    if returncode < 0:
        return "failed", f"the runner was killed by {signal.Signals(-returncode).name}"
    return "failed", f"the runner exited with status {returncode} without a result"


async def execute(run: Run, settings: Settings) -> None:
    """Start the runner, stream its events into `run`, and end the run with the right status."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        settings.python, "-m", "experiments.runner", run.experiment.module, json.dumps(run.params),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        cwd=ROOT, env=env, start_new_session=True,
    )
    run.start()
    pumps = [asyncio.create_task(_pump_events(proc.stdout, run)), asyncio.create_task(_pump_stderr(proc.stderr, run))]
    exited = asyncio.create_task(_runner_exit(proc))
    cancelled = asyncio.create_task(run.cancel_requested.wait())
    stopped_by: str | None = None
    try:
        done, _ = await asyncio.wait({exited, cancelled}, timeout=settings.run_timeout_s,
                                     return_when=asyncio.FIRST_COMPLETED)
        if exited not in done:
            stopped_by = "cancelled" if cancelled in done else "timed_out"
            await _stop_group(proc, exited, settings.cancel_grace_s)
    except asyncio.CancelledError:  # the server is shutting down
        stopped_by = "cancelled"
        await _stop_group(proc, exited, settings.cancel_grace_s)
        raise
    finally:
        cancelled.cancel()
        # Children the runner left behind (it was killed, or leaked them) die with the group.
        _signal_group(proc.pid, signal.SIGKILL)
        await exited
        # The pipes close once every process holding them is gone.
        try:
            await asyncio.wait_for(asyncio.gather(proc.wait(), *pumps), timeout=5)
        except asyncio.TimeoutError:
            for pump in pumps:
                pump.cancel()
        if stopped_by == "cancelled":
            run.finish("cancelled", "cancelled while running", cut_at_ns=time.monotonic_ns())
        elif stopped_by == "timed_out":
            run.finish("timed_out", f"stopped at the time limit of {settings.run_timeout_s:g} s",
                       cut_at_ns=time.monotonic_ns())
        else:
            status, error = _outcome(run, proc.returncode)
            run.finish(status, error, cut_at_ns=time.monotonic_ns() if status == "failed" else None)


async def _runner_exit(proc: asyncio.subprocess.Process) -> int:
    """The runner's exit status, as soon as it exits.

    Not `proc.wait()`: that also waits for the stdout/stderr pipes to close, and a grandchild
    that outlives a killed runner holds them open; we must notice the exit to kill the group.
    """
    while proc.returncode is None:
        await asyncio.sleep(0.05)
    return proc.returncode


async def _stop_group(proc: asyncio.subprocess.Process, exited: asyncio.Task, grace_s: float) -> None:
    """SIGTERM first (the runner flushes what it recorded), SIGKILL after the grace period."""
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(asyncio.shield(exited), timeout=grace_s)
    except asyncio.TimeoutError:
        pass
    _signal_group(proc.pid, signal.SIGKILL)
