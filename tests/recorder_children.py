"""What the child processes of tests/test_recorder.py run: a spawned child imports its target by name, so the
targets live in a module of their own (a test module is never imported by another)."""

from __future__ import annotations

from experiments.harness.recorder import Recorder


def square(x: int) -> int:
    return x * x


def child_work(rec: Recorder, n: int) -> None:
    for i in range(n):
        rec.instant(f"tick {i}", "mark")
