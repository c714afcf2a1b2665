"""A real lab server in its own process (`python -m tests.lab_server`), for tests that stop or kill it."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx

from tests.runner_helpers import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, database: Path):
        self.port = free_port()
        env = {**os.environ, "LAB_DATABASE": str(database), "LAB_HTMX_SOURCE": "local", "PYTHONPATH": str(ROOT),
               "LAB_MAX_RUNS_IN_FLIGHT_PER_CLIENT": "100", "LAB_MAX_RUNS_PER_MINUTE_PER_CLIENT": "1000"}
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.lab_server", str(self.port)], cwd=ROOT, env=env)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if self.http.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise AssertionError("the server did not start")

    def stop(self, sig: int) -> None:
        self.proc.send_signal(sig)
        self.proc.wait(timeout=20)
        self.http.close()
