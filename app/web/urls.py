"""The lab's URLs, one function per kind of page: the one place a link is built. Routes, API answers and
templates (through GLOBALS, added to the templates' environment where the app is built) all take them from
here, so a page that moves moves once.
"""

from __future__ import annotations

from typing import Any, Final

from app.drawing.zoom_bar import ms_param


def run(run_id: str, window: tuple[int, int] | None = None) -> str:
    """A run's live page; zoomed into `window` (ns since its start), or whole (None)."""
    if window is None:
        return f"/runs/{run_id}"
    from_ns, to_ns = window
    return f"/runs/{run_id}?from_ms={ms_param(from_ns)}&to_ms={ms_param(to_ns)}"


def sweep(sweep_id: str) -> str:
    """A sweep's page: its plot and table."""
    return f"/sweeps/{sweep_id}"


def experiment(experiment_id: str) -> str:
    """An experiment's page: its params form."""
    return f"/experiments/{experiment_id}"


# What the templates call them.
GLOBALS: Final[dict[str, Any]] = {"run_url": run, "sweep_url": sweep, "experiment_url": experiment}
