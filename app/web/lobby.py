"""The lobby: what every home page shows live — the runs going on now and the run the teacher pinned.

`live_runs` is the pure part: the active runs, running first then queued in order, as plain
rows (who started a run is deliberately not among them). `Lobby` is the edge: a few times a
second (at once when poked) it renders the `_lobby.html` fragment from the lab's state and,
only when the HTML changed, hands it to every subscribed home page. Each message replaces the
whole lobby, so a subscriber keeps only the newest one: a slow home page skips to the latest
state and never builds a backlog, and never holds up the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jinja2 import Environment

from app.model.status import Status
from app.storage.pins import MemoryPin, Pin
from app.web import urls

if TYPE_CHECKING:
    from app.model.runs import Run
    from app.running.lab import Lab

log = logging.getLogger(__name__)
REFRESH_S = 0.25  # how often the lobby looks at the lab: running and queued runs change at human pace


@dataclass(frozen=True)
class LiveRun:
    """One row of "Live now" (or the pinned panel): enough to recognise a run and follow its link."""

    id: str
    title: str
    params: dict[str, Any]
    status: str
    status_words: str
    position: int | None  # place in the queue (1 = next), when the lab can tell

    @property
    def url(self) -> str:
        return urls.run(self.id)


def row(run: Run, position: Callable[[Run], int | None] | None = None) -> LiveRun:
    queued_at = position(run) if position is not None and run.status == Status.QUEUED else None
    return LiveRun(run.id, run.experiment.title, dict(run.params), run.status, run.status_words, queued_at)


def live_runs(runs: Iterable[Run], position: Callable[[Run], int | None] | None = None) -> list[LiveRun]:
    """Running runs (oldest start first), then queued ones in the order they will start: by their place in the
    queue where it is known (two replicas may queue two runs asked at once in either order), else as asked."""
    active = [run for run in runs if not run.finished]
    running = sorted((r for r in active if r.status != Status.QUEUED), key=lambda r: (r.started_at or 0, r.created_at))
    rows = [row(run, position) for run in running]
    queued = [row(run, position) for run in active if run.status == Status.QUEUED]
    asked = {run.id: run.created_at for run in active}
    return rows + sorted(queued, key=lambda r: (r.position is None, r.position or 0, asked[r.id]))


class Subscriber:
    """One home page's mailbox: the newest lobby not yet sent (an older unsent one is simply dropped)."""

    def __init__(self) -> None:
        self._latest: str | None = None
        self._ready = asyncio.Event()

    def offer(self, html: str) -> None:
        self._latest = html
        self._ready.set()

    async def next(self) -> str:
        await self._ready.wait()
        self._ready.clear()
        html, self._latest = self._latest, None
        assert html is not None
        return html


class Lobby:
    def __init__(self, lab: Lab, env: Environment, refresh_s: float = REFRESH_S, pin: Pin | None = None):
        self.lab = lab
        self.env = env
        self.refresh_s = refresh_s
        self.shared_pin = pin or MemoryPin()  # the pin every replica shows (app/storage/pins.py)
        # The run it names, held here (a finished run may leave the store's memory).
        self.pinned_run: Run | None = None
        self.subscribers: set[Subscriber] = set()
        self._last = ""
        self._poke = asyncio.Event()

    def context(self) -> dict[str, Any]:
        lab = self.lab
        position = lab.position
        pinned = self.pinned_run
        return {
            "live": live_runs(lab.store.active(), position),
            "pinned": row(pinned, position) if pinned is not None else None,
        }

    def render(self) -> str:
        return self.env.get_template("_lobby.html").render(**self.context(), oob=True)

    @property
    def pinned(self) -> str | None:
        return self.pinned_run.id if self.pinned_run is not None else None

    async def pin(self, run: Run) -> None:
        await self.shared_pin.set(run.id)
        self.pinned_run = run
        self._poke.set()

    async def unpin(self) -> None:
        await self.shared_pin.set(None)
        self.pinned_run = None
        self._poke.set()

    async def _follow_pin(self) -> None:
        """The pin as another replica may have set it."""
        run_id = await self.shared_pin.get()
        if run_id != self.pinned:
            self.pinned_run = await self.lab.store.find(run_id) if run_id else None

    def subscribe(self) -> Subscriber:
        """A new home page's mailbox, holding the lobby as of now (its page may be a moment older)."""
        if not self._last:
            self.refresh()
        subscriber = Subscriber()
        subscriber.offer(self._last)
        self.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    def refresh(self) -> None:
        """Render once; if anything changed, offer it to every subscriber."""
        html = self.render()
        if html != self._last:
            self._last = html
            for subscriber in self.subscribers:
                subscriber.offer(html)

    async def run(self) -> None:
        """Refresh while the server runs (a task started by the app's lifespan)."""
        while True:
            try:
                await asyncio.wait_for(self._poke.wait(), self.refresh_s)
            except TimeoutError:  # expected: nothing poked it, refresh on the clock
                pass
            self._poke.clear()
            try:
                await self._follow_pin()
            except Exception:  # the shared store away for a moment: the pin as last known
                log.warning("the lobby could not read the pin", exc_info=True)
            if self.subscribers:
                self.refresh()
            else:
                self._last = ""  # nobody listening: render afresh for the next one
