"""The time axis's scale, and the finest detail it can show. Pure.

The axis is a round duration that grows with the run in 1-2-5 steps (with room to spare) and
fits it snugly once it is over. Both the placement of shapes (app/drawing/placement.py) and the folding
of events into drawable spans (app/model/timeline.py, which merges what the axis could not show apart)
depend on it, so it lives apart from both.
"""

from __future__ import annotations

MIN_SCALE_NS = 100_000_000  # 100 ms: a growing run's first axis
# A finished run fits its axis however short it was: a 5 ms dialogue is not drawn in the first
# twentieth of a 100 ms axis.
MIN_FINISHED_SCALE_NS = 1_000_000
MIN_WIDTH = 0.08  # percent: the narrowest span still drawn visibly
ONE_TWO_FIVE = (1, 2, 5)
# Once a run is over its axis no longer has to grow: a snug fit, rather than up to 2.5 times
# the run's length with half the chart empty.
SNUG = (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8)
GROWTH = 1.05  # a growing axis keeps 5 % of room ahead of the run
# Shapes closer than 1/RESOLUTION of the axis (2 px of a 1 000 px track) cannot be told apart:
# the timeline merges them, so a lane holds at most a few RESOLUTIONs of shapes per axis step.
RESOLUTION = 500


def round_up(at_least: float, start: float, factors: tuple[float, ...] = ONE_TWO_FIVE) -> float:
    """The smallest of start × factors × 1, 10, 100 ... that is at least `at_least`."""
    decade = start
    while True:
        for factor in factors:
            if decade * factor >= at_least:
                return decade * factor
        decade *= 10


def scale_for(elapsed_ns: int, finished: bool = False) -> int:
    """The axis for a run `elapsed_ns` long: at least MIN_SCALE_NS, with room to spare while it grows;
    snug once it is over."""
    if finished:
        return round(round_up(elapsed_ns * 1.02, MIN_FINISHED_SCALE_NS, SNUG))
    return round(round_up(elapsed_ns * GROWTH, MIN_SCALE_NS))


def resolution_for(elapsed_ns: int) -> tuple[int, int]:
    """The finest detail worth keeping apart in a run `elapsed_ns` long (on its growing axis), and
    the elapsed time up to which that holds (then the axis, and so the resolution, grows)."""
    scale = scale_for(elapsed_ns)
    return scale // RESOLUTION, int(scale / GROWTH)
