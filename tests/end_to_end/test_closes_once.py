"""The served lab closes each of its file descriptors once.

A second close of a number is not harmless in a server with threads: between the two closes another thread
can be handed that number (Linux gives out the lowest free one), and the second close takes it from under
it. uvloop's pipe transport did exactly that with each run's sampler pipe (MagicStack/uvloop#763): a run
failed with EBADF on its lifeline while a static file's read failed with EBADF, at the same moment. The
kernel's own record of every close says whether any close of the server failed with EBADF: the trace of a
second close that found the number free, and the sign of one that may not have.

Needs Debian's `strace` (installed by .ci/run).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
from functools import partial
from pathlib import Path

import httpx2 as httpx
import pytest
from websockets.sync.client import connect
from websockets.typing import Origin

from tests.helpers import AppProcess, until

STRACE = shutil.which("strace")
pytestmark = pytest.mark.skipif(STRACE is None, reason="strace is not installed here (.ci/run installs Debian's)")

LINE = re.compile(r"^(\d+) +(.*)$")
RESULT = re.compile(r"\)\s+= (-?\d+)(?: (\w+))?")  # what the call returned, and the errno's name


def failed_closes(trace: Path, server: int) -> list[str]:
    """The close() calls of `server`'s threads (not its child processes) that failed with EBADF, from
    `strace -f -e trace=close,clone,clone3`: a thread is the server's if a thread of the server cloned it
    with CLONE_THREAD."""
    threads, pending, failed = {server}, {}, []
    for raw in trace.read_text(errors="replace").splitlines():
        match = LINE.match(raw)
        if match is None:
            continue
        tid, call = int(match.group(1)), match.group(2)
        if call.endswith("<unfinished ...>"):
            pending[tid] = call
            continue
        if call.startswith("<..."):
            call = pending.pop(tid, "") + call
        if tid not in threads:
            continue
        result = RESULT.search(call)
        if call.startswith(("clone(", "clone3(")) and "CLONE_THREAD" in call and result:
            threads.add(int(result.group(1)))
        elif call.startswith("close(") and result and result.group(2) == "EBADF":
            failed.append(raw)
    return failed


def child_of(pid: int) -> int:
    """The one process `pid` started (strace's tracee: the server)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def test_runs_served_on_uvloop_close_no_descriptor_of_the_server_twice(tmp_path):
    trace = tmp_path / "closes"
    env = {**os.environ, "LAB_DATABASE": str(tmp_path / "lab.db"), "LAB_HTMX_SOURCE": "local"}
    assert STRACE is not None
    tracer = (STRACE, "-f", "-qq", "--seccomp-bpf", "-e", "trace=close,clone,clone3", "-o", str(trace))
    with AppProcess(env, prefix=tracer) as served:
        server = child_of(served.proc.pid)
        with httpx.Client(base_url=served.url, timeout=10) as http:

            def status(api: str) -> str | None:
                """The run's status once it has ended, else None."""
                said = http.get(api).json()["status"]
                return said if said in ("done", "failed") else None

            for _ in range(3):  # each with its sampler's pipe, a live watcher, its page and a static file
                created = http.post("/api/runs", json={"experiment": "race-counter", "params": {"workers": 2}})
                assert created.status_code == 201, created.text
                run = created.json()
                live = served.url.replace("http", "ws", 1) + f"/ws/runs/{run['id']}"
                with connect(live, origin=Origin(served.url), proxy=None, open_timeout=10) as watcher:  # its page, live
                    assert 'id="status"' in str(watcher.recv(timeout=10))
                    assert until(partial(status, f"/api/runs/{run['id']}"), timeout=30, what="the run to end") == "done"
                assert http.get(run["url"]).status_code == 200
                assert http.get("/static/style.css").status_code == 200
        os.kill(server, signal.SIGTERM)  # strace ends with it
    assert trace.stat().st_size > 0
    assert failed_closes(trace, server) == []
