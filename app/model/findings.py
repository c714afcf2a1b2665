"""What a run showed, in sentences: its experiment's `findings(params, result, python)`, and its
verdict on the lesson: `verdict(params, result, python)`, one sentence and whether it showed. Pure.

A function that also takes `cpu` gets the run's CPU budget as plain data (None where it was not
measured): {"cores", "others_busy_cores", "phases": {name: {"workers_busy_cores", "others_busy_cores", "start_ms", "end_ms",
"resolution_cores", "first_task_ms", "together_ms"}},
"parallel": {"together_ms", "span_ms"} or None (how long the workers were on CPUs at the same time)},
so a sentence about why a speedup fell short can say what other programs took, not guess it.

The sentences come from the experiment module (experiments/*.py), each chosen from the run's own
measurements. An experiment without `findings` says nothing here; one whose `findings` raises is
logged and says nothing either: a wrong sentence is worse than none, and the page must not break.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.model.cpu import Budget
    from app.model.experiments import Experiment

log = logging.getLogger(__name__)


def cpu_data(budget: Budget | None) -> dict[str, Any] | None:
    """The budget as an experiment's functions get it: plain data."""
    if budget is None:
        return None
    return {
        "cores": budget.cores,
        "others_busy_cores": budget.others_busy_cores,
        "phases": {
            p.name: {
                "workers_busy_cores": p.workers_busy_cores,
                "others_busy_cores": p.others_busy_cores,
                "start_ms": p.start_ms,
                "end_ms": p.end_ms,
                "resolution_cores": p.resolution_cores,
                "first_task_ms": p.first_task_ms,
                "together_ms": p.together_ms,
            }
            for p in budget.phases
        },
        "parallel": None if budget.parallel is None else budget.parallel.to_json(),
    }


def _call(
    fn: Callable[..., Any], params: dict[str, Any], result: dict[str, Any], python: str | None, cpu: Budget | None
) -> Any:
    extra = {"cpu": cpu_data(cpu)} if "cpu" in inspect.signature(fn).parameters else {}
    return fn(params, result, python or "", **extra)


def findings(
    experiment: Experiment,
    params: dict[str, Any],
    result: dict[str, Any] | None,
    python: str | None,
    cpu: Budget | None = None,
) -> list[str]:
    """The sentences about this run's outcome, or none if it has no result (yet) or they fail."""
    if not result or experiment.findings is None:
        return []
    try:
        return [str(sentence) for sentence in _call(experiment.findings, params, result, python, cpu)]
    except Exception:
        log.exception("findings of %s failed for params %r and result %r", experiment.id, params, result)
        return []


@dataclass(frozen=True)
class Verdict:
    """Whether this run showed its experiment's lesson, in one sentence computed from its result."""

    shown: bool | None  # True: it showed; False: not this time (the words say why); None: cannot tell
    words: str

    @property
    def tone(self) -> str:
        return {True: "shown", False: "not-shown", None: "unsure"}[self.shown]


def verdict(
    experiment: Experiment,
    params: dict[str, Any],
    result: dict[str, Any] | None,
    python: str | None,
    cpu: Budget | None = None,
) -> Verdict | None:
    """The experiment's `verdict(params, result, python)` on this run, or None (no result, none, or it failed)."""
    judge = getattr(experiment, "verdict", None)
    if not result or judge is None:
        return None
    try:
        shown, words = _call(judge, params, result, python, cpu)
    except Exception:
        log.exception("verdict of %s failed for params %r and result %r", experiment.id, params, result)
        return None
    return Verdict(None if shown is None else bool(shown), str(words))
