"""A lesson: a class of students behind one address, each running experiment after experiment, and the server
SIGKILLed midway and started again on the same database.

    .venv/bin/python -m benchmarks.lesson [--quick] [--students 30] [--minutes 10]

The server is `python -m app` (its own uvicorn options, SQLite in a temporary directory, the default limits).
Each student is a thread with its own cookie, the one the lab gave its first request, all from 127.0.0.1 (one
NAT address): it starts a run (the race counter, small), follows it to its end, thinks 1-3 s, and again. A
refusal (429) waits its Retry-After, at most 5 s; while the server is down a student retries every 0.5 s.
Halfway, the server is killed with SIGKILL and started again at once.

It prints: requests and answers by status (never a 5xx), runs started, how each ended (only the runs
executing at the kill may end `interrupted`: a run that was queued is queued again and ends `done`), the
runners left alive at the end (their pids from each run's header: none), and the seconds the class could not
reach the server. A figure printed, nothing failed: tests/web/test_lesson.py runs it short and asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.serve import ROOT, free_port, header

RUN = {"experiment": "race-counter", "params": {"workers": 2, "iterations": 20_000, "window": "call"}}
DOWN_RETRY_S = 0.5


@dataclass
class Lesson:
    port: int
    answers: Counter[int] = field(default_factory=Counter)  # HTTP status → how many
    unreachable: int = 0  # requests that found no server (it was down)
    runs: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def call(self, method: str, path: str, cookie: str, body: dict | None = None) -> tuple[int, dict, dict]:
        """(status, JSON body, headers); retries while the server is down, until the lesson stops."""
        data = json.dumps(body).encode() if body is not None else None
        while True:
            request = urllib.request.Request(
                f"http://127.0.0.1:{self.port}{path}",
                data=data,
                method=method,
                headers={"content-type": "application/json", "cookie": cookie},
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    status, raw, headers = response.status, response.read(), dict(response.headers)
            except urllib.error.HTTPError as error:
                status, raw, headers = error.code, error.read(), dict(error.headers)
            except OSError:  # refused, reset: the server is down
                with self.lock:
                    self.unreachable += 1
                if self.stop.wait(DOWN_RETRY_S):
                    return 0, {}, {}
                continue
            with self.lock:
                self.answers[status] += 1
            try:
                parsed = json.loads(raw) if raw else {}
            except ValueError:
                parsed = {}
            return status, parsed if isinstance(parsed, dict) else {}, headers

    def student(self, seed: int) -> None:
        rng = random.Random(seed)
        cookie = ""
        while not self.stop.is_set():
            if not cookie:  # the first page the browser opens: the lab gives it its cookie
                request = urllib.request.Request(f"http://127.0.0.1:{self.port}/healthz")
                try:
                    with urllib.request.urlopen(request, timeout=30) as response:
                        cookie = response.headers["set-cookie"].split(";")[0]
                except OSError:
                    self.stop.wait(DOWN_RETRY_S)
                continue
            status, body, headers = self.call("POST", "/api/runs", cookie, RUN)
            if status == 201:
                with self.lock:
                    self.runs.append(body["id"])
                while not self.stop.is_set():  # its page follows the run to its end
                    status, run, _ = self.call("GET", f"/api/runs/{body['id']}", cookie)
                    if status == 200 and run.get("status") not in ("queued", "running"):
                        break
                    self.stop.wait(0.5)
                self.stop.wait(rng.uniform(1, 3))
            elif status == 429:
                self.stop.wait(min(5.0, float(headers.get("retry-after", "1"))))


def start_server(port: int, database: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LAB_DATABASE": str(database), "LAB_HTMX_SOURCE": "local", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lesson(students: int, seconds: float) -> dict:
    """Run the lesson; its figures as a dict (tests/web/test_lesson.py asserts on them)."""
    with tempfile.TemporaryDirectory(prefix="lab-lesson-") as directory:
        database, port = Path(directory) / "lab.db", free_port()
        server = start_server(port, database)
        class_ = Lesson(port)
        threads = [threading.Thread(target=class_.student, args=(n,), daemon=True) for n in range(students)]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(seconds / 2)  # the lesson goes on: this is its first half, not a wait for anything
        unreachable_before = class_.unreachable
        killed_at = time.monotonic()
        server.send_signal(signal.SIGKILL)
        server.wait()
        server = start_server(port, database)
        down_s = time.monotonic() - killed_at
        time.sleep(max(0.0, seconds - (time.monotonic() - began)))  # its second half
        class_.stop.set()
        for thread in threads:
            thread.join(timeout=60)
        # Every run started ends: the server drains what is left (no new ones come).
        ended: Counter[str] = Counter()
        runner_pids: set[int] = set()
        for run_id in class_.runs:
            while True:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/runs/{run_id}", timeout=30) as response:
                    run = json.loads(response.read())
                if run["status"] not in ("queued", "running"):
                    break
                time.sleep(0.2)
            ended[run["status"]] += 1
            with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/api/runs/{run_id}/events?limit=5", timeout=30
            ) as response:
                head = next((e for e in json.loads(response.read()) if e["kind"] == "header"), None)
            if head is not None:
                runner_pids.add(head["value"]["pid"])
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in runner_pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        return {
            "students": students,
            "seconds": seconds,
            "answers": dict(class_.answers),
            "server_errors": sum(n for status, n in class_.answers.items() if status >= 500),
            "runs": len(class_.runs),
            "ended": dict(ended),
            "orphans": sum(alive(pid) for pid in runner_pids),
            "unreachable_requests": class_.unreachable - unreachable_before,
            "down_s": down_s,
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.students, args.minutes = 4, 0.2
    print(header(f"{args.students} students behind one address for {args.minutes:g} min, the server SIGKILLed halfway"))
    figures = lesson(args.students, args.minutes * 60)
    print(f"{'answers by status':28} {', '.join(f'{s}: {n}' for s, n in sorted(figures['answers'].items()))}")
    print(f"{'5xx':28} {figures['server_errors']}")
    print(f"{'runs started':28} {figures['runs']}")
    print(f"{'runs ended':28} {', '.join(f'{s}: {n}' for s, n in sorted(figures['ended'].items()))}")
    print(f"{'runners left alive':28} {figures['orphans']}")
    print(
        f"{'server down for':28} {figures['down_s']:.1f} s ({figures['unreachable_requests']} requests found no server)"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
