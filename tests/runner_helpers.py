"""Run an experiment through the real runner (a child process) and read back its events."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from app.events import Event, StreamParser

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Outcome:
    events: list[Event]
    returncode: int
    stderr: str

    @property
    def result(self) -> dict | None:
        return next((e.value for e in self.events if e.kind == "result"), None)

    @property
    def failure(self) -> dict | None:
        return next((e.value for e in self.events if e.kind == "failure"), None)

    def of(self, kind: str, worker: str | None = None) -> list[Event]:
        return [e for e in self.events if e.kind == kind and (worker is None or e.worker == worker)]

    def workers(self) -> list[str]:
        return [e.worker for e in self.of("lane")]


def run_experiment(module: str, params: dict, python: str = sys.executable, timeout: float = 60) -> Outcome:
    """`python -m experiments.runner module params` with its stdout parsed as the event stream."""
    proc = subprocess.run(
        [python, "-m", "experiments.runner", module, json.dumps(params)],
        capture_output=True, timeout=timeout, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    parser = StreamParser()
    events = parser.feed(proc.stdout) + parser.close()
    return Outcome(events, proc.returncode, proc.stderr.decode("utf-8", "replace"))
