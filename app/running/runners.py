"""Runner interpreters: start one, and keep the next one started ahead, so a run does not wait for it.

A runner is `python -m experiments.harness.runner` in a new session (its process group holds it and
every process it starts), waiting for its job on stdin. Starting an interpreter and importing
the runner takes about 80 ms of CPU here, more while a browser draws: most of the time from
Run to the first lane. So one runner is kept started ahead (a warm slot): a run takes it and
hands it its job at once. The next one is started when a run ends, never while one starts,
so a timing run does not share the CPU with an interpreter starting beside it.

Each runner comes with its lifeline (experiments/harness/lifeline.py): the write end of a pipe only
this process holds. If the server dies, the runner reads EOF and kills its own group, waiting
or running.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from dataclasses import dataclass
from typing import Any, TypedDict

from app import ROOT
from app.running.pythons import PARAM_NAME, pythonpath
from app.settings import Settings
from experiments import own
from experiments.harness import lifeline, rlimits, sampler

log = logging.getLogger(__name__)


def signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):  # expected: the whole group has exited already
        pass


def user_tasks(uid: int) -> int:
    """Processes and threads of `uid` now: what RLIMIT_NPROC counts on Linux."""
    count = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid == uid:
                count += len(os.listdir(f"/proc/{entry.name}/task"))
        except (FileNotFoundError, PermissionError):  # gone meanwhile, or hidden
            pass
    return count


def _tasks_of(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except FileNotFoundError:
        return 0


def runner_env() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": pythonpath(),
        "PYTHONUNBUFFERED": "1",
        # glibc reserves 64 MB of address space per malloc arena, up to 8 per core: with many
        # threads that alone would exhaust RLIMIT_AS. Two arenas are plenty for these experiments.
        "MALLOC_ARENA_MAX": "2",
        # A free-threaded CPython allocates with mimalloc, which reserves 1 GiB of address space for
        # its first arena: past RLIMIT_AS, so no thread could start. 64 MiB (in KiB) reserved at a time.
        "MIMALLOC_ARENA_RESERVE": "65536",
    }


def oncpu_env(settings: Settings) -> dict[str, str]:
    """What the runner's sampler is told to use (experiments/harness/sampler.py): it opens its source before the job comes."""
    env: dict[str, str] = {sampler.SOURCE_ENV: settings.oncpu_source}
    if settings.oncpu_pretend_paranoid is not None:
        env[sampler.PARANOID_ENV] = str(settings.oncpu_pretend_paranoid)
    return env


def own_env(settings: Settings) -> dict[str, str]:
    """Where the runner, and every process its experiment starts, imports the teacher's experiments from
    (experiments/own/__init__.py): LAB_EXPERIMENTS_DIR as this lab's settings say, whatever the server's
    environment holds; empty: none."""
    return {own.ENV: str(settings.experiments_dir or "")}


class RunnerJob(TypedDict):
    """The line a runner reads on its stdin (experiments/harness/runner.py): what to run, and under which limits."""

    module: str
    params: str  # JSON: the experiment's own params
    oncpu: bool
    limits: dict[str, int]  # experiments/harness/rlimits.py spec


def job(module: str, params: dict[str, Any], settings: Settings, user_tasks_before: int) -> RunnerJob:
    """What a runner is handed: the experiment, its params, and the run's resource limits.

    RLIMIT_NPROC counts the user's tasks: the run may add `run_processes` to those there were
    before it, counted at hand-over, less the runner's own (a runner started at the click would
    not have counted itself either). Another run's runner, started ahead meanwhile, counts.
    """
    nproc = user_tasks_before + settings.run_processes
    params = {name: value for name, value in params.items() if name != PARAM_NAME}  # the lab's, not the experiment's
    return {
        "module": module,
        "params": json.dumps(params),
        "oncpu": settings.oncpu,
        "limits": rlimits.spec(settings.run_memory_mb, settings.run_cpu_s, nproc),
    }


