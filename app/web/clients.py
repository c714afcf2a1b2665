"""Who is asking: a client is the holder of a `lab_client` cookie the lab signed, its IP address the backstop.

The cookie is set on first contact (any HTTP response without a good one): a random token and its HMAC
under the lab's secret (app/storage/lab_secret.py), `<token>.<signature>`. A request that comes without
one, or with one the lab did not sign (a script inventing a token per request, or a forged one), is the
client `ip:<address>`, so limits still apply to it: 40 requests with 40 invented cookies are one client,
as 40 without any are. A cookie the lab gave is one client wherever it is sent from, so students behind
one NAT address are each their own client.

The address is the peer's, or, from a reverse proxy named in LAB_TRUSTED_PROXIES, the rightmost address of
X-Forwarded-For that is not one of those proxies (app/web/server.py installs uvicorn's ProxyHeadersMiddleware
with that list; uvicorn's own `--proxy-headers` is left off, app/__main__.py). An address named by anyone
else is not believed: a client cannot choose its own.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.running.limits import Client

COOKIE = "lab_client"
COOKIE_MAX_AGE = 365 * 24 * 3600
TOKEN_HEX = 32
SIGNATURE_HEX = 32  # 128 bits of HMAC-SHA256: no forging it by guessing


def signature(key: bytes, token: str) -> str:
    return hmac.new(key, f"{COOKIE}:{token}".encode(), hashlib.sha256).hexdigest()[:SIGNATURE_HEX]


def signed(key: bytes, token: str) -> str:
    """The cookie's value for `token`: the token and its signature."""
    return f"{token}.{signature(key, token)}"


def verified(key: bytes | None, value: str | None) -> str | None:
    """The token of a cookie the lab signed with `key`, or None (no cookie, no key yet, a bad or forged one)."""
    if key is None or value is None:
        return None
    token, dot, mac = value.partition(".")
    if not dot or len(token) != TOKEN_HEX or any(c not in "0123456789abcdef" for c in token):
        return None
    return token if hmac.compare_digest(mac.encode(), signature(key, token).encode()) else None


def key_of(scope_or_conn: Scope | HTTPConnection) -> bytes | None:
    """The key app/web/server.py put in app.state once the lab opened (None before)."""
    app = scope_or_conn.app if isinstance(scope_or_conn, HTTPConnection) else scope_or_conn.get("app")
    key: bytes | None = getattr(getattr(app, "state", None), "client_key", None)
    return key


def client_of(conn: HTTPConnection) -> Client:
    ip = conn.client.host if conn.client else "unknown"
    token = verified(key_of(conn), conn.cookies.get(COOKIE))
    return Client(token if token is not None else f"ip:{ip}", ip)


class ClientCookieMiddleware:
    """Give every HTTP client without a cookie the lab signed a fresh one, for its next requests.

    The request that comes without one counts as its IP address: a script that drops every
    cookie, or invents one each time, is then one client, held to the per-client limits.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = key_of(scope) if scope["type"] == "http" else None
        if key is None or verified(key, HTTPConnection(scope).cookies.get(COOKIE)) is not None:
            await self.app(scope, receive, send)
            return
        value = signed(key, secrets.token_hex(TOKEN_HEX // 2))

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                # Secure behind TLS (a trusted proxy's X-Forwarded-Proto gives the scheme).
                secure = "; Secure" if scope.get("scheme") == "https" else ""
                headers.append(
                    "set-cookie", f"{COOKIE}={value}; Max-Age={COOKIE_MAX_AGE}; Path=/; HttpOnly; SameSite=Lax{secure}"
                )
            await send(message)

        await self.app(scope, receive, send_with_cookie)
