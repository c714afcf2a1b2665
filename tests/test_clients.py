"""Who a client is: the cookie set on first contact, the IP address without one."""
from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.requests import Request

from app.web.clients import COOKIE, ClientCookieMiddleware, client_of


def make_client(base_url: str = "http://testserver") -> TestClient:
    app = FastAPI()
    app.add_middleware(ClientCookieMiddleware)

    @app.get("/who")
    async def who(request: Request) -> dict[str, str]:
        return {"id": client_of(request).id}

    return TestClient(app, base_url=base_url)


def test_first_contact_sets_an_http_only_cookie_that_identifies_the_client_from_then_on():
    client = make_client()
    cookie = client.get("/who").headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    again = client.get("/who")  # the cookie jar sends it back: that client, and no new cookie
    assert cookie.startswith(f"{COOKIE}={again.json()['id']};") and "set-cookie" not in again.headers


def test_the_cookie_is_secure_behind_tls():
    assert "Secure" in make_client("https://testserver").get("/who").headers["set-cookie"]


def test_a_request_without_a_valid_cookie_is_known_by_its_ip_address():
    client = make_client()
    first = client.get("/who")  # no cookie yet: its address; the response gives it one
    assert first.json()["id"] == "ip:testclient"
    assert client.get("/who").json()["id"] == first.headers["set-cookie"].split(";")[0].split("=")[1]
    client.cookies.clear()
    assert client.get("/who", headers={"cookie": f"{COOKIE}=forged"}).json()["id"] == "ip:testclient"
