"""A run's live feed as the lab and the websockets use it: a seam a second implementation (Redis,
issue 15) implements again. The embedded one is Broadcast (app/drawing/broadcast.py: frames rendered
once per tick in this process, shared by every socket).

Only what callers use; a caller holds a LiveFeed and never asks which one it is.
"""

from __future__ import annotations

from typing import Protocol

from app.drawing.render import View


class LiveFeed(Protocol):
    """One run's frames for its viewers: a full render to join with, then each frame after it."""

    @property
    def view(self) -> View:
        """What has been drawn so far (a page rendered now draws the same)."""
        ...

    @property
    def seq(self) -> int:
        """Frames produced so far."""
        ...

    @property
    def done(self) -> bool:
        """The last frame (with the result) has been produced."""
        ...

    async def produce(self) -> None:
        """Turn the run's changes into frames until it finishes."""
        ...

    async def first_lane(self, timeout: float) -> None:
        """Until the first lane is drawn, for at most `timeout` s, if the run is executing without one."""
        ...

    def snapshot(self) -> tuple[str, int]:
        """Everything drawn so far, and the frame number it corresponds to."""
        ...

    async def after(self, seq: int) -> tuple[str, int]:
        """The frames after `seq` joined into one message (or a full render if they are gone)."""
        ...
