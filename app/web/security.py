"""Security at the ASGI edge: response headers, a request body limit, and websocket guards.

- Every HTTP response gets a Content-Security-Policy (scripts only from this server and the
  two pinned CDN files, which also carry SRI; no inline script, no eval; frames refused),
  `X-Content-Type-Options: nosniff` and `Referrer-Policy: same-origin`.
- A request body larger than `max_body_bytes` gets 413 as soon as that is known, from
  Content-Length or while it streams in: it is never read further, and never in full. One not
  received in full within `body_timeout_s` (`Content-Length: 100`, 5 bytes, then silence) gets
  408 and the connection is closed: uvicorn has no timeout of its own for a request's body.
- A websocket (every `/ws/*` route) opened from an origin not allowed is refused before it is
  accepted (close code 4403: uvicorn answers HTTP 403), so another site cannot ride a student's
  cookies (cross-site websocket hijacking). Allowed: the lab's own address as the browser reached
  it (the Origin names the Host the request was sent to, a host this lab answers to), and the
  origins it was given (`LAB_ALLOWED_ORIGINS`, `LAB_PUBLIC_URL`: a proxy's public address). A message from the browser larger than
  `max_ws_message_bytes` closes the socket with 1009 (uvicorn's ws_max_size is set to the
  same bound, app/__main__.py, so the frame is refused before it is even buffered).
- A request or websocket whose Host header names a host this lab does not answer to gets 400
  (DNS rebinding: a page on evil.example, whose name is made to resolve to 127.0.0.1, reaches a
  lab on the teacher's laptop as a same-origin page; only its Host header gives it away). IP
  addresses and `localhost` are always answered: a browser only sends them when the page's own
  address was one, and rebinding needs a name. Names: `allowed_hosts`, the host of each
  allowed origin, and the name the server was told to bind to (`host_names`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FORBIDDEN_ORIGIN = 4403
MESSAGE_TOO_BIG = 1009


def content_security_policy(cdn_scripts: tuple[str, ...] = ()) -> str:
    # Exact CDN file URLs, not the whole host: nothing else from it may run here.
    scripts = " ".join(("'self'", *cdn_scripts))
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src {scripts}",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",  # the same-origin websocket (ws:/wss: to self, CSP Level 3)
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, csp: str) -> None:
        self.app = app
        self.headers = {
            "content-security-policy": csp,
            "x-content-type-options": "nosniff",
            "referrer-policy": "same-origin",
            "x-frame-options": "DENY",  # frame-ancestors for browsers without CSP 2
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _refuse(send: Send, status: int, content: dict[str, Any]) -> None:
    """Answer and close the connection: the rest of the body is never read."""
    body = json.dumps(content).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _too_large(send: Send, limit: int) -> None:
    await _refuse(
        send,
        413,
        {
            "detail": f"request body too large: at most {limit} bytes (max_body_bytes)",
            "limit": "max_body_bytes",
            "value": limit,
        },
    )


class BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """Read a request's body (at most `limit` bytes, within `timeout_s`) before the app sees it, or answer 413/408."""

    def __init__(self, app: ASGIApp, limit: int, timeout_s: float = 10.0) -> None:
        self.app = app
        self.limit = limit
        self.timeout_s = timeout_s

    async def _read(self, receive: Receive) -> bytes:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                break
            size += len(message.get("body", b""))
            if size > self.limit:
                raise BodyTooLarge
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await _too_large(send, self.limit)
            return
        # Bodies here are small (a form, a JSON of params): hold it, counting, then replay it.
        try:
            async with asyncio.timeout(self.timeout_s):
                body = await self._read(receive)
        except BodyTooLarge:
            await _too_large(send, self.limit)
            return
        except TimeoutError:
            await _refuse(
                send,
                408,
                {
                    "detail": f"request body not received in full within {self.timeout_s:g} s (LAB_BODY_TIMEOUT_S)",
                    "limit": "body_timeout_s",
                    "value": self.timeout_s,
                },
            )
            return
        replay = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive_replayed() -> Message:
            return replay.pop() if replay else await receive()

        await self.app(scope, receive_replayed, send)


