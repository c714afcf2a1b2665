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


def phase_budget(cpu: dict[str, Any] | None, phase: str) -> dict[str, Any]:
    """What the lab measured of `phase`: others_busy_cores, resolution_cores, first_task_ms ({} if nothing)."""
    found: dict[str, Any] = ((cpu or {}).get("phases") or {}).get(phase) or {}
    return found


def others_during(cpu: dict[str, Any] | None, phase: str) -> float | None:
    """The cores other programs kept busy during `phase`, measured by the lab (None if not measured, or
    over too short a window for /proc/stat's ticks to tell)."""
    measured = phase_budget(cpu, phase)
    others: float | None = measured.get("others_busy_cores")
    return None if measured.get("resolution_cores", 0) >= 0.5 else others


def load_singled_out(cpu: dict[str, Any] | None, phase: str) -> float | None:
    """Other programs' cores during `phase` when they are enough to name as a cause: 0.3 cores or more,
    and more than the figure may be off by; else None."""
    others = others_during(cpu, phase)
    if others is None or others < max(0.3, phase_budget(cpu, phase).get("resolution_cores", 0)):
        return None
    return others


def shortfall(cpu: dict[str, Any] | None, phase: str, free: str) -> str:
    """Why a pool fell short, from what the lab measured during its phase: other programs' use of the
    cores when it singles them out; else the figures, and `free` (a cause the figures do not rule out)."""
    others = others_during(cpu, phase)
    if others is None:
        return "what other programs took of the cores meanwhile was not measured, so the run cannot tell why"
    if load_singled_out(cpu, phase) is not None:
        return f"other programs used {others:.1f} cores while the {phase} ran"
    return f"other programs used only {others:.1f} cores meanwhile, so not they: {free}"


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


def findings(params, result, lesson, cpu=None):
    """The sentences both threads-vs-processes experiments share: each pool against the serial run."""
    from experiments.harness.wording import ms, ratio

    ideal, t, p = result["ideal_speedup"], result["thread_speedup"], result["process_speedup"]
    said = [f"Serial on main: {ms(result['serial_ms'])}. Thread pool: {ms(result['thread_ms'])}, {ratio(t)}× as fast. "
            f"Process pool: {ms(result['process_ms'])}, {ratio(p)}× as fast (with start_method={params['start_method']}). "
            f"At best {ratio(ideal) if ideal != int(ideal) else int(ideal)}×: {lesson}."]
    if ideal <= 1:
        said.append(one_at_a_time(t, p, cpu))
    if t > 0:
        vs, slower = f"{ratio(p / t)}× as fast as threads (process_speedup / thread_speedup)", p < t
    else:  # a serial run too short for a speedup to two decimals: the pools' own times compare them
        threads, processes = result["thread_ms"], result["process_ms"]
        vs = f"{ratio(threads / processes)}× as fast as threads (the thread pool's time / the process pool's)"
        slower = processes > threads
    said.append(f"Processes were {vs}" + (", i.e. slower." if slower else "."))
    return said


def one_at_a_time(t, p, cpu):
    """With one worker or one task: what the pools' difference from serial was, and whether the run can say why."""
    if t > 1.05 or p > 1.05:
        faster = "both pools were" if t > 1.05 and p > 1.05 else ("the thread pool was" if t > 1.05 else
                                                                  "the process pool was")
        load = load_singled_out(cpu, "serial")
        why = (f"other programs used {load:.1f} cores during the serial run, which slowed it" if load is not None
               else "the serial run itself was slower, and the run cannot tell why")
        return (f"With one worker, or one task, neither pool can run two tasks at once, yet {faster} faster than "
                f"serial: {why}.")
    loads = [load_singled_out(cpu, phase) for phase in ("serial", "thread pool", "process pool")]
    if any(load is not None for load in loads):
        return ("With one worker, or one task, neither pool can run two tasks at once; other programs loaded the "
                "cores during some phases, so the run cannot tell the pools' overhead from their load.")
    measured = all(others_during(cpu, phase) is not None for phase in ("serial", "thread pool", "process pool"))
    if not measured:
        return ("With one worker, or one task, neither pool can run two tasks at once; what other programs took "
                "was not measured for every phase, so the run cannot tell the pools' overhead from their load.")
    return ("With one worker, or one task, neither pool can run two tasks at once, and other programs left the "
            "cores free: what the pools took beyond serial is their overhead.")
