"""The server's view of the experiment catalogue: metadata and source, never the code's execution."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from experiments import MODULES, SECTIONS, own
from experiments.harness.params import Param


@dataclass(frozen=True)
class Variant:
    """A run worth comparing with one of an experiment's (its module's FIXED_VARIANT): `experiment`
    (None: the same one) with `params` changed, the others carried over (app/web/again.py)."""

    experiment: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, declared: dict[str, Any] | None) -> Variant | None:
        if declared is None:
            return None
        return cls(declared.get("experiment"), dict(declared.get("params", {})))


@dataclass(frozen=True)
class Experiment:
    id: str
    module: str  # what the runner imports
    title: str
    summary: str
    kind: str
    notice: str
    expected: str
    params: tuple[Param, ...]
    source: str
    measures_time: bool = False  # its lesson is a timing: it executes alone (app/running/admission.py)
    tasks_wait: bool = False  # its tasks sleep: its own ideal_speedup needs no core (app/drawing/sweeps.py)
    # findings(params, result, python) -> sentences about one run's outcome (app/model/findings.py)
    findings: Callable[[dict[str, Any], dict[str, Any], str], list[str]] | None = field(default=None, compare=False)
    # verdict(params, result, python) -> (shown: bool | None, sentence): the run's lesson, judged by its result
    verdict: Callable[[dict[str, Any], dict[str, Any], str], tuple[bool | None, str]] | None = field(
        default=None, compare=False
    )
    fixed_variant: Variant | None = field(default=None, compare=False)  # its module's FIXED_VARIANT
    # What to notice on a run without a GIL (a free-threaded build), where `notice` tells of GIL switches.
    notice_without_gil: str = ""

    def notice_for(self, gil_enabled: bool) -> str:
        """What to notice on a run whose interpreter had the GIL on, or off."""
        return self.notice if gil_enabled or not self.notice_without_gil else self.notice_without_gil

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "summary": self.summary,
            "kind": self.kind,
            "measures_time": self.measures_time,
            "params": {p.name: p.describe() for p in self.params},
        }


def load(module_name: str, lab_params: tuple[Param, ...] = ()) -> Experiment:
    """The experiment of `module_name`, its own params followed by `lab_params` (the lab's, such as `python`)."""
    m = importlib.import_module(module_name)
    return Experiment(
        m.ID,
        module_name,
        m.TITLE,
        m.SUMMARY,
        m.KIND,
        m.NOTICE,
        getattr(m, "EXPECTED", ""),
        (*m.PARAMS, *lab_params),
        inspect.getsource(m),
        getattr(m, "MEASURES_TIME", False),
        getattr(m, "TASKS_WAIT", False),
        getattr(m, "findings", None),
        getattr(m, "verdict", None),
        Variant.of(getattr(m, "FIXED_VARIANT", None)),
        getattr(m, "NOTICE_WITHOUT_GIL", ""),
    )


# The lab's params of an experiment, given its id and what it needs of its interpreter (its module's NEEDS);
# None: no interpreter here can run it (app/running/pythons.py lab_params).
LabParams = tuple[Param, ...] | Callable[[str, tuple[str, ...]], tuple[Param, ...] | None]


def catalogue(modules: tuple[str, ...] = MODULES, lab_params: LabParams = ()) -> dict[str, Experiment]:
    """The experiments of `modules` with the lab's params; one that no interpreter here can run is left out."""
    experiments: dict[str, Experiment] = {}
    for name in modules:
        params: tuple[Param, ...] | None
        if callable(lab_params):
            m = importlib.import_module(name)
            params = lab_params(m.ID, tuple(getattr(m, "NEEDS", ())))
            if params is None:
                continue
        else:
            params = lab_params
        exp = load(name, params)
        experiments[exp.id] = exp
    return experiments


OTHERS = "More experiments"
OWN = "Your experiments"  # the teacher's own, from LAB_EXPERIMENTS_DIR (app/model/own_experiments.py)


def is_own(module: str) -> bool:
    """Whether `module` (an Experiment's) is one of the teacher's (experiments/own/__init__.py)."""
    return module.startswith(own.__name__ + ".")


def sections(experiments: dict[str, Experiment]) -> list[tuple[str, list[Experiment]]]:
    """The experiments grouped by the tutorial's sections, in its order; then the teacher's own under OWN
    and any other (a test's) under OTHERS."""
    section_of = {module: title for title, modules in SECTIONS for module in modules}
    grouped: dict[str, list[Experiment]] = {title: [] for title, _ in SECTIONS}
    grouped[OWN] = []
    for exp in experiments.values():
        grouped.setdefault(section_of.get(exp.module, OWN if is_own(exp.module) else OTHERS), []).append(exp)
    return [(title, exps) for title, exps in grouped.items() if exps]
