"""The teacher: whoever presents the admin token (`LAB_ADMIN_TOKEN`).

An API call sends it as `Authorization: Bearer <token>`. A browser signs in once on the
presenter page, which sets the `lab_admin` cookie to a keyed hash of the token (never the
token itself). Both are compared in constant time; the token is never logged or echoed.
"""
from __future__ import annotations

import hashlib
import hmac

from starlette.requests import HTTPConnection

from app.settings import Settings

ADMIN_COOKIE = "lab_admin"


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
    scheme, _, presented = conn.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and presented:
        return token_matches(settings, presented.strip())
    expected = admin_cookie_value(settings)
    cookie = conn.cookies.get(ADMIN_COOKIE)
    return expected is not None and cookie is not None and hmac.compare_digest(cookie.encode(), expected.encode())
