""""Find one for me": the shortest schedule that loses an update, with the fewest forced switches.

CHESS's preemption bound: schedules with 0, then 1, then up to 2 forced switches (a switch away from a
thread that could have gone on), each tried for real from the start (experiments/harness/stepper.py's Race,
the experiment's threads in this interpreter). Stdlib only.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional, Protocol, Tuple

SEARCH_BUDGET_S = 8.0


class Race(Protocol):
    """What the search needs of a race it steps (experiments/harness/stepper.py's Race is one): said here, so the
    stepper, which calls the search, is not imported back by it."""

    threads: Any
    schedule: List[int]
    lost: int

    def runnable(self) -> List[int]: ...

    def next_instruction(self, index: int) -> Any: ...

    def step(self, index: int) -> Dict[str, Any]: ...

    def stop(self) -> None: ...


def _try(make: Callable[[], Race], start: int, preemptions: List[Tuple[int, int]], limit: Optional[int] = None,
         ) -> Tuple[Optional[List[int]], bool, List[Tuple[int, int, List[int]]]]:
    """Run one schedule: `start` first, each thread on until it finishes or waits (then back to the thread
    preempted last, else the next one that can go, in turn), except at the preemptions (step index,
    thread); stop after `limit` steps (a shorter schedule is known). The schedule up to the first lost
    update (or None), whether it needs a switch the interpreter never makes, and where another preemption
    could go (step index, the thread preempted, the threads that could go then)."""
    race = make()
    try:
        current = start
        pending = list(preemptions)
        options: List[Tuple[int, int, List[int]]] = []
        never = False  # a preemption where the interpreter never switches
        fresh = [False] * len(race.threads.workers)  # touched shared state, no switch point since
        preempted: List[int] = []
        while True:
            k = len(race.schedule)
            if pending and pending[0][0] == k:
                preempted.append(current)
                current = pending.pop(0)[1]
            can = race.runnable()
            if not can or (limit is not None and k >= limit):
                return None, never, options
            if current not in can:
                back = [i for i in preempted if i in can]
                current = back[-1] if back else next((i for i in can if i > current), can[0])
            ins = race.next_instruction(current)
            never = race.step(current)["switch"] == "never" or never
            if race.lost:
                return list(race.schedule), never, options
            if ins is None:
                continue
            # Preempt right after each instruction that touched shared state, and after the first point
            # following it where the interpreter could switch (the same order of shared reads and writes,
            # but a switch the real interpreter can make).
            point = bool(ins.role) or (fresh[current] and ins.switch)
            fresh[current] = (bool(ins.role) and not ins.switch) or (fresh[current] and not ins.switch)
            if point and k + 1 > (preemptions[-1][0] if preemptions else 0):
                others = [i for i in race.runnable() if i != current]
                if others and current in race.runnable():
                    options.append((k + 1, current, others))
    finally:
        race.stop()


def find(make: Callable[[], Race], threads: int, bound: int = 2, budget_s: float = SEARCH_BUDGET_S) -> Dict[str, Any]:
    """The shortest schedule that loses an update with the fewest forced switches (0, 1, then up to `bound`),
    CHESS's preemption bound; among those, one whose switches the interpreter could make first. A switch only matters right after an instruction that touches shared state
    (the counter or the lock): between two such instructions a thread only touches its own locals, so
    preempting it anywhere there orders the shared reads and writes the same way."""
    deadline = time.monotonic() + budget_s
    tried = 0
    frontier: List[Tuple[int, List[Tuple[int, int]]]] = [(s, []) for s in range(threads)]
    for preemptions in range(bound + 1):
        best: Optional[Tuple[bool, int, List[int]]] = None  # switches the interpreter never makes last, then shortest
        following = []
        for start, chosen in frontier:
            if time.monotonic() > deadline:
                return {"found": None, "bound": preemptions - 1, "tried": tried, "complete": False}
            lost, never, options = _try(make, start, chosen, best[1] if best and not best[0] else None)
            tried += 1
            if lost is not None and (best is None or (never, len(lost)) < best[:2]):
                best = (never, len(lost), lost)
            following += [(start, chosen + [(k, j)]) for k, _, others in options for j in others]
        if best is not None:
            return {"found": best[2], "preemptions": preemptions, "never": best[0], "tried": tried, "complete": True}
        frontier = following
    return {"found": None, "bound": bound, "tried": tried, "complete": True}
