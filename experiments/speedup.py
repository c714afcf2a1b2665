"""The figures the threads-vs-processes experiments report: times and speedups over a serial run."""
from __future__ import annotations

import os
import sys
from typing import Any


def usable_cores() -> int:
    """CPUs this process may run on (fewer than os.cpu_count() in a restricted container)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def gil_enabled() -> bool:
    """Whether this interpreter has the GIL on: False only on a free-threaded build running without it."""
    is_enabled = getattr(sys, "_is_gil_enabled", None)  # CPython 3.13+
    return True if is_enabled is None else bool(is_enabled())


def others_during(cpu: dict[str, Any] | None, phase: str) -> float | None:
    """The cores other programs kept busy during `phase`, measured by the lab (None if not measured)."""
    others: float | None = ((cpu or {}).get("phases", {}).get(phase) or {}).get("others_busy_cores")
    return others


def shortfall(cpu: dict[str, Any] | None, phase: str, free: str) -> str:
    """Why a pool fell short, from what the lab measured during its phase: other programs' use of
    the cores, or, the cores being free, `free` (the pool's own overhead); or that it was not measured."""
    others = others_during(cpu, phase)
    if others is None:
        return "what other programs took of the cores meanwhile was not measured"
    if others >= 0.3:
        return f"other programs used {others:.1f} cores while the {phase} ran"
    return f"the cores were free, so {free}"


def report(serial_time: float, thread_time: float, process_time: float, ideal: int) -> dict:
    """Times in milliseconds and each pool's speedup over the serial run, beside the ideal one."""
    return {
        "serial_ms": round(serial_time * 1000, 1),
        "thread_ms": round(thread_time * 1000, 1),
        "process_ms": round(process_time * 1000, 1),
        "thread_speedup": round(serial_time / thread_time, 2),
        "process_speedup": round(serial_time / process_time, 2),
        "ideal_speedup": ideal,
        "gil_enabled": gil_enabled(),
    }


def findings(params, result, lesson):
    """The sentences both threads-vs-processes experiments share: each pool against the serial run."""
    from experiments.wording import ms, ratio

    ideal, t, p = result["ideal_speedup"], result["thread_speedup"], result["process_speedup"]
    said = [f"Serial on main: {ms(result['serial_ms'])}. Thread pool: {ms(result['thread_ms'])}, {ratio(t)}× as fast. "
            f"Process pool: {ms(result['process_ms'])}, {ratio(p)}× as fast (with start_method={params['start_method']}). "
            f"At best {ratio(ideal) if ideal != int(ideal) else int(ideal)}×: {lesson}."]
    if ideal <= 1:
        said.append("With one worker, or one task, neither pool can run two tasks at once: whatever differs from "
                    "serial is the pools' overhead.")
    said.append(f"Processes were {ratio(p / t)}× as fast as threads (process_speedup / thread_speedup)"
                + (", i.e. slower." if p < t else "."))
    return said
