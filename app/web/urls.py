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


def compare(*run_ids: str) -> str:
    """The Compare view of these runs, one under the other on one time axis."""
    return f"/compare?runs={','.join(run_ids)}"


def lesson(lesson_id: str) -> str:
    """A lesson's page: its steps, and (for the teacher) the button that starts it."""
    return f"/lessons/{lesson_id}"


def present(lesson_id: str) -> str:
    """The teacher's page of a live lesson: the notes, the class and the controls."""
    return f"/lessons/{lesson_id}/present"


def session(session_id: str) -> str:
    """The record of one class's session of a lesson, every step's answers and results."""
    return f"/lessons/given/{session_id}"


FOLLOW = "/lesson"  # where a student follows the live lesson


# What the templates call them.
GLOBALS: Final[dict[str, Any]] = {
    "run_url": run,
    "sweep_url": sweep,
    "experiment_url": experiment,
    "compare_url": compare,
    "lesson_url": lesson,
    "present_url": present,
    "session_url": session,
    "follow_url": FOLLOW,
}
