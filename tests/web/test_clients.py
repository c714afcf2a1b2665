"""Who a client is: the signed cookie set on first contact, the IP address without one (or with one the lab
did not sign); the address a trusted proxy forwarded, and no other."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.requests import Request
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app.web.clients import COOKIE, ClientCookieMiddleware, client_of, signed, verified

KEY = b"k" * 32


def make_client(base_url: str = "http://testserver", trusted: list[str] | None = None) -> TestClient:
    app = FastAPI()
    app.state.client_key = KEY
    app.add_middleware(ClientCookieMiddleware)
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=trusted or [])

    @app.get("/who")
    async def who(request: Request) -> dict[str, str]:
        client = client_of(request)
        return {"id": client.id, "ip": client.ip}

    return TestClient(app, base_url=base_url)


def test_first_contact_sets_an_http_only_cookie_that_identifies_the_client_from_then_on():
    client = make_client()
    cookie = client.get("/who").headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    again = client.get("/who")  # the cookie jar sends it back: that client, and no new cookie
    token = again.json()["id"]
    assert cookie.startswith(f"{COOKIE}={signed(KEY, token)};") and "set-cookie" not in again.headers
    assert len(token) == 32


def test_the_cookie_is_secure_behind_tls():
    assert "Secure" in make_client("https://testserver").get("/who").headers["set-cookie"]


def test_a_request_without_a_valid_cookie_is_known_by_its_ip_address():
    client = make_client()
    first = client.get("/who")  # no cookie yet: its address; the response gives it one
    assert first.json()["id"] == "ip:testclient"
    given = first.headers["set-cookie"].split(";")[0].split("=")[1]
    assert client.get("/who").json()["id"] == given.split(".")[0]
    client.cookies.clear()
    assert client.get("/who", headers={"cookie": f"{COOKIE}=forged"}).json()["id"] == "ip:testclient"


def test_a_cookie_the_lab_did_not_sign_is_the_address_and_gets_a_signed_one():
    client = make_client()
    token = "0123456789abcdef" * 2
    forged = [
        token,  # the unsigned cookie every client had before
        f"{token}.{'0' * 32}",
        f"{token}.{signed(b'another lab', token).split('.')[1]}",
        f"{token}.{signed(KEY, token).split('.')[1][:-1]}",
        f"{'0' * 32}.{signed(KEY, token).split('.')[1]}",
        f"{token.upper()}.{signed(KEY, token).split('.')[1]}",
        f"{token}.{signed(KEY, token).split('.')[1]}x",
        "..",
        ".",
    ]
    for value in forged:
        response = client.get("/who", headers={"cookie": f"{COOKIE}={value}"})
        assert response.json()["id"] == "ip:testclient", value
        assert verified(KEY, response.headers["set-cookie"].split(";")[0].split("=")[1]) is not None  # a good one back
    assert client.get("/who", headers={"cookie": f"{COOKIE}={signed(KEY, token)}"}).json()["id"] == token


def test_no_key_yet_no_cookie_is_good_and_none_is_given():
    assert verified(None, signed(KEY, "0" * 32)) is None
    app = FastAPI()
    app.add_middleware(ClientCookieMiddleware)

    @app.get("/who")
    async def who(request: Request) -> dict[str, str]:
        return {"id": client_of(request).id}

    response = TestClient(app).get("/who", headers={"cookie": f"{COOKIE}={signed(KEY, '0' * 32)}"})
    assert response.json()["id"] == "ip:testclient" and "set-cookie" not in response.headers


def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy_and_only_up_to_it():
    # TestClient's peer is "testclient"; as a trusted proxy it is named by that literal.
    untrusted = make_client()
    assert untrusted.get("/who", headers={"x-forwarded-for": "203.0.113.6"}).json()["ip"] == "testclient"
    trusted = make_client(trusted=["testclient", "10.0.0.0/8"])
    who = lambda xff: trusted.get("/who", headers={"x-forwarded-for": xff}).json()["ip"]  # noqa: E731
    assert who("192.0.2.7") == "192.0.2.7"  # the proxy's own peer
    assert who("203.0.113.6, 192.0.2.7") == "192.0.2.7"  # the client wrote the leftmost: not believed
    assert who("203.0.113.6, 192.0.2.7, 10.1.2.3") == "192.0.2.7"  # through a second trusted proxy
    assert trusted.get("/who").json()["ip"] == "testclient"
