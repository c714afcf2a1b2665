"""Fidelity: how much the recorder slows an experiment down, and what one event costs.

    .venv/bin/python -m benchmarks fidelity     (or: python benchmarks/fidelity.py --repeat 5)

For each workload, the tutorial's code runs bare (no recorder, no server) and through the runner
(`python -m experiments.runner`, recorder on), alternating, same interpreter and params; the table
gives the median wall times and their ratio (target: <= 1.05). Then the median cost of one recorded
event (target: <= 1000 ns). A benchmark, not a test: the figures depend on the machine's load.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

RACE_BARE = """
import threading, time
counter = 0
def pause(): pass
def increment():
    global counter
    for _ in range({n}):
        {inc}
def decrement():
    global counter
    for _ in range({n}):
        {dec}
t = time.monotonic_ns()
threads = [threading.Thread(target=increment), threading.Thread(target=decrement)]
for th in threads: th.start()
for th in threads: th.join()
print((time.monotonic_ns() - t) / 1e6)
"""
LOCK_BARE = RACE_BARE.replace("counter = 0", "counter = 0\nlock = threading.Lock()").replace(
    "        {inc}", "        with lock:\n            {inc}").replace("        {dec}", "        with lock:\n            {dec}")
WINDOW = {
    "none": ("counter += 1", "counter -= 1"),
    "call": ("v = counter; pause(); counter = v + 1", "v = counter; pause(); counter = v - 1"),
}

WORKLOADS = [
    ("race-counter window=none", "experiments.race_counter", {"workers": 2, "iterations": 1_000_000, "window": "none"},
     RACE_BARE.format(n=1_000_000, inc=WINDOW["none"][0], dec=WINDOW["none"][1])),
    ("race-counter window=call", "experiments.race_counter", {"workers": 2, "iterations": 1_000_000, "window": "call"},
     RACE_BARE.format(n=1_000_000, inc=WINDOW["call"][0], dec=WINDOW["call"][1])),
    ("lock-counter window=none", "experiments.lock_counter", {"workers": 2, "iterations": 200_000, "window": "none"},
     LOCK_BARE.format(n=200_000, inc=WINDOW["none"][0], dec=WINDOW["none"][1])),
]

EVENT_COST = """
import os, time
from experiments.recorder import Recorder
fd = os.open(os.devnull, os.O_WRONLY)
rec = Recorder(fd)
n = 200_000
t = time.perf_counter_ns()
for _ in range(n):
    rec.instant("x", "mark")
rec.close()
print((time.perf_counter_ns() - t) / n)
"""


def python(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT, env=env).stdout


def through_runner(module: str, params: dict) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "experiments.runner", module, json.dumps(params)],
                         capture_output=True, check=True, cwd=ROOT, env=env).stdout
    result = next(e for line in out.splitlines() for e in json.loads(line) if e[0] == "R")
    return result[3]["wall_ms"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one run each: checks the script still works")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat = 1
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}, "
          f"median of {args.repeat} alternating runs")
    print(f"{'workload':28} {'bare ms':>10} {'recorded ms':>12} {'ratio':>7}")
    for name, module, params, bare_code in WORKLOADS:
        bare, recorded = [], []
        for _ in range(args.repeat):
            bare.append(float(python(bare_code)))
            recorded.append(through_runner(module, params))
        b, r = statistics.median(bare), statistics.median(recorded)
        print(f"{name:28} {b:10.1f} {r:12.1f} {r / b:7.2f}")
    costs = [float(python(EVENT_COST)) for _ in range(args.repeat)]
    print(f"recorder cost per event (instant, incl. encoding and write): median {statistics.median(costs):.0f} ns")


if __name__ == "__main__":
    main()
