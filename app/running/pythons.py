"""The interpreters a run may use: found, probed once, offered to every experiment as its `python` param.

Experiments are stdlib only, so any CPython from 3.9 can run them; the server itself stays on
its own. Which ones are offered is `LAB_PYTHONS` (paths), or else the server's `LAB_PYTHON` and
every CPython found where they usually are: pyenv's versions, `python3.N` on PATH, and the
project's `.pythons/` (where `scripts/build-python` puts a free-threaded build). Each is probed
once (a short child process): its version, whether it is free-threaded, its default start
method, whether it has an InterpreterPoolExecutor. The param's value is a short key such as `3.13.5t`,
the same on every server.

An experiment that needs more of its interpreter than Python 3.9 names it (its module's NEEDS, e.g.
"interpreter_pool"): its `python` param offers only the interpreters that have it, says in its help
why the others are not offered, and a run asking for one of those gets a 422 that says why. Where
none has it, the experiment is left out of the catalogue (logged).

Pure-Python packages that some experiments import where the standard library lacks them
(experiments/backports.txt) are in PACKAGES, put there by scripts/experiment-packages (`make
pythons`), and on every runner's PYTHONPATH (`pythonpath`), so on its subinterpreters' sys.path too.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from app import ROOT
from experiments.harness.params import Choice, Param

log = logging.getLogger(__name__)

PARAM_NAME = "python"
OLDEST = (3, 9)
PACKAGES = ROOT / ".pythons" / "site-packages"
PROBE_TIMEOUT_S = 10.0
PROBE = """\
import json, multiprocessing, platform, sys, sysconfig
try:
    from concurrent.futures import InterpreterPoolExecutor
    pool = "stdlib"
except ImportError:
    try:  # PEP 734's backport (interpreters-pep-734), over 3.13's _interpreters; fails before 3.13
        from interpreters_backport.concurrent.futures import InterpreterPoolExecutor
        pool = "backport"
    except Exception:
        pool = ""
print(json.dumps({
    "version": platform.python_version(),
    "implementation": platform.python_implementation(),
    "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
    "gil_enabled": getattr(sys, "_is_gil_enabled", lambda: True)(),
    "start_method": multiprocessing.get_start_method(),
    "interpreter_pool": pool,
}))
"""


def pythonpath() -> str:
    """A runner's PYTHONPATH: the project (the experiments), then the packages some of them import (PACKAGES)."""
    return os.pathsep.join((str(ROOT), str(PACKAGES)))


@dataclass(frozen=True)
class Interpreter:
    path: str
    version: str
    implementation: str
    free_threaded: bool
    gil_enabled: bool  # as it starts: a free-threaded build may turn the GIL back on (PYTHON_GIL=1)
    start_method: str
    # InterpreterPoolExecutor: "stdlib" (3.14+), "backport" (3.13 with interpreters-pep-734 in PACKAGES), "" none
    interpreter_pool: str = ""

    @property
    def key(self) -> str:
        """The param's value: `3.13.5t` for a free-threaded build, as CPython names its binaries."""
        return self.version + ("t" if self.free_threaded else "")

    @property
    def label(self) -> str:
        words = [self.version]
        if self.implementation != "CPython":
            words.insert(0, self.implementation)
        if self.free_threaded:
            words.append("free-threaded" if not self.gil_enabled else "free-threaded build, GIL on")
        return " ".join(words)

    def describe(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "version": self.version,
            "implementation": self.implementation,
            "free_threaded": self.free_threaded,
            "gil_enabled": self.gil_enabled,
            "start_method": self.start_method,
            "interpreter_pool": self.interpreter_pool,
        }


def found(own: str) -> list[str]:
    """The interpreters in the usual places, `own` first."""
    paths = [own]
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    for base in (pyenv / "versions", ROOT / ".pythons"):
        if base.is_dir():
            paths += sorted(str(p) for p in base.glob("*/bin/python3") if p.is_file())
    for minor in range(OLDEST[1], 30):
        path = shutil.which(f"python3.{minor}")
        if path and Path(path).parent != pyenv / "shims":  # pyenv's shims are slow scripts that may not resolve
            paths.append(path)
    return paths


def _parse(path: str, out: str) -> Interpreter | None:
    try:
        facts = json.loads(out)
        interpreter = Interpreter(path=path, **facts)
    except (ValueError, TypeError) as exc:
        log.warning("interpreter %s: unreadable probe (%s): %r", path, exc, out[:200])
        return None
    if _version(interpreter.version)[:2] < OLDEST:
        log.info("interpreter %s: Python %s is older than %d.%d, not offered", path, interpreter.version, *OLDEST)
        return None
    return interpreter


