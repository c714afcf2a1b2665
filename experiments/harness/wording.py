"""Measured figures in words, for the experiments' `findings()`: numbers, times, interpreters.

Each experiment's `findings(params, result, python)` returns the sentences about one run's
outcome, each chosen from what that run measured; this module only formats. Pure, stdlib only.
"""
from __future__ import annotations


def count(n: int) -> str:
    """2 000 000: thousands grouped by spaces, as the rest of the lab writes them."""
    return f"{n:,}".replace(",", " ")


def ms(value: float) -> str:
    """A duration in milliseconds, with as many digits as mean something."""
    if value >= 100:
        return f"{value:.0f} ms"
    if value >= 10:
        return f"{value:.1f} ms"
    return f"{value:.2f} ms"


def ratio(value: float) -> str:
    return f"{value:.2f}"


def version(python: str | None) -> tuple[int, int] | None:
    """(3, 11) from "3.11.7"; None if it is not a version."""
    try:
        major, minor = (int(part) for part in (python or "").split(".")[:2])
    except ValueError:
        return None
    return major, minor


def cpython(python: str | None) -> str:
    """"CPython 3.11" from "3.11.7": how the sentences name the interpreter that ran."""
    v = version(python)
    return f"CPython {v[0]}.{v[1]}" if v else "this interpreter"


def switches_only_at_calls_and_jumps(python: str | None) -> bool | None:
    """CPython 3.10 and later check for a thread switch only at calls and backward jumps; 3.9 and
    earlier also between other bytecodes (every few of them). None: not a version we know."""
    v = version(python)
    return None if v is None else v >= (3, 10)


def plural(n: int, word: str, words: str | None = None) -> str:
    return f"{count(n)} {word if n == 1 else (words or word + 's')}"


def on_cpus_together(cpu: dict | None) -> str:
    """How long a run's threads were on CPUs at the same time, as its on-CPU strips show it (`cpu`: the
    run's CPU budget, app/model/findings.py), in a sentence; or that the run cannot tell."""
    parallel = (cpu or {}).get("parallel")
    if not parallel:
        return "this run's on-CPU strips were not measured, so it cannot tell how long its threads ran side by side."
    if parallel["together_ms"] > 0:
        return (f"its threads were on CPUs at the same time for at least {parallel['together_ms']:.1f} of the "
                f"{parallel['span_ms']:.1f} ms they ran, by their on-CPU strips.")
    return (f"its on-CPU strips show no moment with two threads on CPUs at once in the {parallel['span_ms']:.1f} ms "
            "they ran (a strip can miss time, and without a GIL the OS may switch a thread out between any two "
            "instructions).")
