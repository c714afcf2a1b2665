"""A teacher's own experiments (LAB_EXPERIMENTS_DIR, docs/experiments.md): each file checked against the
experiments' contract (experiments/__init__.py) before it joins the catalogue.

Every `NAME.py` of the directory not starting with `_` is one experiment, imported as `experiments.own.NAME`
(experiments/own/__init__.py: no file shadows a module of the standard library or a built-in experiment). A
file that breaks the contract is left out, with a Problem naming the file and each thing wrong with it; the
others are served. The lab still starts: one typo in one file, made the morning of a class, should not take
the tutorial's experiments down with it, and the problems are logged at start, listed on the teacher's home
page and by `concurrency-lab experiments check`.
"""

from __future__ import annotations

import importlib
import inspect
import keyword
import logging
import re
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from app.model.experiments import Experiment, is_own, load
from experiments import own
from experiments.harness.params import Param

log = logging.getLogger(__name__)

KINDS = ("threads", "processes")  # what the pages know how to label (the `kind-…` styles)
ID_FORMAT = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")  # as the built-in ones: it is part of the pages' addresses
REQUIRED_TEXT = ("ID", "TITLE", "SUMMARY", "NOTICE")
OPTIONAL_TEXT = ("EXPECTED", "NOTICE_WITHOUT_GIL")
OPTIONAL_FLAGS = ("MEASURES_TIME", "TASKS_WAIT")
OPTIONAL_FUNCTIONS = ("findings", "verdict", "bytecode")


@dataclass(frozen=True)
class Problem:
    """Why one file (its name in the directory; or the directory itself) is not served."""

    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


def files(directory: Path) -> list[Path]:
    """The experiment files of `directory`, by name: `*.py`, except those starting with `_` (a shared helper)."""
    return sorted(p for p in directory.glob("*.py") if not p.name.startswith("_"))


def module_name(path: Path) -> str:
    return f"{own.__name__}.{path.stem}"


def add_own(
    builtin: dict[str, Experiment], directory: Path | None, lab_params: tuple[Param, ...] = ()
) -> tuple[dict[str, Experiment], list[Problem]]:
    """`builtin` and, after them, the experiments of `directory` (None: none) that keep the contract; and what
    is wrong with each of the others."""
    if directory is None:
        return builtin, []
    if not directory.is_dir():
        return builtin, [Problem(str(directory), "LAB_EXPERIMENTS_DIR is not a directory (or does not exist)")]
    own.use(str(directory))
    importlib.invalidate_caches()  # files written since the last look (a lab restarted, a test's) are seen
    experiments, problems = dict(builtin), list[Problem]()
    file_of: dict[str, str] = {}  # the teacher's experiments' IDs: the file that has each
    for path in files(directory):
        messages, module = _imported(path)
        if module is not None:
            messages = contract(module, {p.name for p in lab_params})
        if module is not None and not messages:
            if module.ID in builtin:
                messages = [f"ID {module.ID!r} is a built-in experiment's already: give yours another ID"]
            elif module.ID in file_of:
                messages = [f"ID {module.ID!r} is {file_of[module.ID]}'s already (the first file by name keeps it)"]
        if messages:
            problems.extend(Problem(path.name, message) for message in messages)
            continue
        try:
            experiment = load(module_name(path), lab_params)
        except Exception as exc:  # what the contract cannot foresee (its source unreadable): the file's, not the lab's
            problems.append(Problem(path.name, f"cannot be read as an experiment: {type(exc).__name__}: {exc}"))
            continue
        file_of[experiment.id] = path.name
        experiments[experiment.id] = experiment
    for exp_id, file in file_of.items():  # a fix named by ID: known once every file is read
        message = variant_problem(experiments[exp_id], experiments)
        if message:
            problems.append(Problem(file, message))
            del experiments[exp_id]
    return experiments, problems


def _imported(path: Path) -> tuple[list[str], ModuleType | None]:
    """The module of `path`, imported; or why it cannot be."""
    name = path.stem
    if not name.isidentifier() or keyword.iskeyword(name):
        suggestion = re.sub(r"\W+", "_", name).strip("_") or "my_experiment"
        if suggestion[0].isdigit() or keyword.iskeyword(suggestion):
            suggestion = f"experiment_{suggestion}"
        return [
            "its name is not a module name Python can import (letters, digits and _, not starting with a "
            f"digit, not a keyword): rename it, e.g. {suggestion}.py"
        ], None
    try:
        return [], importlib.import_module(module_name(path))
    except (Exception, SystemExit) as exc:  # whatever its top level raises: the file is at fault, not the lab
        return [f"cannot be imported: {import_error(exc, path)}"], None


def import_error(exc: BaseException, path: Path) -> str:
    """What went wrong importing `path`, with the line of the file where it did."""
    what = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, SyntaxError) and exc.filename == str(path):
        where = f"line {exc.lineno}" + (f" ({exc.text.strip()})" if exc.text and exc.text.strip() else "")
        return f"{where}: {type(exc).__name__}: {exc.msg}"
    lines = [frame for frame in traceback.extract_tb(exc.__traceback__) if frame.filename == str(path)]
    if not lines:
        return what
    frame = lines[-1]
    return f"line {frame.lineno}" + (f" ({frame.line})" if frame.line else "") + f": {what}"


