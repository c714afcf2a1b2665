"""Test-only experiment: how a process it forks would take a SIGTERM (tests/test_faults.py)."""

from __future__ import annotations

import multiprocessing
import signal
from multiprocessing.connection import Connection
from typing import Any

from experiments.harness.params import Int

ID = "test-fork-signal"
TITLE = "Fork signal"
SUMMARY = "Forks a child that says whether SIGTERM keeps its default action there."
KIND = "processes"
NOTICE = "For tests."
PARAMS = (Int("workers", 1, 1, 1),)


def tell(conn: Connection) -> None:
    conn.send(signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)


def run(params: dict[str, Any], rec: Any) -> dict[str, Any]:
    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.get_context("fork").Process(target=tell, args=(theirs,))
    child.start()
    default = ours.recv()
    child.join()
    return {"runner_handles_sigterm": signal.getsignal(signal.SIGTERM) != signal.SIG_DFL, "child_default": default}
