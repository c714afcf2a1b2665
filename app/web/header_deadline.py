"""A deadline for a request's line and headers, and a bound on their size, in the HTTP protocol uvicorn runs.

uvicorn bounds the wait between requests (`timeout_keep_alive`) and a request's body is bounded in the app
(app/web/security.py), but nothing bounds a request line and headers that never finish: a client that
opens a connection and sends nothing, or `GET / HTTP/1.1\\r\\nHost: x\\r\\n` and then nothing, holds its
socket for good (a few hundred of them hold a server's file descriptors). Behind nginx its
`client_header_timeout` does this; served on its own (`python -m app`), the lab does it here.

From the moment a connection is ready for a request (it was just opened, or its last response went out),
the request's line and headers must arrive within `header_timeout_s` and within `max_header_bytes`: else
408 (or 431) and the connection is closed. Once they have arrived the clock stops: the body has its own
timeout, a response its own time, a websocket lives as long as it likes.

uvicorn's own protocol classes are subclassed, httptools' (what uvicorn picks when it is installed) and
h11's, each told where its headers end.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is not installed: uvicorn serves with h11
    HttpToolsProtocol = None  # type: ignore[assignment,misc]


def _refuse(transport: asyncio.Transport, status: int, reason: str, message: str) -> None:
    if transport.is_closing():
        return
    body = message.encode()
    transport.write(
        b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
        b"connection: close\r\n\r\n%s" % (status, reason.encode(), len(body), body)
    )
    transport.close()


class HeaderClock:
    """The deadline and byte count of one connection's next request line and headers."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout_s: float, max_bytes: int):
        self.loop, self.timeout_s, self.max_bytes = loop, timeout_s, max_bytes
        self.timer: asyncio.TimerHandle | None = None
        self.received = 0

    def arm(self, transport: asyncio.Transport) -> None:
        """Ready for a request: its line and headers are due within the timeout."""
        self.disarm()
        self.received = 0
        self.timer = self.loop.call_later(
            self.timeout_s,
            _refuse,
            transport,
            408,
            "Request Timeout",
            f"the request line and headers did not arrive within {self.timeout_s:g} s (LAB_HEADER_TIMEOUT_S)\n",
        )

    def disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def count(self, transport: asyncio.Transport, data: bytes) -> None:
        """Count bytes the parser has just read without finishing the headers (a chunk that finished them
        disarmed the clock, and the body it carried is not counted); past the bound, 431 and close."""
        if self.timer is None:
            return
        self.received += len(data)
        if self.received > self.max_bytes:
            self.disarm()
            _refuse(
                transport,
                431,
                "Request Header Fields Too Large",
                f"the request line and headers are over {self.max_bytes} bytes (LAB_MAX_HEADER_BYTES)\n",
            )


class H11WithDeadline(H11Protocol):
    header_timeout_s = 10.0
    max_header_bytes = 16_384

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_clock = HeaderClock(self.loop, self.header_timeout_s, self.max_header_bytes)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.header_clock.arm(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.header_clock.disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the request's line and headers are in (or it is gone)
            self.header_clock.disarm()
        self.header_clock.count(self.transport, data)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self.header_clock.arm(self.transport)


if HttpToolsProtocol is not None:

    class HttpToolsWithDeadline(HttpToolsProtocol):
        header_timeout_s = 10.0
        max_header_bytes = 16_384

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.header_clock = HeaderClock(self.loop, self.header_timeout_s, self.max_header_bytes)

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self.header_clock.arm(transport)

        def connection_lost(self, exc: Exception | None) -> None:
            self.header_clock.disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)  # on_headers_complete disarms the clock if this finished them
            self.header_clock.count(self.transport, data)

        def on_headers_complete(self) -> None:
            self.header_clock.disarm()  # before the app is called: the clock stops as the headers are in
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and not self.pipeline:
                self.header_clock.arm(self.transport)


def protocol(header_timeout_s: float, max_header_bytes: int) -> type[asyncio.Protocol]:
    """The HTTP protocol class to give uvicorn (`http=`): the one it would pick, with the deadline."""
    base: type[H11WithDeadline] | type[HttpToolsWithDeadline] = (
        HttpToolsWithDeadline if HttpToolsProtocol is not None else H11WithDeadline
    )
    return type(base.__name__, (base,), {"header_timeout_s": header_timeout_s, "max_header_bytes": max_header_bytes})
