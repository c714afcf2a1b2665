"""The sampler's pipe is read with its fd in one owner's hands, on asyncio's loop and on uvloop's (what the
server runs on): a second close of a freed number would close whatever the server opened next."""

from __future__ import annotations

import asyncio
import gc
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any, Protocol, cast

import pytest
import uvloop

from app.running.pipe_reader import PipeReader


class Watching(Protocol):
    """A loop that keeps the fds it watches for reading (uvloop's remove_reader says nothing of it)."""

    watched: set[int]


def watching(base: type[asyncio.AbstractEventLoop]) -> Callable[[], asyncio.AbstractEventLoop]:
    class Loop(base):  # type: ignore[valid-type,misc]  # a loop class chosen at run time
        def __init__(self) -> None:
            super().__init__()
            self.watched: set[int] = set()

        def add_reader(self, fd: Any, callback: Any, *args: Any) -> None:
            self.watched.add(fd)
            super().add_reader(fd, callback, *args)

        def remove_reader(self, fd: Any) -> bool:
            self.watched.discard(fd)
            return bool(super().remove_reader(fd))

    return Loop


LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": watching(asyncio.SelectorEventLoop),
    "uvloop": watching(uvloop.Loop),
}


@pytest.fixture(params=sorted(LOOPS))
def loop(request: pytest.FixtureRequest) -> Iterator[asyncio.AbstractEventLoop]:
    loop = LOOPS[request.param]()
    yield loop
    loop.close()


async def read_all(reader: PipeReader) -> bytes:
    out = b""
    while chunk := await reader.read(1 << 16):
        out += chunk
    return out


def test_everything_written_is_read_in_order_and_the_writer_waits_for_the_reader(loop):
    read_end, write_end = os.pipe()
    data = os.urandom(1 << 20)  # 16 times a pipe's buffer: the writer blocks until the reader catches up

    def write() -> None:
        with open(write_end, "wb", buffering=0) as out:
            out.write(data)

    writer = threading.Thread(target=write)
    writer.start()
    reader = PipeReader(read_end)
    try:
        assert loop.run_until_complete(read_all(reader)) == data
    finally:
        reader.close()
        writer.join(10)


def test_the_number_it_frees_is_never_closed_again(loop):
    """As uvloop's own issue #763 probes it: read to the end and close, take the freed number for a new pipe
    (Linux hands out the lowest), let the loop and the garbage collector run: the new pipe must stay open."""
    read_end, write_end = os.pipe()
    os.write(write_end, b"last words\n")
    os.close(write_end)
    reader = PipeReader(read_end)
    assert loop.run_until_complete(read_all(reader)) == b"last words\n"
    reader.close()
    reader.close()  # a second close is a no-op, not a close of the number's next owner
    new_read, new_write = os.pipe()
    try:
        assert new_read == read_end, "the freed number is the next one handed out"
        del reader
        gc.collect()
        for _ in range(3):
            loop.run_until_complete(asyncio.sleep(0))
        os.fstat(new_read)  # raises EBADF if anything closed the number again
    finally:
        os.close(new_read)
        os.close(new_write)


def test_a_pump_cancelled_while_waiting_leaves_the_loop_watching_nothing(loop):
    read_end, write_end = os.pipe()
    reader = PipeReader(read_end)

    async def cancel_while_waiting() -> None:
        task = asyncio.ensure_future(reader.read(10))
        await asyncio.sleep(0.01)
        assert cast(Watching, loop).watched == {read_end}, "the read waits for the fd to be readable"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    try:
        loop.run_until_complete(cancel_while_waiting())
        assert cast(Watching, loop).watched == set(), "no reader left registered for the fd"
    finally:
        reader.close()
        os.close(write_end)
