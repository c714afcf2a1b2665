"""Intervals of a run's own clock: how long several things went on at once. Pure, stdlib only."""
from __future__ import annotations


def together_ns(ran: list[tuple[int, int]]) -> int:
    """How long two or more of the (start, end) intervals were going on at once."""
    edges = sorted([(start, 1) for start, _ in ran] + [(end, -1) for _, end in ran])
    total, going, since = 0, 0, 0
    for at, step in edges:
        if going >= 2:
            total += at - since
        going, since = going + step, at
    return total
