"""Headers that never finish, over a raw socket to a real uvicorn served as `python -m app` serves
(app/web/header_deadline.py): 408 and closed once LAB_HEADER_TIMEOUT_S has passed since the connection was ready
for a request; 431 past LAB_MAX_HEADER_BYTES; a request whose headers came in time is served, however long
its connection then lives."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from websockets.sync.client import connect
from websockets.typing import Origin

from app.web import header_deadline
from app.web.header_deadline import H11WithDeadline, protocol
from app.web.server import create_app
from tests.helpers import TEST_MODULES, make_settings, serving

TIMEOUT_S = 0.5
WAIT_S = 20  # a deadline for what must happen long before it, not a bound on when


@pytest.fixture(scope="module", params=["httptools", "h11"])
def url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The lab served with the protocol uvicorn picks (httptools), and with h11 (where httptools is not installed)."""
    settings = make_settings(header_timeout_s=TIMEOUT_S, max_header_bytes=2048)
    with contextlib.ExitStack() as stack:
        with pytest.MonkeyPatch.context() as patch:
            if request.param == "h11":  # as if httptools were not installed: protocol() picks h11's
                patch.setattr(header_deadline, "HttpToolsProtocol", None)
            base = stack.enter_context(serving(create_app(settings, modules=TEST_MODULES), settings))
        # the server has its protocol class: the module is left as it was for the other tests
        yield base


def opened(url: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=WAIT_S)
    return sock


def whole_response(sock: socket.socket) -> bytes:
    """One response, headers and body (by its content-length), however many reads it takes: under load its body
    came in a second read, and was then taken for the start of the next answer."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    head, body = received.split(b"\r\n\r\n", 1)
    length = int(
        next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


@pytest.mark.parametrize(
    "sent", [b"", b"GET /healthz HTTP/1.1\r\n", b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n", b"GE"]
)
def test_a_request_line_and_headers_that_never_finish_get_408_and_the_connection_closed(url, sent):
    began = time.monotonic()  # before the connection: the server's clock starts after
    with opened(url) as sock:
        sock.sendall(sent)
        answer = until_closed(sock)
        # Not before its time (give or take a millisecond: the server's event loop runs a timer when it is due within
        # the loop's clock reading, and one came 0.15 ms short of 0.5 s once in four runs here).
        assert time.monotonic() - began >= TIMEOUT_S - 0.001
    assert answer.startswith(b"HTTP/1.1 408 ") and b"LAB_HEADER_TIMEOUT_S" in answer


def test_headers_trickling_in_past_the_deadline_get_408_though_each_byte_came_soon(url):
    with opened(url) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        began = time.monotonic()
        try:
            while time.monotonic() - began < TIMEOUT_S * 4:  # a header byte every tenth of the deadline
                sock.sendall(b"X")
                time.sleep(TIMEOUT_S / 10)
        except (BrokenPipeError, ConnectionResetError):  # closed on it: expected
            pass
        answer = until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408 ")


def test_headers_over_the_bound_get_431(url):
    with opened(url) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 3000 + b"\r\n")
        answer = until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 431 ") and b"LAB_MAX_HEADER_BYTES" in answer


def test_a_keep_alive_connection_is_served_and_its_next_request_is_held_to_the_deadline_too(url):
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with opened(url) as sock:
        sock.sendall(request)
        first = whole_response(sock)
        assert first.startswith(b"HTTP/1.1 200 ")
        sock.sendall(request[:20])  # the next request begins, then stalls
        answer = until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408 ")


def test_a_websocket_outlives_the_deadline(url):
    port = urlsplit(url).port
    origin = Origin(f"http://127.0.0.1:{port}")
    with connect(f"ws://127.0.0.1:{port}/ws/lobby", origin=origin, open_timeout=WAIT_S) as ws:
        ws.recv(timeout=WAIT_S)  # the lobby's first render
        time.sleep(TIMEOUT_S * 3)  # not a wait for anything: time passing the deadline, the socket still open after
        ws.ping().wait(WAIT_S)


def test_uvicorn_would_pick_httptools_and_the_deadline_is_on_it():
    from app.web.header_deadline import HttpToolsWithDeadline  # defined only where httptools is installed

    served = protocol(1.0, 2048)
    assert served.__name__ == "HttpToolsWithDeadline" and issubclass(served, HttpToolsWithDeadline)
    assert served.header_timeout_s == 1.0
    assert H11WithDeadline.max_header_bytes == 16_384


def test_a_body_sent_with_its_headers_does_not_count_as_headers(url):
    body = b'{"experiment": "nope", "pad": "' + b"a" * 8000 + b'"}'
    with opened(url) as sock:
        sock.sendall(
            b"POST /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
        )
        answer = until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 404 ")  # read whole, as any body within LAB_MAX_BODY_BYTES
