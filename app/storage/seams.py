"""The run store as the lab and the web layer use it: a seam a second implementation (Redis, issue 15)
implements again. The embedded one is RunStore (app/storage/store.py: SQLite through one thread).

Only what callers use; a caller holds a RunStorage and never asks which one it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from app.model.documents import NumberedEventJson
from app.model.events import Event
from app.model.experiments import Experiment
from app.model.lesson_state import LessonState
from app.model.runs import Journal, Run
from app.model.sweeps import Sweep
from app.storage.records import Page


class RunStorage(Journal, Protocol):
    """Runs and their event logs, kept beyond the server process; also the Journal each run reports to."""

    async def open(self) -> list[Run]:
        """Ready to serve; every run stored as running becomes interrupted. Returns the runs stored as queued (they
        never started), oldest first, for the lab to queue again; none where the queue outlives the server."""
        ...

    async def close(self) -> None:
        """Write whatever is still waiting, then stop."""
        ...

    async def flush(self) -> None:
        """Until what was created here so far can be found from any process (the lab answers a request then)."""
        ...

    def create(self, experiment: Experiment, params: dict[str, Any], owner: str = "", sweep: str | None = None) -> Run:
        """A new queued run, journalled here."""
        ...

    def get(self, run_id: str) -> Run | None:
        """A run in memory (live, or finished recently), without waiting."""
        ...

    def active(self) -> list[Run]:
        """The runs not finished yet."""
        ...

    async def find(self, run_id: str) -> Run | None:
        """A run, live or finished, loaded if need be; None if there is no such run."""
        ...

    async def events(
        self, run_id: str, after: int, limit: int, lane_of_tid: dict[int, str] | None = None
    ) -> list[NumberedEventJson]:
        """Stored events numbered after `after`, at most `limit`, each as JSON with its `seq`."""
        ...

    async def stored_events(self, run_id: str, after: int, limit: int) -> list[tuple[int, Event]]:
        """Stored events numbered after `after`, at most `limit`, as (seq, Event)."""
        ...

    async def rows(self, run_id: str, first: int, last: int, limit: int) -> list[tuple[int, bytes]]:
        """Stored rows (first_seq, blob in app/storage/wire.py's form) with first <= first_seq <= last."""
        ...

    async def delete_before(self, cutoff: float) -> int:
        """Delete the finished runs created before `cutoff` (unix s) with everything kept of them; how many."""
        ...

    async def history(self, page: int, size: int) -> Page:
        """One page of every run, newest first."""
        ...


class SweepStorage(Protocol):
    """Sweeps (app/model/sweeps.py), kept as their runs are. The embedded one is SweepStore
    (app/storage/sweep_store.py), the distributed one RedisSweeps (app/storage/redis_sweeps.py)."""

    async def open(self) -> None: ...

    def new_id(self) -> str: ...

    def save(self, sweep: Sweep) -> None:
        """Keep it; found from any process once the runs queued before it are."""
        ...

    async def find(self, sweep_id: str) -> Sweep | None: ...

    async def delete_before(self, cutoff: float) -> int:
        """Delete the sweeps made before `cutoff` (unix s); how many."""
        ...


class LessonStorage(Protocol):
    """The lessons a class was given (app/model/lesson_state.py): the live one, and each kept after it ended as
    the record of that class. Every web replica sees the same ones. Each change is a pure function applied
    atomically to the state as stored now, so two replicas' changes (two answers at once) never lose one."""

    async def open(self) -> None: ...

    async def live(self) -> LessonState | None:
        """The lesson being given now, if any."""
        ...

    async def begin(self, state: LessonState) -> None:
        """`state` (a new session) is the live lesson from now; one live before it ends then."""
        ...

    async def change(self, session: str, change: Callable[[LessonState], LessonState]) -> LessonState:
        """`change` applied to session `session` as stored now, kept, and returned. A LessonError it raises
        passes through with nothing kept; an unknown session raises LessonError too."""
        ...

    async def find(self, session: str) -> LessonState | None: ...

    async def given(self, lesson: str) -> list[LessonState]:
        """Every session of lesson `lesson`, newest first."""
        ...

    async def delete_before(self, cutoff: float) -> int:
        """Delete the sessions begun before `cutoff` (unix s) that have ended (never the live one); how many."""
        ...
