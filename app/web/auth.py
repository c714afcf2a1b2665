"""The teacher: whoever presents the admin token (`LAB_ADMIN_TOKEN`).

An API call sends it as `Authorization: Bearer <token>`. A browser signs in once on the
presenter page, which sets the `lab_admin` cookie to a keyed hash of the token (never the
token itself). Both are compared in constant time; the token is never logged or echoed.
Guessing it online is throttled: after ADMIN_GUESSES_PER_MINUTE wrong tokens from one address, any
token it presents gets 429 until the minute is over (a signed-in browser's cookie is not affected).
The address is the one app/web/clients.py believes (a client cannot name its own), and the count is the
lab's (`Engine.guesses`): in Redis in a distributed lab, so two replicas allow no more guesses than one.
A bearer token is checked once per request, by AdminTokenMiddleware, before any route asks.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import HTTPException
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from app.running.ratelimit import ADMIN_GUESSES_PER_MINUTE as ADMIN_GUESSES_PER_MINUTE  # the limit enforced here
from app.running.ratelimit import Guesses, whole_seconds
from app.settings import Settings
from app.web.clients import client_of
from app.web.errors import STORE_AWAY, ErrorResponse, store_away

ADMIN_COOKIE = "lab_admin"


async def presented_token_matches(conn: HTTPConnection, settings: Settings, presented: str) -> bool:
    """`token_matches`, throttled per address: 429 once it presented too many wrong tokens lately."""
    guesses: Guesses = conn.app.state.admin_guesses  # app/web/server.py: the engine's
    address = client_of(conn).ip
    wait = await guesses.retry_after(address)
    if wait > 0:
        retry = whole_seconds(wait)
        raise HTTPException(
            429,
            f"too many wrong admin tokens from your address ({ADMIN_GUESSES_PER_MINUTE} a minute): "
            f"try again in {retry} s",
            headers={"Retry-After": str(retry)},
        )
    if token_matches(settings, presented):
        return True
    await guesses.record(address)
    return False


def admin_cookie_value(settings: Settings) -> str | None:
    if settings.admin_token is None:
        return None
    token = settings.admin_token.get_secret_value().encode()
    return hmac.new(token, b"concurrency-lab admin cookie", hashlib.sha256).hexdigest()


def token_matches(settings: Settings, presented: str) -> bool:
    if settings.admin_token is None:
        return False
    return hmac.compare_digest(presented.encode(), settings.admin_token.get_secret_value().encode())


def is_admin(conn: HTTPConnection, settings: Settings) -> bool:
    """Whether the request is the teacher's; worked out once per request, so that a wrong token is one
    guess however many places ask (a run page asks for its cancel button and for its pin controls)."""
    admin = getattr(conn.state, "lab_admin", None)
    if admin is None:
        admin = conn.state.lab_admin = _is_admin(conn, settings)
    return admin


def bearer(conn: HTTPConnection) -> str | None:
    scheme, _, presented = conn.headers.get("authorization", "").partition(" ")
    return (presented.strip() or None) if scheme.lower() == "bearer" else None


class AdminTokenMiddleware:
    """Check a request's bearer token once, throttled, before any route asks `is_admin` (which is not async,
    and the guesses may be in Redis): a wrong one is one guess, and past the limit the request gets 429."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        presented = bearer(conn)
        if presented is not None:
            try:
                conn.state.lab_admin = await presented_token_matches(conn, conn.app.state.settings, presented)
            except HTTPException as throttled:
                await ErrorResponse({"detail": throttled.detail}, throttled.status_code, throttled.headers)(
                    scope, receive, send
                )
                return
            except STORE_AWAY as exc:  # the guesses are in a distributed lab's Redis, away: as a route would answer
                await store_away(exc)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _is_admin(conn: HTTPConnection, settings: Settings) -> bool:
    if bearer(conn) is not None:  # AdminTokenMiddleware answered already, unless it is not installed: no admin
        return False
    expected = admin_cookie_value(settings)
    cookie = conn.cookies.get(ADMIN_COOKIE)
    return expected is not None and cookie is not None and hmac.compare_digest(cookie.encode(), expected.encode())
