"""The live lesson as this process's pages follow it: a few times a second (at once after a change made here)
it reads the lesson's state from its storage (shared by every web replica, app/storage/seams.py LessonStorage),
looks up the runs of the current step, and when anything a page shows changed, wakes every page following it
(their websockets, app/web/lesson_follow.py), which then render their own copy. A page that was busy simply
renders the newest view when it gets to it: nothing queues up behind a slow phone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping

from app.drawing.lesson_view import LessonView, RunSummary
from app.model.lesson_state import LessonError, LessonState
from app.model.lessons import Lesson
from app.running.lab import Lab
from app.storage.seams import LessonStorage

log = logging.getLogger(__name__)
REFRESH_S = 0.2  # a step change made on another replica reaches this one's pages within this and a render


class LessonFeed:
    def __init__(
        self, lab: Lab, storage: LessonStorage, lessons: Mapping[str, Lesson], refresh_s: float = REFRESH_S
    ) -> None:
        self.lab = lab
        self.storage = storage
        self.lessons = lessons
        self.refresh_s = refresh_s
        self.view: LessonView | None = None  # the live lesson as of the last look; None when none is live
        self._changed = asyncio.Event()  # set (and replaced) at each change of the view
        self._finished: dict[str, RunSummary] = {}  # a finished run's summary never changes: looked up once
        self._session = ""  # the live lesson whose runs _finished holds
        self._alone: dict[str, tuple[asyncio.Lock, int]] = {}  # key -> its lock, and how many hold or want it

    # --- what the routes do -------------------------------------------------------------------------

    async def live(self) -> LessonState | None:
        return await self.storage.live()

    async def change(self, change: Callable[[LessonState], LessonState]) -> LessonState:
        """Apply `change` to the live lesson (LessonError if none is live, or it refuses), and show it at once."""
        state = await self.storage.live()
        if state is None:
            raise LessonError("no lesson is live now")
        changed = await self.storage.change(state.id, change)
        await self._show(await self._view(changed if changed.live else None))  # no second read of the storage
        return changed

    @contextlib.asynccontextmanager
    async def alone(self, key: str) -> AsyncIterator[None]:
        """One at a time for `key` in this process: a student's page that asks for its run again while its first
        request is still starting it (it asks at each fragment that still offers the form) waits, then finds it."""
        lock, users = self._alone.get(key, (asyncio.Lock(), 0))
        self._alone[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._alone[key]
            if users == 1:
                del self._alone[key]
                self._wake()  # a page shown "starting" meanwhile is shown what came of it, even a refusal
            else:
                self._alone[key] = (lock, users - 1)

    def busy(self, key: str) -> bool:
        """Someone in this process is inside `alone(key)` (or waiting for it)."""
        return key in self._alone

    async def begin(self, state: LessonState) -> None:
        await self.storage.begin(state)
        await self.refresh()

    # --- following ----------------------------------------------------------------------------------

    def changed(self) -> asyncio.Event:
        """An event set at the next change of `view`, or of `busy` (take it before reading them, then wait)."""
        return self._changed

    async def refresh(self) -> None:
        await self._show(await self.look())

    async def _show(self, view: LessonView | None) -> None:
        if older(view, self.view):  # a look begun before another's change ended after that change's own look
            return
        if view != self.view:
            self.view = view
            self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def look(self) -> LessonView | None:
        return await self._view(await self.storage.live())

    async def _view(self, state: LessonState | None) -> LessonView | None:
        """The live lesson `state` as pages show it (None: no lesson live, or its file gone)."""
        if state is None:
            return None
        lesson = self.lessons.get(state.lesson)
        if lesson is None:  # its file was removed or broke since it began: nothing to show
            return None
        if self._session != state.id:  # a new lesson: the last one's runs are not looked up again
            self._session, self._finished = state.id, {}
        return await self.view_of(lesson, state)

    async def view_of(self, lesson: Lesson, state: LessonState) -> LessonView:
        """`state` at its current step, with that step's runs as far as they got."""
        step = lesson.steps[state.step]
        now = state.current
        teacher = await self.summary(now.teacher_run, step.measure) if now.teacher_run else None
        runs = {client: await self.summary(run_id, step.measure) for client, run_id in now.class_runs.items()}
        experiment = self.lab.experiments.get(step.experiment)
        at_once = 1 if experiment is None or experiment.measures_time else self.lab.settings.max_concurrent_runs
        return LessonView(
            lesson,
            state,
            teacher,
            {client: summary for client, summary in runs.items() if summary is not None},
            at_once,
        )

    async def summary(self, run_id: str, measure: str) -> RunSummary | None:
        key = f"{run_id}:{measure}"
        if key in self._finished:
            return self._finished[key]
        run = await self.lab.store.find(run_id)
        if run is None:
            return None
        summary = RunSummary.of(run, measure)
        if summary.finished:
            self._finished[key] = summary
        return summary

    async def run(self) -> None:
        """Follow the live lesson while the server runs (a task the app's lifespan starts)."""
        while True:
            await asyncio.sleep(self.refresh_s)
            try:
                await self.refresh()
            except Exception:  # the shared store away for a moment: pages keep the last view
                log.warning("the lesson feed could not read the live lesson", exc_info=True)


def older(view: LessonView | None, than: LessonView | None) -> bool:
    """`view` shows an earlier state of the same session than `than` does. Looks overlap (the periodic one, and
    one after each change made here, each awaiting the storage and the runs): without this, a look that read
    the state before a change could end after it and put the page back to before it, with the "run it
    yourself" form its student just used, which then posts again."""
    return (
        view is not None
        and than is not None
        and view.state.id == than.state.id
        and view.state.version < than.state.version
    )
