"""A teacher's own experiments (LAB_EXPERIMENTS_DIR, docs/experiments.md): the file NAME.py there is the
module `experiments.own.NAME`.

This package's path is that directory, so a teacher's file is imported under this package, never as a
top-level module: a file named `queue.py` is `experiments.own.queue`, and shadows neither the standard
library's `queue` nor a built-in experiment. The runner, and every process an experiment spawns (whose
start method imports the experiment again by its name), import it so: the server puts the directory in
each runner's environment (app/running/runners.py), children inherit it. The server sets the path itself
(`use`), from its settings.
"""
from __future__ import annotations

import os
import sys

ENV = "LAB_EXPERIMENTS_DIR"

__path__ = [os.environ[ENV]] if os.environ.get(ENV) else []


def use(directory: str) -> None:
    """Import the teacher's modules from `directory` from now on: the ones imported from before are forgotten."""
    __path__[:] = [directory]
    for name in [name for name in sys.modules if name.startswith(__name__ + ".")]:
        del sys.modules[name]
