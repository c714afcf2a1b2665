"""Concurrency Lab: the web server that runs experiments in child processes and draws them live.

Its modules stand in layers, each a package that may import only those below it (the
import-linter contracts in pyproject.toml hold this, and CI checks them):

- `web`: HTTP routes, pages, websockets, middleware: requests in, responses out.
- `running`: the lab: admitting, limiting, starting and supervising runs on runner interpreters, here or on
  runner nodes (the engines: one process, or Redis).
- `storage`: runs, their event logs, sweeps: in SQLite, or in Redis (a distributed lab).
- `drawing`: a run's timeline and results turned into lanes, words, plots and traces; the live feed.
- `model`: what a run is: its events, their fold into a timeline, its status, conditions and findings.

`settings` (configuration) and `ROOT` (the checkout: templates, static files, experiments) are for all.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
