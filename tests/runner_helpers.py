"""Run an experiment through the real runner (a child process) and read back its events.

Each run gets its own session, so its process group holds the runner and every process it
starts; whatever is left of the group at the end is killed, and reported, so no test leaves
orphan processes behind.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.model.documents import FailureInfo
from app.model.events import SAMPLED, Event, StreamParser
from app.model.timeline import Span, Timeline
from tests.helpers import ROOT, alive_in_group, poll, until

READ_SIZE = 1 << 16


@dataclass
class Outcome:
    events: list[Event]
    returncode: int
    stderr: str
    leftovers: list[int] = field(default_factory=list)  # pids of the run still alive after it ended

    @property
    def result(self) -> dict[str, Any] | None:
        """What the experiment returned (its own keys), None if it returned nothing."""
        return next((e.value for e in self.events if e.kind == "result"), None)

    @property
    def failure(self) -> FailureInfo | None:
        return next((e.value for e in self.events if e.kind == "failure"), None)

    def of(self, kind: str, worker: str | None = None) -> list[Event]:
        return [e for e in self.events if e.kind == kind and (worker is None or e.worker == worker)]

    def workers(self) -> list[str]:
        return [e.worker for e in self.of("lane")]

    def timeline(self) -> Timeline:
        """The events folded into lanes of spans, as the server folds them, but every span kept apart
        (the server merges spans too short to draw; these tests read the experiment's story)."""
        timeline = Timeline(coalesce=False)
        for event in self.events:
            timeline.apply(event)
        return timeline

    def spans(self, worker: str) -> list[Span]:
        """The lane's finished spans, in the order they ended."""
        timeline = self.timeline()
        lane = timeline.by_worker.get(worker)
        return [span for span in timeline.spans if lane is not None and span.lane == lane.index]

    def open_spans(self) -> dict[str, list[str]]:
        """Each lane's spans that never ended, outermost first."""
        return {lane.worker: [name for name, _, _ in lane.stack] for lane in self.timeline().lanes if lane.stack}


def _start(module: str, params: dict[str, Any], python: str) -> subprocess.Popen[bytes]:
    """A runner given its experiment on the command line."""
    return _runner(python, [module, json.dumps(params)], stdin=subprocess.DEVNULL)


def _runner(python: str, args: list[str], stdin: int) -> subprocess.Popen[bytes]:
    """`python -m experiments.harness.runner *args` in a session of its own, its output piped."""
    return subprocess.Popen(
        [python, "-m", "experiments.harness.runner", *args],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        start_new_session=True,
    )


def _wait_for_group(pgid: int, patience_s: float) -> list[int]:
    """Poll until group `pgid` has no running process or `patience_s` is over; return what is left."""
    poll(lambda: not alive_in_group(pgid), patience_s, every=0.01)
    return alive_in_group(pgid)


def _end_group(pgid: int, grace_s: float) -> list[int]:
    """Give the group `grace_s` to finish exiting, then SIGKILL it; return the pids it had to kill.

    The grace covers processes that closed their end of the pipe but are still exiting.
    """
    leftovers = _wait_for_group(pgid, grace_s)
    if leftovers:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _wait_for_group(pgid, 5.0)
    return leftovers


def run_experiment(module: str, params: dict[str, Any], python: str = sys.executable, timeout: float = 60) -> Outcome:
    """`python -m experiments.harness.runner module params` to the end, its stdout parsed as the event stream."""
    return _to_the_end(_start(module, params, python), timeout)


def run_with_the_sampler_held(
    module: str, params: dict[str, Any], held_s: float, timeout: float = 60, killed: bool = False
) -> Outcome:
    """Run as the server does (a runner waiting for its job on stdin, its sampler forked), with the sampler
    stopped (SIGSTOP) from before the job is sent until `held_s` later: a loaded machine keeping it from a CPU.
    `killed`: SIGKILLed there instead, never to follow the run."""
    proc = _runner(sys.executable, [], stdin=subprocess.PIPE)  # the job comes on stdin

    def hold() -> None:
        assert proc.stdin is not None
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
        sampler = int(until(lambda: children.read_text().split(), 10, "the runner forking its sampler", 0.01)[0])
        # Once it has told the runner its source and rehearsed, it waits for GO: reading its control pipe.
        wchan = Path(f"/proc/{sampler}/wchan")
        until(lambda: "pipe" in wchan.read_text(), 10, "the sampler waiting for GO", 0.01)
        os.kill(sampler, signal.SIGKILL if killed else signal.SIGSTOP)
        if killed:  # dead (a zombie, its pipes closed) before the job comes
            stat = Path(f"/proc/{sampler}/stat")
            until(lambda: stat.read_text().rsplit(") ", 1)[1].startswith("Z"), 10, "the sampler dead", 0.01)
        job = {"module": module, "params": json.dumps(params), "oncpu": True}
        proc.stdin.write(json.dumps(job).encode() + b"\n")
        proc.stdin.flush()  # a line: the runner reads one (communicate closes the pipe)
        if not killed:
            time.sleep(held_s)  # the delay under test, not a wait for something
            os.kill(sampler, signal.SIGCONT)

    return _to_the_end(proc, timeout, hold)


def _to_the_end(proc: subprocess.Popen[bytes], timeout: float, meanwhile: Callable[[], None] = lambda: None) -> Outcome:
    """`meanwhile`, then the runner's output until it exits, parsed; its process group ended whatever happens."""
    try:
        meanwhile()
        stdout, stderr = proc.communicate(timeout=timeout)
    finally:
        leftovers = _end_group(proc.pid, grace_s=1.0)
    parser = StreamParser()
    events = parser.feed(stdout) + parser.close()
    return Outcome(events, proc.returncode, stderr.decode("utf-8", "replace"), leftovers)


def run_until_quiet(
    module: str, params: dict[str, Any], quiet_s: float = 2.0, limit_s: float = 30, python: str = sys.executable
) -> Outcome:
    """Run until the runner exits or its events stop for `quiet_s`, then kill its process group.

    For runs that hang: they never end by themselves. Quiet is judged as the server's hang watchdog
    judges it (app/running/supervisor.py): the sampler writes while every worker is blocked too, so
    only events the experiment recorded count as progress. `leftovers` are the processes still
    alive after the kill (there should be none); the returncode is -9 if it had to be killed.
    """
    proc = _start(module, params, python)
    assert proc.stdout is not None and proc.stderr is not None  # _start pipes both
    parser = StreamParser()
    events: list[Event] = []
    deadline = time.monotonic() + limit_s
    progress_at = time.monotonic()
    try:
        while (now := time.monotonic()) < deadline and now - progress_at < quiet_s:
            ready, _, _ = select.select([proc.stdout], [], [], progress_at + quiet_s - now)
            if not ready:
                break
            data = os.read(proc.stdout.fileno(), READ_SIZE)
            if not data:  # every process holding the pipe has exited
                break
            batch = parser.feed(data)
            if not all(event.kind in SAMPLED for event in batch):
                progress_at = time.monotonic()
            events += batch
    finally:
        _end_group(proc.pid, grace_s=0)
        proc.wait()
    events += parser.close()
    stderr = proc.stderr.read().decode("utf-8", "replace")
    proc.stdout.close()
    proc.stderr.close()
    return Outcome(events, proc.returncode, stderr, alive_in_group(proc.pid))
