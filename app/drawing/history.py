"""The run history page's rows: stored runs in words (when, how long, which params). Pure."""

from __future__ import annotations

import time
from dataclasses import dataclass

from app.model.documents import HistoryRow
from app.model.status import status_words

PAGE_SIZE = 25
MAX_PAGE = 100_000  # beyond it: 422 (a page past the last run is just empty)


@dataclass(frozen=True)
class Row:
    id: str
    experiment: str
    params: str
    status: str
    status_words: str
    started: str
    duration: str


def when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts)) if ts else "—"


def duration(started: float | None, ended: float | None) -> str:
    if started is None or ended is None:
        return "—"
    seconds = max(0.0, ended - started)
    return (
        f"{seconds * 1000:.0f} ms"
        if seconds < 1
        else f"{seconds:.1f} s"
        if seconds < 120
        else f"{seconds / 60:.1f} min"
    )


def row(stored: HistoryRow) -> Row:
    params = " ".join(f"{k}={v}" for k, v in stored["params"].items())
    return Row(
        stored["id"],
        stored["experiment"],
        params,
        stored["status"],
        status_words(stored["status"]),
        when(stored["started_at"] or stored["created_at"]),
        duration(stored["started_at"], stored["ended_at"]),
    )