def origin_allowed(origin: str | None, host: str | None, allowed: list[str], names: frozenset[str]) -> bool:
    """May a page from `origin` open a websocket (or send a form) here? Pure, for tests.

    A page of the lab itself always may: its Origin names the very Host its request went to, and that
    host is one the lab answers to (`names`, as the Host check has them: any IP address, localhost, the
    names it was given). A student who reached the lab at http://192.168.1.20:8000 sends that as both.
    Any other origin only if it was given (`allowed`: a proxy's public address, whose Host the proxy
    may rewrite). A page on another site names its own origin, which is neither."""
    if origin is None:  # not a browser (browsers always send Origin on websockets): no cookies to ride
        return True
    if origin.rstrip("/").lower() in {o.rstrip("/").lower() for o in allowed}:
        return True
    parts = urlsplit(origin)
    return (
        parts.scheme in ("http", "https")
        and host is not None
        and parts.netloc.lower() == host.lower()
        and host_allowed(host, names)
    )


class WebsocketGuardMiddleware:
    def __init__(self, app: ASGIApp, allowed_origins: list[str], names: frozenset[str], max_message_bytes: int) -> None:
        self.app = app
        self.allowed = allowed_origins
        self.names = names
        self.max_message_bytes = max_message_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if not origin_allowed(headers.get("origin"), headers.get("host"), self.allowed, self.names):
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": FORBIDDEN_ORIGIN, "reason": "origin not allowed"})
            return

        async def receive_bounded() -> Message:
            message = await receive()
            if message["type"] == "websocket.receive":
                size = len(message.get("bytes") or b"") + len((message.get("text") or "").encode())
                if size > self.max_message_bytes:
                    await send(
                        {
                            "type": "websocket.close",
                            "code": MESSAGE_TOO_BIG,
                            "reason": f"message over {self.max_message_bytes} bytes",
                        }
                    )
                    return {"type": "websocket.disconnect", "code": MESSAGE_TOO_BIG}
            return message

        await self.app(scope, receive_bounded, send)


# ---- The Host header (DNS rebinding) ----

ANY_HOST = "*"


def host_of(header: str | None) -> str | None:
    """The host a Host header names, lower-case, an IPv6 address without brackets; None if it names none."""
    if not header:
        return None
    try:
        parts = urlsplit("//" + header)
        parts.port  # noqa: B018  (a port that is not a number raises ValueError)
    except ValueError:
        return None
    if parts.username is not None or parts.path or parts.query or parts.fragment or not parts.hostname:
        return None
    return parts.hostname.rstrip(".") or None


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_loopback(host: str) -> bool:
    """Whether `host` (as host_of gives it) names this machine's loopback: only this machine reaches it."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    return is_ip(host) and ipaddress.ip_address(host).is_loopback


def host_names(allowed_hosts: Iterable[str], allowed_origins: Iterable[str], bound_host: str) -> frozenset[str]:
    """The host names (beside IP addresses and localhost) a lab answers to: pure, for tests."""
    names = {"localhost"}
    names.update(host.strip().lower().strip("[]").rstrip(".") for host in allowed_hosts if host.strip())
    names.update(urlsplit(origin).hostname or "" for origin in allowed_origins)
    if bound_host and not is_ip(bound_host.strip("[]")):  # bound by name (say --host lab.local): that name
        names.add(bound_host.lower())
    return frozenset(name for name in names if name)


def host_allowed(header: str | None, names: frozenset[str]) -> bool:
    """May a request with this Host header be answered? Pure, for tests."""
    if ANY_HOST in names:
        return True
    host = host_of(header)
    return host is not None and (is_ip(host) or host in names or host.endswith(".localhost"))


class HostGuardMiddleware:
    """400 to a request or websocket whose Host is not one of ours (see the module's docstring).

    Starlette's TrustedHostMiddleware checks a list of names too, but it cannot answer every IP
    address (what a class reaching a container by its host's address sends), and its 400 does not
    say what to do about it."""

    def __init__(self, app: ASGIApp, names: frozenset[str]) -> None:
        self.app = app
        self.names = names

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        header = Headers(scope=scope).get("host")
        if host_allowed(header, self.names):
            await self.app(scope, receive, send)
            return
        shown = (header or "")[:100].encode("ascii", "backslashreplace").decode()
        message = (
            f"Host {shown!r} is not a name this lab answers to: it answers to IP addresses, localhost and "
            f"{', '.join(sorted(self.names - {'localhost'})) or 'no other name'}. "
            "Serving it under another name? Add that name to LAB_ALLOWED_HOSTS.\n"
        )
        if scope["type"] == "websocket" and "websocket.http.response" not in scope.get("extensions", {}):
            await receive()  # websocket.connect: refused without a body (the server answers 403)
            await send({"type": "websocket.close", "code": FORBIDDEN_ORIGIN, "reason": "host not allowed"})
            return
        # On a websocket, Starlette sends this as the handshake's answer (the denial response extension).
        await PlainTextResponse(message, status_code=400)(scope, receive, send)
