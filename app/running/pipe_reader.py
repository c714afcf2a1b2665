"""A pipe read on the event loop with the fd kept in one owner's hands.

Not `loop.connect_read_pipe`: under uvloop (what uvicorn serves with where it is installed) the libuv handle
and the file object each close the fd, one after the other (MagicStack/uvloop#763, open in 0.23). Between the
two closes another thread of the server can be handed that number (a static file's read, a run's lifeline,
a database socket), and the second close takes it from under it: measured here, a run that failed
"could not run the experiment" and a static file read that failed with EBADF at the same moment.
"""

from __future__ import annotations

import asyncio
import os
from typing import Protocol


class Readable(Protocol):
    """What the pumps read from: asyncio.StreamReader, or a PipeReader. b"" at the end."""

    async def read(self, n: int, /) -> bytes: ...


class PipeReader:
    """The read end of a pipe, read when the loop finds it readable; owns the fd (`close` closes it, once)."""

    def __init__(self, fd: int):
        os.set_blocking(fd, False)
        self._fd = fd

    async def read(self, n: int, /) -> bytes:
        """Up to `n` bytes as soon as there are any; b"" once every writer has closed."""
        while True:
            try:
                return os.read(self._fd, n)
            except BlockingIOError:
                await self._readable()

    async def _readable(self) -> None:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not ready.done():  # the loop may call again before the awaiting task runs
                ready.set_result(None)

        loop.add_reader(self._fd, wake)
        try:
            await ready
        finally:
            loop.remove_reader(self._fd)

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)
