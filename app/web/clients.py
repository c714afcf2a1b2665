"""Who is asking: a client is the holder of the `lab_client` cookie, its IP address the backstop.

The cookie is set on first contact (any HTTP response without one). A request that comes
without it (a script, a browser refusing cookies) is the client `ip:<address>`, so limits
still apply to it. Behind a reverse proxy, run uvicorn with --proxy-headers so the address
is the student's, not the proxy's.
"""
from __future__ import annotations

import secrets
from typing import TypeGuard

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.running.limits import Client

COOKIE = "lab_client"
COOKIE_MAX_AGE = 365 * 24 * 3600


def _valid(token: str | None) -> TypeGuard[str]:
    return token is not None and len(token) == 32 and all(c in "0123456789abcdef" for c in token)


def client_of(conn: HTTPConnection) -> Client:
    ip = conn.client.host if conn.client else "unknown"
    token = conn.cookies.get(COOKIE)
    return Client(token if _valid(token) else f"ip:{ip}", ip)


class ClientCookieMiddleware:
    """Give every HTTP client without a (valid) cookie a fresh one, for its next requests.

    The request that comes without one counts as its IP address: a script that drops every
    cookie is then one client, held to the per-client limits, not a new client each time.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _valid(HTTPConnection(scope).cookies.get(COOKIE)):
            await self.app(scope, receive, send)
            return
        token = secrets.token_hex(16)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                # Secure behind TLS (uvicorn --proxy-headers takes the scheme from X-Forwarded-Proto).
                secure = "; Secure" if scope.get("scheme") == "https" else ""
                headers.append("set-cookie", f"{COOKIE}={token}; Max-Age={COOKIE_MAX_AGE}; Path=/; HttpOnly; SameSite=Lax{secure}")
            await send(message)

        await self.app(scope, receive, send_with_cookie)
