"""The teacher: whoever presents the admin token (`LAB_ADMIN_TOKEN`).

An API call sends it as `Authorization: Bearer <token>`. A browser signs in once on the
presenter page, which sets the `lab_admin` cookie to a keyed hash of the token (never the
token itself). Both are compared in constant time; the token is never logged or echoed.
Guessing it online is throttled: after ADMIN_GUESSES_PER_MINUTE wrong tokens from one address, any
token it presents gets 429 until the minute is over (a signed-in browser's cookie is not affected).
"""
from __future__ import annotations

import hashlib
import hmac

from fastapi import HTTPException
from starlette.requests import HTTPConnection

from app.running.ratelimit import SlidingWindow, whole_seconds
from app.settings import Settings
from app.web.clients import client_of

ADMIN_COOKIE = "lab_admin"
ADMIN_GUESSES_PER_MINUTE = 10


def guess_window() -> SlidingWindow:
    """Wrong tokens per address (app.state.admin_guesses, made by app/web/server.py)."""
    return SlidingWindow(ADMIN_GUESSES_PER_MINUTE, 60.0)


def presented_token_matches(conn: HTTPConnection, settings: Settings, presented: str) -> bool:
    """`token_matches`, throttled per address: 429 once it presented too many wrong tokens lately."""
    guesses: SlidingWindow = conn.app.state.admin_guesses
    address = client_of(conn).ip
    wait = guesses.retry_after(address)
    if wait > 0:
        retry = whole_seconds(wait)
        raise HTTPException(429, f"too many wrong admin tokens from your address ({ADMIN_GUESSES_PER_MINUTE} a minute): "
                                 f"try again in {retry} s", headers={"Retry-After": str(retry)})
    if token_matches(settings, presented):
        return True
    guesses.record(address)
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


def _is_admin(conn: HTTPConnection, settings: Settings) -> bool:
    scheme, _, presented = conn.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and presented:
        return presented_token_matches(conn, settings, presented.strip())
    expected = admin_cookie_value(settings)
    cookie = conn.cookies.get(ADMIN_COOKIE)
    return expected is not None and cookie is not None and hmac.compare_digest(cookie.encode(), expected.encode())
