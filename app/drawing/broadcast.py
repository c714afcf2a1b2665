"""Fan a run out to its viewers: frames rendered once per tick, shared by every socket.

One producer task per run renders what changed at most `frame_rate` times a second, however
fast events arrive (but the first lane at once: until then there is nothing to pace), and keeps
the last few frames. Each viewer reads frames at its own pace;
one that falls behind the kept frames gets a fresh full render instead of the backlog, so a
slow viewer costs the others nothing and memory stays bounded.
"""

from __future__ import annotations

import asyncio
from collections import deque

from app.drawing.render import Renderer, View
from app.model.runs import Run
from app.model.status import Status

KEEP_FRAMES = 32


class Broadcast:
    def __init__(self, run: Run, renderer: Renderer, frame_rate: float):
        self.run = run
        self.renderer = renderer
        self.interval = 1 / frame_rate
        self.view = View()
        self.frames: deque[str] = deque(maxlen=KEEP_FRAMES)
        self.seq = 0  # number of frames produced so far
        self.done = False  # the last frame (with the result) has been produced
        self._snapshot: tuple[str, int] | None = None  # the last full render and its frame number
        # Set (and replaced) at each frame: every waiting viewer wakes in the same loop turn. (A
        # Condition handed its lock to one viewer per turn: with a class watching, the last got
        # the frame hundreds of turns late.)
        self._new_frame = asyncio.Event()

    async def produce(self) -> None:
        run = self.run
        while True:
            await run.changed.wait()
            run.changed.clear()
            finished = run.finished
            # delta() advances the view; publishing right after, with no await between, keeps
            # the view and `seq` in step for a viewer asking for a snapshot meanwhile.
            self._publish(self.renderer.delta(run, self.view), last=finished)
            if finished:
                return
            if run.timeline.lanes:  # nothing drawn yet, nothing to pace: the first lane goes out as it comes
                await asyncio.sleep(self.interval)

    async def first_lane(self, timeout: float) -> None:
        """Until the first lane is drawn, for at most `timeout` s, if the run is executing without one.

        A page rendered then shows it in its HTML, without waiting for its socket: the runner is
        started ahead, so the first lane usually comes within tens of milliseconds of Run.
        """
        deadline = asyncio.get_running_loop().time() + timeout
        while self.run.status == Status.RUNNING and not self.view.lanes:
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                await asyncio.wait_for(self._new_frame.wait(), remaining)
            except TimeoutError:
                return

    def _publish(self, frame: str, last: bool) -> None:
        self.frames.append(frame)
        self.seq += 1
        self.done = last
        new_frame, self._new_frame = self._new_frame, asyncio.Event()
        new_frame.set()

    def snapshot(self) -> tuple[str, int]:
        """Everything drawn so far, and the frame number it corresponds to.

        Rendered once per frame however many viewers ask (a class joining at once, or many slow
        viewers skipping ahead after the same frame): a full render is the costliest thing here.
        """
        if self._snapshot is None or self._snapshot[1] != self.seq:
            self._snapshot = (self.renderer.full(self.run, self.view), self.seq)
        return self._snapshot

    async def after(self, seq: int) -> tuple[str, int]:
        """The frames after `seq` joined into one message (or a full render if they are gone)."""
        while self.seq <= seq:
            await self._new_frame.wait()
        missed = self.seq - seq
        if missed > len(self.frames):
            return self.snapshot()
        if missed == 1:
            return self.frames[-1], self.seq
        return "".join(list(self.frames)[-missed:]), self.seq