def contract(module: ModuleType, reserved: Iterable[str] = ()) -> list[str]:
    """What in `module` breaks the experiments' contract (experiments/__init__.py), each in one sentence."""
    if not any(hasattr(module, name) for name in (*REQUIRED_TEXT, "KIND", "PARAMS", "run")):
        return [
            "is not an experiment: it has none of ID, TITLE, SUMMARY, NOTICE, KIND, PARAMS and run "
            "(a helper the experiments import is named with a leading _, e.g. _helpers.py)"
        ]
    wrong: list[str] = []
    for name in REQUIRED_TEXT:
        if not hasattr(module, name):
            wrong.append(f"{name} is missing: a string")
        elif not isinstance(getattr(module, name), str) or not getattr(module, name).strip():
            wrong.append(f"{name} must be a non-empty string, not {_shown(getattr(module, name))}")
    exp_id = getattr(module, "ID", None)
    if isinstance(exp_id, str) and exp_id.strip() and not ID_FORMAT.fullmatch(exp_id):
        wrong.append(
            f"ID {exp_id!r} must be lower-case letters, digits and single hyphens (it is part of the page's "
            "address), e.g. 'two-threads'"
        )
    kinds = " or ".join(repr(k) for k in KINDS)
    if not hasattr(module, "KIND"):
        wrong.append(f"KIND is missing: {kinds}")
    elif module.KIND not in KINDS:
        wrong.append(f"KIND must be {kinds}, not {_shown(module.KIND)}")
    wrong.extend(params_problems(getattr(module, "PARAMS", None), set(reserved)))
    run = getattr(module, "run", None)
    if run is None:
        wrong.append("run is missing: a function run(params, rec) that returns a dict of results")
    elif not callable(run):
        wrong.append(f"run must be a function run(params, rec), not {_shown(run)}")
    elif not _takes_two(run):
        wrong.append(f"run must take two arguments, run(params, rec); it is run{inspect.signature(run)}")
    for name in OPTIONAL_TEXT:
        if hasattr(module, name) and not isinstance(getattr(module, name), str):
            wrong.append(f"{name} must be a string, not {_shown(getattr(module, name))}")
    for name in OPTIONAL_FLAGS:
        if hasattr(module, name) and not isinstance(getattr(module, name), bool):
            wrong.append(f"{name} must be True or False, not {_shown(getattr(module, name))}")
    for name in OPTIONAL_FUNCTIONS:
        if hasattr(module, name) and not callable(getattr(module, name)):
            wrong.append(f"{name} must be a function, not {_shown(getattr(module, name))}")
    variant = getattr(module, "FIXED_VARIANT", None)
    if variant is not None and not (
        isinstance(variant, dict)
        and set(variant) <= {"experiment", "params"}
        and isinstance(variant.get("experiment", ""), str)
        and isinstance(variant.get("params", {}), dict)
    ):
        wrong.append('FIXED_VARIANT must be a dict {"experiment": ID, "params": {...}} (either key may be left out)')
    return wrong


def params_problems(params: Any, reserved: set[str]) -> list[str]:
    """What is wrong with a module's PARAMS: a tuple of Int(...) and Choice(...) (experiments/harness/params.py)."""
    how = "a tuple of experiments.harness.params Int(...) and Choice(...), e.g. (Int('workers', 2, 1, 8),)"
    if params is None:
        return [f"PARAMS is missing: {how}"]
    if not isinstance(params, (tuple, list)):
        return [f"PARAMS must be {how}, not {_shown(params)}"]
    wrong, seen = [], set()
    for i, spec in enumerate(params):
        if not isinstance(spec, Param):
            wrong.append(
                f"PARAMS[{i}] must be an Int(...) or a Choice(...) of experiments.harness.params, not {_shown(spec)}"
            )
        elif spec.name in reserved:
            wrong.append(f"PARAMS[{i}] is named {spec.name!r}, which is the lab's own param: choose another name")
        elif spec.name in seen:
            wrong.append(f"PARAMS[{i}]: two params are named {spec.name!r}")
        else:
            seen.add(spec.name)
    return wrong


def variant_problem(exp: Experiment, experiments: dict[str, Experiment]) -> str | None:
    """What is wrong with `exp`'s FIXED_VARIANT, now that every experiment is known: an ID or a param unknown."""
    if exp.fixed_variant is None:
        return None
    target = experiments.get(exp.fixed_variant.experiment or exp.id)
    if target is None:
        return f"FIXED_VARIANT names the experiment {exp.fixed_variant.experiment!r}, which the lab does not have"
    unknown = sorted(set(exp.fixed_variant.params) - {p.name for p in target.params})
    if unknown:
        return f"FIXED_VARIANT's params {', '.join(map(repr, unknown))} are not params of {target.id!r}"
    return None


def _takes_two(function: Callable[..., Any]) -> bool:
    try:
        inspect.signature(function).bind(None, None)
    except TypeError:
        return False
    except ValueError:  # no signature to read (a builtin): let the runner's call say
        return True
    return True


def _shown(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def report(directory: Path | None, experiments: dict[str, Experiment], problems: list[Problem]) -> None:
    """Log what the lab serves of the teacher's experiments, and each problem (at start)."""
    if directory is None:
        return
    served = [e.id for e in experiments.values() if is_own(e.module)]
    log.info("LAB_EXPERIMENTS_DIR %s: %d experiment(s) served: %s", directory, len(served), ", ".join(served) or "-")
    for problem in problems:
        log.error("LAB_EXPERIMENTS_DIR %s: left out: %s", directory, problem)


def summary(directory: Path, experiments: dict[str, Experiment], problems: list[Problem]) -> list[str]:
    """`concurrency-lab experiments check`'s lines: each file served, with its ID, then each problem."""
    served = [e for e in experiments.values() if is_own(e.module)]
    files_out = len({p.file for p in problems})
    lines = [f"{directory}: {len(served)} experiment(s) served, {files_out} file(s) left out"]
    lines += [f"  ok     {e.module.rsplit('.', 1)[1]}.py: {e.id} ({e.title})" for e in served]
    lines += [f"  error  {p}" for p in problems]
    return lines
