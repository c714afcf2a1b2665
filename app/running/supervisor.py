"""Run one experiment in a child process group and feed its event stream into the Run.

The runner is `python -m experiments.harness.runner` in a new session (so its process group holds it
and every process it starts), started ahead of the run (app/running/runners.py). Whatever happens
(done, crash, cancel, timeout, hang, server shutdown), the group is killed at the end, so no
experiment process outlives its run.

A watchdog ends a deadlocked run early: when the runner has sent nothing for `hang_after_s`
and every live worker is blocked in a wait (app/model/hangs.py), nothing will ever move again.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from dataclasses import dataclass, field

from app.model.documents import FailureInfo
from app.model.events import SAMPLED, StreamParser
from app.model.hangs import Blocked, blocked_workers, lost_tasks, lost_words
from app.model.runs import Run
from app.model.status import Status
from app.model.timeline import Death, signal_name
from app.running import pythons
from app.running.pipe_reader import PipeReader, Readable
from app.running.pythons import Interpreter
from app.running.runners import WarmRunner, signal_group
from app.settings import Settings

log = logging.getLogger(__name__)

STDERR_TAIL = 16_000
READ_SIZE = 1 << 16


@dataclass
class Heartbeat:
    """When the runner last sent events (monotonic seconds)."""

    at: float = field(default_factory=time.monotonic)

    def beat(self) -> None:
        self.at = time.monotonic()

    def silent_for(self) -> float:
        return time.monotonic() - self.at


async def _pump_oncpu(fd: int, run: Run, heartbeat: Heartbeat) -> None:
    """The sampler's own pipe (experiments/harness/sampler.py): batches only, so any bad line is a torn one.
    Read by a PipeReader, which alone closes it (app/running/pipe_reader.py: not a uvloop transport)."""
    pipe = PipeReader(fd)
    try:
        await _pump_events(pipe, run, heartbeat, StreamParser(batches_only=True))
    finally:
        pipe.close()


async def _pump_events(stream: Readable, run: Run, heartbeat: Heartbeat, parser: StreamParser | None = None) -> None:
    parser = parser or StreamParser()
    while data := await stream.read(READ_SIZE):
        events = parser.feed(data)
        # The sampler writes while workers run, and while they are all blocked too: only what the
        # experiment recorded is progress.
        if not all(event.kind in SAMPLED for event in events):
            heartbeat.beat()
        if events:
            run.ingest(events, parser.wire)  # the lines as they came: the store keeps those, not re-encoded events
            if run.journal is not None:
                await run.journal.room()  # the store is far behind: let the pipe fill until it catches up
        # read() returns at once while the pipe has data: let the loop breathe between chunks
        # (frames, other sockets, /healthz), or a flood would hold it for as long as it lasts.
        await asyncio.sleep(0)
    run.ingest(parser.close())


async def _watch_for_hang(run: Run, heartbeat: Heartbeat, after_s: float) -> tuple[list[Blocked], list[Death]]:
    """Return who is blocked on what once the run is silent for `after_s` with every live worker blocked; or,
    with the tasks a multiprocessing.Pool lost, `after_s` after it lost the first, whatever the others do."""
    poll_s = min(0.25, after_s / 4)
    lost_at: float | None = None
    while True:
        await asyncio.sleep(poll_s)
        if heartbeat.silent_for() >= after_s:
            blocked = blocked_workers(run.timeline)
            if blocked:
                return blocked, []
        if lost_at is None and lost_tasks(run.timeline):
            lost_at = time.monotonic()
        if lost_at is not None and time.monotonic() - lost_at >= after_s:
            return blocked_workers(run.timeline), lost_tasks(run.timeline)


async def _pump_stderr(stream: asyncio.StreamReader, run: Run) -> None:
    while data := await stream.read(READ_SIZE):
        run.stderr_tail = (run.stderr_tail + data.decode("utf-8", "replace"))[-STDERR_TAIL:]


def limit_hit(failure: FailureInfo | None, returncode: int, settings: Settings) -> str | None:
    """Which of the runner's rlimits (experiments/harness/rlimits.py) ended the run, in words; None if none did."""
    if failure:
        kind, message = failure.get("type"), str(failure.get("message", ""))
        if kind == "MemoryError":
            return (
                f"ran out of memory: each of the run's processes may use at most "
                f"{settings.run_memory_mb} MB of address space (LAB_RUN_MEMORY_MB)"
            )
        # fork() past RLIMIT_NPROC fails with EAGAIN; so does starting a thread
        if (
            kind == "BlockingIOError"
            or "Resource temporarily unavailable" in message
            or "can't start new thread" in message
        ):
            return (
                f"could not start another process or thread: a run may add at most {settings.run_processes} "
                f"to the server user's (LAB_RUN_PROCESSES)"
            )
    if returncode == -signal.SIGXCPU:
        return (
            f"a process of the run used its {settings.run_cpu_s} CPU-seconds limit (LAB_RUN_CPU_S) "
            f"and was killed by SIGXCPU"
        )
    return None