@lru_cache(maxsize=8)
def probe(paths: tuple[str, ...]) -> tuple[Interpreter, ...]:
    """Each path's facts (in parallel); those that do not start, or are too old, are logged and left out.
    The first of each key is kept: `own` comes first, and a venv's python is its base interpreter again."""
    started = []
    for path in dict.fromkeys(paths):
        try:
            started.append(
                (
                    path,
                    subprocess.Popen(
                        [path, "-c", PROBE],
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        text=True,
                        env={**os.environ, "PYTHONPATH": pythonpath()},  # as a runner's: what it can import
                    ),
                )
            )
        except OSError as exc:
            log.warning("interpreter %s: cannot start it: %s", path, exc)
    interpreters: dict[str, Interpreter] = {}
    for path, proc in started:
        try:
            out, err = proc.communicate(timeout=PROBE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            log.warning("interpreter %s: no answer in %.0f s", path, PROBE_TIMEOUT_S)
            continue
        if proc.returncode != 0:
            log.warning("interpreter %s: probe failed (exit %s): %s", path, proc.returncode, err.strip()[-300:])
            continue
        interpreter = _parse(path, out)
        if interpreter is not None:
            interpreters.setdefault(interpreter.key, interpreter)
    return tuple(interpreters.values())


def offered(own: str, listed: list[str] | None) -> tuple[Interpreter, ...]:
    """What a run may use: `listed` (LAB_PYTHONS) if set, else what is found; the server's `own` first
    (it is the default). Never empty: an `own` that cannot run is still offered, and its runs fail saying why."""
    paths = [own, *listed] if listed else found(own)
    interpreters = probe(tuple(paths))
    if not interpreters or interpreters[0].path != own:
        log.warning("LAB_PYTHON %s did not answer the probe: it stays the default", own)
        interpreters = (Interpreter(own, "unknown", "unknown", False, True, ""), *interpreters)
    return interpreters


def param(interpreters: tuple[Interpreter, ...]) -> Param:
    """The `python` param of an experiment that needs no more than Python 3.9: every offered key (oldest first),
    the server's own by default."""
    every = param_for(interpreters, ())
    assert every is not None, "offered() is never empty"
    return every


def param_for(interpreters: tuple[Interpreter, ...], needs: tuple[str, ...]) -> Param | None:
    """The `python` param of an experiment that `needs` these facts of its interpreter (its module's NEEDS): one
    of the offered keys that have them (oldest first), the server's own by default if it has them, else the first
    that does. The others are refused, each with why. None if no interpreter has them."""
    refused = {i.key: reason for i in interpreters if (reason := why_not(i, needs))}
    able = [i for i in interpreters if i.key not in refused]
    if not able:
        return None
    ordered = sorted(able, key=lambda i: (_version(i.version), i.free_threaded))
    help = "the interpreter that runs it"
    if refused:
        help += "; not offered: " + "; ".join(f"{key}, {reason}" for key, reason in refused.items())
    return Choice(
        PARAM_NAME,
        able[0].key,
        [i.key for i in ordered],
        help,
        labels=[i.label + (" (the server's)" if i is interpreters[0] else "") for i in ordered],
        refused=tuple(refused.items()),
    )


def why_not(interpreter: Interpreter, needs: tuple[str, ...]) -> str | None:
    """Why `interpreter` cannot run an experiment that `needs` these facts of it (None: it can)."""
    for need in needs:
        if need == "interpreter_pool" and not interpreter.interpreter_pool:
            if _version(interpreter.version)[:2] == (3, 13):
                return (
                    "CPython 3.13 without the interpreters-pep-734 backport, which gives it InterpreterPoolExecutor "
                    "(`make pythons` installs it)"
                )
            return (
                f"Python {interpreter.version} has no InterpreterPoolExecutor: the standard library has it from "
                "3.14, and on 3.13 the interpreters-pep-734 backport provides it"
            )
        if need != "interpreter_pool":
            return f"it needs {need}, which the lab cannot tell of an interpreter"
    return None


def lab_params(interpreters: tuple[Interpreter, ...]) -> Callable[[str, tuple[str, ...]], tuple[Param, ...] | None]:
    """The lab's params of an experiment (its id, and the facts of its interpreter it needs: its module's NEEDS):
    its `python` param; None, logged, where no interpreter offered has them."""

    def of(experiment: str, needs: tuple[str, ...]) -> tuple[Param, ...] | None:
        python = param_for(interpreters, needs)
        if python is None:
            log.warning(
                "%s is not offered: it needs %s, and %s",
                experiment,
                ", ".join(needs),
                "; ".join(f"{i.key}: {why_not(i, needs)}" for i in interpreters),
            )
            return None
        return (python,)

    return of


def _version(version: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))


def path_of(interpreters: tuple[Interpreter, ...], params: dict[str, Any]) -> str:
    """The interpreter a run's params ask for (validated against these keys); the default for a run without one."""
    key = params.get(PARAM_NAME)
    return next((i.path for i in interpreters if i.key == key), interpreters[0].path)
