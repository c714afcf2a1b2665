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
