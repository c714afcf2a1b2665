"""The figures the threads-vs-processes experiments report: times and speedups over a serial run."""
from __future__ import annotations

import os


def usable_cores() -> int:
    """CPUs this process may run on (fewer than os.cpu_count() in a restricted container)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def report(serial_time: float, thread_time: float, process_time: float, ideal: int) -> dict:
    """Times in milliseconds and each pool's speedup over the serial run, beside the ideal one."""
    return {
        "serial_ms": round(serial_time * 1000, 1),
        "thread_ms": round(thread_time * 1000, 1),
        "process_ms": round(process_time * 1000, 1),
        "thread_speedup": round(serial_time / thread_time, 2),
        "process_speedup": round(serial_time / process_time, 2),
        "ideal_speedup": ideal,
    }
