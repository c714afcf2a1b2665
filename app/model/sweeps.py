"""What a sweep is: one experiment run at every combination of some params' values. Its points (the
cartesian product of its `vary` lists over its base params; a param given in neither takes the
experiment's default), each an ordinary run (app/running/lab.py starts them), and its status, from its
runs'. Pure: plain data in, plain data out. What its runs measured, drawn as speedup lines and a table,
is app/drawing/sweeps.py's.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from app.model.status import FINISHED, Status
from experiments.harness.params import Param, ParamError, defaults, shown, validate

MAX_POINTS = 16
FORM_FIELD = "sweep_workers"  # the experiment page's "Sweep workers" ticks (templates/experiment.html)
X = "workers"  # the param a sweep's lines are drawn against (the plot's x axis)


@dataclass(frozen=True)
class Point:
    params: dict[str, Any]
    run_id: str


@dataclass(frozen=True)
class Sweep:
    id: str
    experiment: str
    params: dict[str, Any]  # the params every point shares: all but the varied ones
    vary: dict[str, list[Any]]
    points: tuple[Point, ...]
    owner: str = ""  # the client that started it
    created_at: float = 0.0


def expand(
    specs: Sequence[Param], params: Mapping[str, Any], vary: Mapping[str, Sequence[Any]]
) -> list[dict[str, Any]]:
    """Every point's params, checked, in the order of the product of the `vary` lists (the last varies
    fastest) over `params`. ParamError names each problem: an unknown param, an empty or repeating list,
    more than MAX_POINTS points, a value out of bounds (experiments/harness/params.py words those)."""
    known = {spec.name for spec in specs}
    if not vary:
        raise ParamError([f'vary: name at least one param and its values, e.g. {{"{X}": [1, 2, 4]}}'])
    errors = []
    for name, values in vary.items():
        if name not in known:
            errors.append(f"vary.{name}: unknown parameter (known: {', '.join(sorted(known))})")
        elif not values:
            errors.append(f"vary.{name}: empty list: give at least one value")
        else:
            repeated = [value for i, value in enumerate(values) if value in values[:i]]
            if repeated:
                errors.append(f"vary.{name}: {shown(repeated[0])} is listed twice")
    if errors:
        raise ParamError(errors)
    count = math.prod(len(values) for values in vary.values())
    if count > MAX_POINTS:
        sizes = " × ".join(f"{len(values)} {name}" for name, values in vary.items())
        raise ParamError([f"vary: {sizes} make {count} points; a sweep has at most {MAX_POINTS}"])
    base = {**defaults(specs), **params}
    points = []
    for combination in itertools.product(*vary.values()):
        try:
            points.append(validate(specs, {**base, **dict(zip(vary, combination))}))
        except ParamError as exc:  # the same problem at every point is said once
            errors.extend(error for error in exc.errors if error not in errors)
    if errors:
        raise ParamError(errors)
    return points


def shared(points: Sequence[Mapping[str, Any]], vary: Mapping[str, Any]) -> dict[str, Any]:
    """The params every point has alike: all but the varied ones."""
    return {name: value for name, value in points[0].items() if name not in vary}


def worker_choices(specs: Sequence[Param]) -> list[int]:
    """The worker counts the experiment page offers to sweep: the powers of two within the `workers`
    param's bounds, and the bounds ([]: no `workers` param with a range)."""
    spec = next((p for p in specs if p.name == X and p.type == "int"), None)
    if spec is None or spec.min >= spec.max:
        return []
    powers = {2**i for i in range(spec.max.bit_length()) if spec.min <= 2**i <= spec.max}
    return sorted(powers | {spec.min, spec.max})[:MAX_POINTS]


SweepStatus = Literal["queued", "running", "finished"]


def status(statuses: Sequence[str]) -> SweepStatus:
    """The sweep's status from its runs': finished when every one is, queued while none has started."""
    if all(s in FINISHED for s in statuses):
        return "finished"
    if all(s == Status.QUEUED for s in statuses):
        return "queued"
    return "running"
