"""The runs a run store keeps in memory: every run not finished yet (live), and a few recently finished ones,
so a class opening the run that just ended reads no database. The SQLite store and a web replica's Redis
store keep theirs alike."""

from __future__ import annotations

from collections import OrderedDict

from app.model.runs import Run

CACHE_FINISHED = 32  # finished runs kept in memory


class RunCache:
    def __init__(self, finished: int = CACHE_FINISHED) -> None:
        self.live: dict[str, Run] = {}  # not finished yet
        self.recent: OrderedDict[str, Run] = OrderedDict()  # finished, most recent last
        self.finished = finished

    def get(self, run_id: str) -> Run | None:
        return self.live.get(run_id) or self.recent.get(run_id)

    def active(self) -> list[Run]:
        return [run for run in self.live.values() if not run.finished]

    def forget(self, run_ids: list[str]) -> None:
        """Drop finished runs that were deleted (app/running/retention.py): never served again from memory."""
        for run_id in run_ids:
            self.recent.pop(run_id, None)

    def remember(self, run: Run) -> None:
        """Keep `run`: live until it has finished, then among the recent ones (the oldest of those forgotten)."""
        if not run.finished:
            self.live[run.id] = run
            return
        self.live.pop(run.id, None)
        self.recent[run.id] = run
        self.recent.move_to_end(run.id)
        while len(self.recent) > self.finished:
            self.recent.popitem(last=False)
