"""Run again: a new run next to one, of another experiment or with some params changed. Pure.

The run page's "Run the fixed variant" (the experiment's FIXED_VARIANT) posts to
`POST /runs/{id}/again` (app/web/pages.py) the experiment to run (none: the run's own) and the params to
change; the others are the run's where the experiment has them, else its defaults. Any button of
that shape works the same way (e.g. "Run again on <interpreter>" posting only a changed param).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.model.experiments import Experiment
from app.running.pythons import PARAM_NAME
from experiments.harness.params import defaults, from_form

if TYPE_CHECKING:
    from app.model.runs import Run


@dataclass(frozen=True)
class Again:
    """What a "run again" form posts: the experiment and the params it changes."""

    experiment: Experiment
    changes: dict[str, Any]


def params_for(target: Experiment, run_params: Mapping[str, Any], changes: Mapping[str, str]) -> dict[str, Any]:
    """The new run's params, unchecked (validate() checks them): `target`'s defaults, the run's
    params that `target` also has, then `changes` (form strings, integers parsed where they parse)."""
    known = {p.name for p in target.params}
    carried = {name: value for name, value in run_params.items() if name in known}
    return {**defaults(target.params), **carried, **from_form(target.params, changes)}


def fixed_variant(run: Run, experiments: Mapping[str, Experiment]) -> Again | None:
    """The run that fixes this run's bug, if its experiment names one and this run is not it already."""
    variant = run.experiment.fixed_variant
    if variant is None:
        return None
    target = experiments.get(variant.experiment or run.experiment.id)
    if target is None:
        return None
    if target.id == run.experiment.id and all(run.params.get(k) == v for k, v in variant.params.items()):
        return None
    return Again(target, dict(variant.params))


def other_pythons(run: Run) -> list[tuple[str, str]]:
    """The interpreters this run could run again on (its `python` param's other choices, app/running/pythons.py),
    as (key, label)."""
    param = next((p for p in run.experiment.params if p.name == PARAM_NAME), None)
    if param is None:
        return []
    labels = param.labels or param.choices
    ran = run.params.get(PARAM_NAME, param.default)
    return [(key, label) for key, label in zip(param.choices, labels) if key != ran]