@dataclass
class Runner:
    """A started runner interpreter, waiting for its job, the write end of its lifeline, and the read
    end of its sampler's own pipe (-1: none; the supervisor takes it, `take_oncpu`)."""

    proc: asyncio.subprocess.Process
    holder: int
    oncpu: int = -1

    def take_oncpu(self) -> int:
        """The sampler's pipe, now the caller's to read and close."""
        fd, self.oncpu = self.oncpu, -1
        return fd

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    def tasks_besides(self) -> int:
        """The user's tasks now, less this runner's own."""
        return user_tasks(os.getuid()) - _tasks_of(self.proc.pid)

    async def send(self, job: RunnerJob) -> bool:
        """Send the runner its job; False if it died waiting (its stdin is closed)."""
        stdin = self.proc.stdin
        assert stdin is not None, "a runner is started with its stdin piped (start_runner)"
        try:
            stdin.write(json.dumps(job).encode() + b"\n")
            await stdin.drain()  # does not always raise when the write failed: the transport closes instead
        except (BrokenPipeError, ConnectionResetError):
            return False
        if stdin.is_closing():  # not closed by us: nobody reads the other end
            return False
        stdin.close()
        return True

    def release(self) -> None:
        """Kill what is left of its group and let go of its lifeline (the runner is dead or must die).
        Safe to call again: the fd is closed once (a second close could hit a reused fd number)."""
        signal_group(self.proc.pid, signal.SIGKILL)
        if self.holder >= 0:
            os.close(self.holder)
            self.holder = -1
        if self.oncpu >= 0:
            os.close(self.oncpu)
            self.oncpu = -1

    async def discard(self) -> None:
        self.release()
        await self.proc.wait()


async def start_runner(settings: Settings, python: str | None = None) -> Runner:
    """A runner on `python` (a path; the default is LAB_PYTHON)."""
    lifeline_fd, holder = os.pipe()
    # The sampler's own pipe: the experiment's writes to fd 1 (a flood's 64 KiB) never tear its lines.
    oncpu_read, oncpu_write = os.pipe()
    try:
        proc = await asyncio.create_subprocess_exec(
            python or settings.python,
            "-m",
            "experiments.harness.runner",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=ROOT,
            env={
                **runner_env(),
                lifeline.ENV: str(lifeline_fd),
                sampler.OUT_FD_ENV: str(oncpu_write),
                **oncpu_env(settings),
                **own_env(settings),
            },
            start_new_session=True,
            pass_fds=(lifeline_fd, oncpu_write),
        )
    except BaseException:
        os.close(holder)
        os.close(oncpu_read)
        raise
    finally:
        os.close(lifeline_fd)
        os.close(oncpu_write)
    return Runner(proc, holder, oncpu_read)


class WarmRunner:
    """One runner started ahead of the next run, on the default interpreter (LAB_PYTHON): a run
    on another one (its `python` param, app/running/pythons.py) starts its runner at the click."""

    def __init__(self, settings: Settings):
        self._settings = settings
        self._next: asyncio.Task[Runner] | None = None

    def start_next(self) -> None:
        """Start the next run's runner now, unless it is already started."""
        if self._next is None:
            self._next = asyncio.create_task(start_runner(self._settings))

    async def take(self, python: str | None = None) -> Runner:
        """The runner started ahead if it is still alive (it may still be starting), else a new one."""
        if python not in (None, self._settings.python):
            return await start_runner(self._settings, python)
        ahead = await self._claim()
        if ahead is not None:
            if ahead.alive:
                return ahead
            await ahead.discard()
        return await start_runner(self._settings)

    async def hand_over(self, runner: Runner, module: str, params: dict[str, Any], python: str | None = None) -> Runner:
        """Give `runner` the run; if it died waiting (asyncio may not have noticed yet), a new one on `python`.
        The runner that has it."""
        try:
            if await runner.send(job(module, params, self._settings, runner.tasks_besides())):
                return runner
            await runner.discard()
            runner = await start_runner(self._settings, python)
            await runner.send(job(module, params, self._settings, runner.tasks_besides()))
            return runner  # if this one died too, its exit status says so
        except BaseException:
            runner.release()
            raise

    async def close(self) -> None:
        """At shutdown: the runner started ahead is killed (it has no run)."""
        ahead = await self._claim()
        if ahead is not None:
            await ahead.discard()

    async def _claim(self) -> Runner | None:
        task, self._next = self._next, None
        if task is None:
            return None
        try:
            return await task
        except asyncio.CancelledError:
            # cancelled just as it started: nobody else will kill it (a task still starting it ends it itself)
            if task.done() and not task.cancelled() and task.exception() is None:
                task.result().release()
            raise
        except Exception:  # could not start (e.g. LAB_PYTHON missing): a new start will say why to the run
            log.warning("the runner started ahead could not start; starting another", exc_info=True)
            return None
