"""The interpreters a run may use: found, probed once, offered to every experiment as its `python` param.

Experiments are stdlib only, so any CPython from 3.9 can run them; the server itself stays on
its own. Which ones are offered is `LAB_PYTHONS` (paths), or else the server's `LAB_PYTHON` and
every CPython found where they usually are: pyenv's versions, `python3.N` on PATH, and the
project's `.pythons/` (where `scripts/build-python` puts a free-threaded build). Each is probed
once (a short child process): its version, whether it is free-threaded, its default start
method. The param's value is a short key such as `3.13.5t`, the same on every server.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from app import ROOT
from experiments.params import Choice, Param

log = logging.getLogger(__name__)

PARAM_NAME = "python"
OLDEST = (3, 9)
PROBE_TIMEOUT_S = 10.0
PROBE = """\
import json, multiprocessing, platform, sys, sysconfig
print(json.dumps({
    "version": platform.python_version(),
    "implementation": platform.python_implementation(),
    "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
    "gil_enabled": getattr(sys, "_is_gil_enabled", lambda: True)(),
    "start_method": multiprocessing.get_start_method(),
}))
"""


@dataclass(frozen=True)
class Interpreter:
    path: str
    version: str
    implementation: str
    free_threaded: bool
    gil_enabled: bool  # as it starts: a free-threaded build may turn the GIL back on (PYTHON_GIL=1)
    start_method: str

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
                (path, subprocess.Popen([path, "-c", PROBE], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
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
    """The `python` param every experiment gets: one of the offered keys (oldest first), the server's own by default."""
    ordered = sorted(interpreters, key=lambda i: (_version(i.version), i.free_threaded))
    return Choice(
        PARAM_NAME,
        interpreters[0].key,
        [i.key for i in ordered],
        "the interpreter that runs it",
        labels=[i.label + (" (the server's)" if i is interpreters[0] else "") for i in ordered],
    )


def _version(version: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))


def path_of(interpreters: tuple[Interpreter, ...], params: dict[str, Any]) -> str:
    """The interpreter a run's params ask for (validated against these keys); the default for a run without one."""
    key = params.get(PARAM_NAME)
    return next((i.path for i in interpreters if i.key == key), interpreters[0].path)
