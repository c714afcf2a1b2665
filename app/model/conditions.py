"""The conditions a run ran under, as plain JSON: timings are honest only with this context.

`beside` (the most runs that executed at the same time as it) is kept by the lab; the rest
comes from the runner's header: the load average when it started, the Python that ran it
(free-threaded or not, with the GIL on or off),
and the multiprocessing start method (the run's `start_method` param where the experiment
has one, else the platform's default the runner reported).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from experiments.harness.wording import plural

if TYPE_CHECKING:
    from app.model.documents import HeaderInfo, RunConditions


def from_header(header: HeaderInfo, params: dict[str, Any]) -> RunConditions:
    oncpu = header.get("oncpu")
    oncpu = oncpu if isinstance(oncpu, dict) else {}
    return {
        "loadavg": header.get("loadavg"),
        "python": header.get("python"),
        "free_threaded": header.get("free_threaded", False),
        "gil_enabled": header.get("gil_enabled", True),
        "start_method": params.get("start_method") or header.get("start_method"),
        "cpus": header.get("cpus"),
        # Which source drew the on-CPU strips (experiments/harness/sampler.py), and for the fallback why and the fix.
        "oncpu_source": oncpu.get("source", "proc" if oncpu.get("sampler_pid") else ""),
        "oncpu_reason": oncpu.get("reason", ""),
        "oncpu_fix": oncpu.get("fix", ""),
        "oncpu_late": oncpu.get("late", ""),
    }


SOURCE_WORDS = {
    "switches": "on-CPU strips from the kernel's context-switch records (exact)",
    "proc": "on-CPU strips sampled from /proc (approximate)",
}


def fallback_words(conditions: RunConditions) -> str:
    """Why the strips were sampled from /proc, and what would allow the exact ones ("" if they were not)."""
    if conditions.get("oncpu_source") != "proc" or not conditions.get("oncpu_reason"):
        return ""
    fix = conditions.get("oncpu_fix")
    return f"on-CPU strips sampled from /proc: {conditions['oncpu_reason']}" + (
        f"; for exact strips: {fix}" if fix else ""
    )


def late_words(conditions: RunConditions) -> str:
    """What the strips may miss when the on-CPU reader did not follow the run from its start ("" if it did)."""
    late = conditions.get("oncpu_late")
    if not late:
        return ""
    return f"the on-CPU reader {late}: a thread or process the run started before it did may have no strip"


def describe(conditions: RunConditions) -> list[str]:
    """The conditions in words, for the run page."""
    words = []
    if "beside" in conditions:
        k = conditions["beside"]
        # Not "alone on the CPU": other programs on the machine may load it (the load average says).
        words.append("with no other run beside it" if k == 0 else f"beside {plural(k, 'other run')}")
    if conditions.get("loadavg") is not None:
        cpus = f" on {conditions['cpus']} CPUs" if conditions.get("cpus") else ""
        words.append(f"load average {conditions['loadavg']:.2f} at start{cpus}")
    if conditions.get("python"):
        words.append(f"Python {conditions['python']}" + gil_words(conditions))
    if conditions.get("start_method"):
        words.append(f"start method {conditions['start_method']}")
    if conditions.get("oncpu_source") in SOURCE_WORDS:
        words.append(SOURCE_WORDS[conditions["oncpu_source"]])
    return words


def gil_words(conditions: RunConditions) -> str:
    """' free-threaded, GIL off' and the like: what a run's interpreter did with the GIL (empty for a regular build)."""
    if not conditions.get("free_threaded"):
        return ""
    return " free-threaded, GIL " + ("on" if conditions.get("gil_enabled", True) else "off")