def _outcome(run: Run, returncode: int, settings: Settings) -> tuple[Status, str | None]:
    """How a run that ended by itself ended; a failure says the experiment's exception, the limit it hit
    and the workers killed under it, if any (a worker killed by a signal is the cause more often than
    not: BrokenProcessPool, a lost task). The run's `error` is the one place that says why it failed."""
    failure = run.timeline.failure
    limit = limit_hit(failure, returncode, settings)
    deaths = _deaths(run)
    if failure or limit:
        return Status.FAILED, _joined(_exception(failure), limit, deaths)
    if returncode == 0 and run.result is not None:
        return Status.DONE, None
    if returncode < 0:
        return Status.FAILED, _joined(f"the runner was killed by {signal_name(-returncode)}", deaths)
    return Status.FAILED, _joined(f"the runner exited with status {returncode} without a result", deaths)


async def execute_or_fail(
    run: Run, settings: Settings, warm_runner: WarmRunner, interpreters: tuple[Interpreter, ...] = ()
) -> None:
    """`execute` on the interpreter the run's `python` param picks among `interpreters`; a run whose runner
    could not even start (LAB_PYTHON missing, say) fails, saying why. The lab and a runner node both run so."""
    try:
        python = pythons.path_of(interpreters, run.params) if interpreters else None
        await execute(run, settings, warm_runner, python)
    except Exception as exc:
        log.exception("run %s (%s): could not run the experiment", run.id, run.experiment.id)
        if not run.finished:
            run.finish(Status.FAILED, f"could not run the experiment: {type(exc).__name__}: {exc}")


