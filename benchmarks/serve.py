"""A real server for the benchmarks: uvicorn in a child process, with a probe of its event loop.

    python -m benchmarks.serve PORT      (started by `Server` below, not by hand)

It is the app of `app.web.server.create_app` with the benchmark-only experiments added, plus two
routes the benchmarks read: `POST /bench/reset` starts (or restarts) the loop-lag probe, and
`GET /bench/stats` returns the probe's lag percentiles and the process's RSS. The probe is a task
that asks to sleep 1 ms and records how late it woke: any stretch of work that holds the loop
(parsing a chunk, rendering a frame) shows up as lag, exactly as a /healthz request would see it.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.web.documents import RunCreatedJson, RunView

ROOT = Path(__file__).resolve().parent.parent
BENCH_MODULES = ("benchmarks.flood_experiment", "benchmarks.stamps_experiment")
PROBE_S = 0.001


def rss_mb(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def medians(rows: list[tuple]) -> list[float]:
    """The median of each column of `rows`."""
    return [statistics.median(column) for column in zip(*rows)]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


@dataclass
class LagProbe:
    lags_ms: list[float] = field(default_factory=list)
    task: asyncio.Task | None = None

    async def _probe(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(PROBE_S)
            self.lags_ms.append(max(0.0, (loop.time() - before - PROBE_S) * 1000))

    def restart(self) -> None:
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._probe())
        self.lags_ms = []

    def stats(self) -> dict:
        lags = sorted(self.lags_ms)
        return {
            "samples": len(lags),
            "p50_ms": percentile(lags, 50),
            "p99_ms": percentile(lags, 99),
            "max_ms": max(lags, default=0.0),
            "rss_mb": rss_mb(),
            "cpu_s": time.process_time(),
        }


def build_app():
    from app.settings import Settings
    from app.web.server import create_app
    from experiments import MODULES

    app = create_app(Settings(htmx_source="local"), modules=MODULES + BENCH_MODULES)
    probe = LagProbe()

    @app.post("/bench/reset")
    async def reset() -> dict:
        probe.restart()
        return {"rss_mb": rss_mb(), "cpu_s": time.process_time()}

    @app.get("/bench/stats")
    async def stats() -> dict:
        return probe.stats()

    return app


def main(argv: list[str]) -> None:
    from app.__main__ import serve
    from app.settings import Settings

    serve(build_app(), Settings(), host="127.0.0.1", port=int(argv[0]), log_level="warning")


# -- the benchmarks' side ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    port: int
    proc: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """The route's JSON as it answered (a document or a list of them; each route its own), else {"text": …}."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=30) as response:
            raw = response.read()
        return json.loads(raw) if response.headers.get_content_type() == "application/json" else {"text": raw}

    def start_run(self, experiment: str, params: dict[str, Any]) -> str:
        created: RunCreatedJson = self.request("POST", "/api/runs", {"experiment": experiment, "params": params})
        return created["id"]

    def wait_done(self, run_id: str, timeout: float = 300) -> RunView:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run: RunView = self.request("GET", f"/api/runs/{run_id}")
            if run["status"] not in ("queued", "running"):
                return run
            time.sleep(0.05)
        raise TimeoutError(f"run {run_id} still running after {timeout} s")


@contextmanager
def serving() -> Iterator[Server]:
    """A fresh server in its own process (its own RSS, its own loop), killed at the end."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "LAB_DATABASE": str(Path(tmp) / "bench.db"),
            "LAB_MAX_RUNS_PER_MINUTE_PER_CLIENT": "1000",
            "LAB_MAX_RUNS_IN_FLIGHT_PER_CLIENT": "50",
            "LAB_MAX_CONCURRENT_RUNS": "1",
            "LAB_RUN_TIMEOUT_S": "600",
            # Every run here is on this interpreter: not a probe of each one found (pyenv's, .pythons/) at each start.
            "LAB_PYTHONS": json.dumps([sys.executable]),
        }
        proc = subprocess.Popen([sys.executable, "-m", "benchmarks.serve", str(port)], cwd=ROOT, env=env)
        server = Server(port, proc)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    server.request("GET", "/healthz")
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("the benchmark server did not start") from None
                    time.sleep(0.05)
            yield server
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class PeakRss(threading.Thread):
    """Polls a benchmark server's RSS every 0.1 s and keeps the peak, until `stop` is set."""

    def __init__(self, server: Server):
        super().__init__(daemon=True)
        self.server, self.peak, self.stop = server, 0.0, threading.Event()

    def run(self) -> None:
        # From /proc, not by asking the server: a request every 0.1 s would load the loop whose lag is measured.
        while not self.stop.wait(0.1):
            self.peak = max(self.peak, rss_mb(self.server.proc.pid))


def header(what: str) -> str:
    import platform

    return f"python {platform.python_version()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; {what}"


if __name__ == "__main__":
    main(sys.argv[1:])
