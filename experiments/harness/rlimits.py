"""Resource limits for one run, applied by the runner to itself before the experiment loads.

The server passes them with the runner's job (or, to a runner started by hand, in the environment:
LAB_RUN_LIMITS, JSON) rather than through a preexec_fn: code between fork and exec in a threaded
server is unsafe, and every process the experiment starts inherits the limits from the runner anyway. Limits are per process:
address space (RLIMIT_AS), CPU seconds (RLIMIT_CPU: SIGXCPU at the soft limit, SIGKILL a
second later), and tasks of the user (RLIMIT_NPROC, which Linux counts in threads and
which root ignores). Core dumps are off, so a SIGXCPU leaves no core file behind.
"""
from __future__ import annotations

import json
import os
import resource

ENV = "LAB_RUN_LIMITS"


def spec(memory_mb: int, cpu_s: int, nproc: int) -> dict:
    return {"memory_mb": memory_mb, "cpu_s": cpu_s, "nproc": nproc}


def encode(memory_mb: int, cpu_s: int, nproc: int) -> str:
    return json.dumps(spec(memory_mb, cpu_s, nproc))


def _set(which: int, soft: int, hard: int) -> None:
    _, current_hard = resource.getrlimit(which)
    if current_hard != resource.RLIM_INFINITY:  # an unprivileged process cannot raise its hard limit
        soft, hard = min(soft, current_hard), min(hard, current_hard)
    resource.setrlimit(which, (soft, hard))


def from_env() -> dict | None:
    text = os.environ.get(ENV)
    return json.loads(text) if text else None


def apply(limits: dict) -> None:
    _set(resource.RLIMIT_CORE, 0, 0)
    memory = limits["memory_mb"] * 1024 * 1024
    _set(resource.RLIMIT_AS, memory, memory)
    _set(resource.RLIMIT_CPU, limits["cpu_s"], limits["cpu_s"] + 1)
    _set(resource.RLIMIT_NPROC, limits["nproc"], limits["nproc"])