async def execute(run: Run, settings: Settings, warm_runner: WarmRunner, python: str | None = None) -> None:
    """Hand the run to a runner on `python` (a path; None: LAB_PYTHON), stream its events into `run`,
    and end the run with the right status."""
    run.start()  # before the await: a cancel that comes while the runner starts must reach the watch below
    runner = await warm_runner.take(python)
    if run.cancel_requested.is_set():  # cancelled while its runner started: the experiment never starts
        await runner.discard()
        run.finish(run.stop_as, _why_stopped(run, run.stop_as, settings))
        return
    runner = await warm_runner.hand_over(runner, run.experiment.module, run.params, python)
    proc = runner.proc
    heartbeat = Heartbeat()
    assert proc.stdout is not None and proc.stderr is not None  # a runner is started with both piped
    pumps = [
        asyncio.create_task(_pump_events(proc.stdout, run, heartbeat)),
        asyncio.create_task(_pump_stderr(proc.stderr, run)),
    ]
    oncpu = runner.take_oncpu()
    if oncpu >= 0:
        pumps.append(asyncio.create_task(_pump_oncpu(oncpu, run, heartbeat)))
    exited = asyncio.create_task(_runner_exit(proc))
    cancelled = asyncio.create_task(run.cancel_requested.wait())
    hung = asyncio.create_task(_watch_for_hang(run, heartbeat, settings.hang_after_s))
    stopped_by: Status | None = None
    deaths_before_stop: str | None = None  # our own SIGTERM kills the rest: those are not news
    try:
        done, _ = await asyncio.wait(
            {exited, cancelled, hung}, timeout=settings.run_timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
        if exited not in done:
            if cancelled in done:
                stopped_by = run.stop_as  # cancelled, or interrupted by the server's shutdown
            elif hung in done:
                stopped_by = Status.HUNG
                run.blocked, lost = hung.result()  # taken before the kill: what they were blocked on
                deaths_before_stop = lost_words(lost) if lost else _deaths(run)
            else:
                stopped_by = Status.TIMED_OUT
            run.timeline.stopping(time.monotonic_ns())  # the runner's clock: what ends from now on, we ended
            await _stop_group(proc, exited, settings.cancel_grace_s)
    except asyncio.CancelledError:  # the server is shutting down
        stopped_by = Status.INTERRUPTED
        run.timeline.stopping(time.monotonic_ns())
        await _stop_group(proc, exited, settings.cancel_grace_s)
        raise
    finally:
        cancelled.cancel()
        hung.cancel()
        # Children the runner left behind (it was killed, or leaked them) die with the group.
        runner.release()
        await exited
        # The pipes close once every process holding them is gone.
        try:
            await asyncio.wait_for(asyncio.gather(proc.wait(), *pumps, return_exceptions=True), timeout=5)
        except TimeoutError:
            for pump in pumps:
                pump.cancel()
        if stopped_by is not None:
            why: str | None = _why_stopped(run, stopped_by, settings)
            if stopped_by == Status.HUNG and run.blocked:  # waiting on a worker that was killed: say which
                why = _joined(why, deaths_before_stop)
            elif stopped_by == Status.HUNG:  # a pool's lost task, while other workers still worked
                why = _joined(deaths_before_stop, "the run's processes were killed")
            run.finish(stopped_by, why, cut_at_ns=time.monotonic_ns())
        else:
            assert proc.returncode is not None  # `exited` ended, above: it returns once the runner has exited
            status, error = _outcome(run, proc.returncode, settings)
            run.finish(status, error, cut_at_ns=time.monotonic_ns() if status == Status.FAILED else None)


async def _runner_exit(proc: asyncio.subprocess.Process) -> int:
    """The runner's exit status, as soon as it exits.

    Not `proc.wait()`: that also waits for the stdout/stderr pipes to close, and a grandchild
    that outlives a killed runner holds them open; we must notice the exit to kill the group.
    """
    while proc.returncode is None:
        await asyncio.sleep(0.05)
    return proc.returncode


def _exception(failure: FailureInfo | None) -> str | None:
    """The experiment's exception as Python prints its last line: `ZeroDivisionError: division by zero`."""
    if not failure:
        return None
    kind, message = str(failure.get("type") or "Exception"), str(failure.get("message") or "")
    return f"{kind}: {message}" if message else kind


def _deaths(run: Run) -> str | None:
    """The workers whose process was killed under them, in words (the sampler saw them die)."""
    deaths = run.timeline.deaths
    return "; ".join(death.words() for death in deaths) if deaths else None


def _joined(*parts: str | None) -> str | None:
    text = "; ".join(part for part in parts if part)
    return text or None


def _why_stopped(run: Run, stopped_by: Status, settings: Settings) -> str:
    if stopped_by == Status.HUNG:
        return (
            f"every live worker was blocked, with no progress for {settings.hang_after_s:g} s: "
            "the run's processes were killed"
        )
    if stopped_by == Status.TIMED_OUT:
        return f"stopped at the time limit of {settings.run_timeout_s:g} s"
    if stopped_by == Status.INTERRUPTED:
        return f"{run.stopped_by} stopped while it ran"
    return "cancelled while running"


async def _stop_group(proc: asyncio.subprocess.Process, exited: asyncio.Task[int], grace_s: float) -> None:
    """SIGTERM first (the runner flushes what it recorded), SIGKILL after the grace period."""
    signal_group(proc.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(asyncio.shield(exited), timeout=grace_s)
    except TimeoutError:
        pass
    signal_group(proc.pid, signal.SIGKILL)
