"""What a run showed, in sentences: its experiment's `findings(params, result, python)`, and its
verdict on the lesson: `verdict(params, result, python)`, one sentence and whether it showed. Pure.

The sentences come from the experiment module (experiments/*.py), each chosen from the run's own
measurements. An experiment without `findings` says nothing here; one whose `findings` raises is
logged and says nothing either: a wrong sentence is worse than none, and the page must not break.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.experiments import Experiment

log = logging.getLogger(__name__)


def findings(experiment: Experiment, params: dict[str, Any], result: dict[str, Any] | None,
             python: str | None) -> list[str]:
    """The sentences about this run's outcome, or none if it has no result (yet) or they fail."""
    if not result or experiment.findings is None:
        return []
    try:
        return [str(sentence) for sentence in experiment.findings(params, result, python or "")]
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


def verdict(experiment: Experiment, params: dict[str, Any], result: dict[str, Any] | None,
            python: str | None) -> Verdict | None:
    """The experiment's `verdict(params, result, python)` on this run, or None (no result, none, or it failed)."""
    judge = getattr(experiment, "verdict", None)
    if not result or judge is None:
        return None
    try:
        shown, words = judge(params, result, python or "")
    except Exception:
        log.exception("verdict of %s failed for params %r and result %r", experiment.id, params, result)
        return None
    return Verdict(None if shown is None else bool(shown), str(words))
