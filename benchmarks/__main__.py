"""Run every benchmark, one after the other, each printing its own table.

    .venv/bin/python -m benchmarks            # full sizes (minutes; run on a quiet machine)
    .venv/bin/python -m benchmarks --quick    # tiny sizes: checks the scripts still run
    .venv/bin/python -m benchmarks fidelity   # just some of them

Each benchmark is a module here with `main(argv: list[str]) -> None` that accepts `--quick`.
"""

from __future__ import annotations

import importlib
import sys
import time

# In the order they run. Each one alone on the CPU: never run two at once.
BENCHMARKS = (
    "fidelity",
    "sampler",
    "throughput",
    "latency",
    "fanout",
    "memory",
    "pageweight",
    "replay",
    "dispatch",
    "lesson",
    "class_follows",
    "stepper",
)


def main(argv: list[str]) -> None:
    quick = "--quick" in argv
    names = [a for a in argv if not a.startswith("-")] or list(BENCHMARKS)
    for name in names:
        if name not in BENCHMARKS:
            raise SystemExit(f"unknown benchmark {name!r} (known: {', '.join(BENCHMARKS)})")
    for name in names:
        print(f"\n## {name}\n", flush=True)
        started = time.monotonic()
        importlib.import_module(f"benchmarks.{name}").main(["--quick"] if quick else [])
        print(f"\n({name}: {time.monotonic() - started:.1f} s)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
