"""Security edges: headers, body size, websocket origin and message size, the admin token never logged."""

from __future__ import annotations

import asyncio
import os
import socket
import time

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin

from app.web.security import FORBIDDEN_ORIGIN, BodyLimitMiddleware, host_allowed, host_names, origin_allowed
from app.web.server import create_app
from tests.helpers import TEST_MODULES, AppProcess, make_settings, post_sleeps, receive_text, serving, wait_for_status


@pytest.fixture
def c():
    with TestClient(create_app(make_settings(max_body_bytes=2048), modules=TEST_MODULES)) as client:
        yield client


@pytest.mark.parametrize("path", ["/", "/experiments/race-counter", "/api/experiments", "/static/style.css", "/nope"])
def test_every_response_carries_the_security_headers(c, path):
    headers = c.get(path).headers
    csp = headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"


def test_the_policy_names_the_pinned_cdn_files_only_when_the_cdn_is_used():
    with TestClient(create_app(make_settings(htmx_source="cdn"), modules=TEST_MODULES)) as cdn:
        csp = cdn.get("/").headers["content-security-policy"]
    assert "https://cdn.jsdelivr.net/npm/htmx.org@2.0.11/dist/htmx.min.js" in csp
    assert "https://cdn.jsdelivr.net/npm/htmx-ext-ws@2.0.4/dist/ws.min.js" in csp
    with TestClient(create_app(make_settings(htmx_source="local"), modules=TEST_MODULES)) as local:
        assert "jsdelivr" not in local.get("/").headers["content-security-policy"]


def test_an_oversized_body_is_413_naming_the_limit(c):
    big = {"experiment": "race-counter", "params": {"x": "y" * 4000}}
    response = c.post("/api/runs", json=big)
    assert response.status_code == 413
    assert response.json()["limit"] == "max_body_bytes" and "2048 bytes" in response.json()["detail"]
    form = c.post("/experiments/race-counter/runs", data={"workers": "2", "pad": "z" * 4000})
    assert form.status_code == 413


def test_an_oversized_streamed_body_is_413_without_reading_it_all():
    """No Content-Length (chunked): the middleware stops reading at the limit, the app never runs."""
    received, sent, app_called = [], [], []

    async def app(scope, receive, send):
        app_called.append(1)

    async def receive():
        received.append(1)
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}  # endless

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/runs", "headers": [(b"content-type", b"application/json")]}
    asyncio.run(BodyLimitMiddleware(app, limit=4096)(scope, receive, send))
    assert sent[0]["status"] == 413 and b"max_body_bytes" in sent[1]["body"]
    assert len(received) == 5 and not app_called


def test_a_body_within_the_limit_is_read_as_usual(c):
    response = c.post("/api/runs", json={"experiment": "race-counter", "params": {"workers": 99}})
    assert response.status_code == 422  # got through to validation


@pytest.mark.parametrize(
    "origin, host, allowed, ok",
    [
        (None, "lab.example", [], True),
        ("https://lab.example", "lab.example", [], True),
        ("http://127.0.0.1:8000", "127.0.0.1:8000", [], True),
        ("https://evil.example", "lab.example", [], False),
        ("https://lab.example.evil.example", "lab.example", [], False),
        ("null", "lab.example", [], False),
        ("https://lab.example", None, [], False),
        ("https://class.example", "internal:8000", ["https://class.example"], True),
        ("https://internal:8000", "internal:8000", ["https://class.example"], False),  # a name never given
        # A student who reached the lab by its address, with a proxy's origin given: its own page, allowed.
        ("http://192.0.2.1:8000", "192.0.2.1:8000", ["https://class.example"], True),
        ("http://192.0.2.1:8000", "192.0.2.1:8001", ["https://class.example"], False),  # another port: another origin
        ("http://192.0.2.9:8000", "192.0.2.1:8000", ["https://class.example"], False),
        ("https://evil.example", "192.0.2.1:8000", ["https://class.example"], False),
        ("https://CLASS.example/", "internal:8000", ["https://class.example"], True),
    ],
)
def test_origin_allowed(origin, host, allowed, ok):
    # as for a lab told its name (LAB_ALLOWED_HOSTS=["lab.example"]): the Host check answers it
    assert origin_allowed(origin, host, allowed, host_names(["lab.example"], allowed, "127.0.0.1")) is ok


def test_a_cross_origin_websocket_is_refused_and_a_same_origin_one_is_not(c):
    run_id = c.post("/api/runs", json={"experiment": "test-raises", "params": {"workers": 1}}).json()["id"]
    wait_for_status(c, run_id)
    with pytest.raises(WebSocketDisconnect) as refused:
        with c.websocket_connect(f"/ws/runs/{run_id}", headers={"origin": "https://evil.example"}) as ws:
            receive_text(ws)
    assert refused.value.code == FORBIDDEN_ORIGIN
    with c.websocket_connect(f"/ws/runs/{run_id}", headers={"origin": "http://testserver"}) as ws:
        assert 'id="status"' in receive_text(ws)


def test_over_a_real_socket_big_body_413_cross_origin_403_oversized_frame_closes():
    settings = make_settings(max_ws_message_bytes=1024)  # served with app/__main__.py's options
    with serving(create_app(settings, modules=TEST_MODULES), settings) as base, httpx.Client(base_url=base) as http:
        too_big = http.post(
            "/api/runs", content=b"{" + b" " * 20_000 + b"}", headers={"content-type": "application/json"}
        )
        assert too_big.status_code == 413
        run_id = post_sleeps(http)
        url = f"ws://{base.removeprefix('http://')}/ws/runs/{run_id}"
        with pytest.raises(InvalidStatus) as refused:
            connect(url, origin=Origin("http://evil.example"), proxy=None)
        assert refused.value.response.status_code == 403
        with connect(url, origin=Origin(base), proxy=None, compression=None) as ws:
            assert 'id="status"' in ws.recv(timeout=5)
            ws.send("x" * 2000)
            with pytest.raises(ConnectionClosedError) as closed:
                while True:
                    ws.recv(timeout=5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        http.post(f"/api/runs/{run_id}/cancel")


def test_the_admin_token_is_never_logged(tmp_path):
    token = "teacher-token-9f8e7d"
    env = {**os.environ, "LAB_ADMIN_TOKEN": token, "LAB_DATABASE": str(tmp_path / "lab.db"), "LAB_HTMX_SOURCE": "local"}
    with AppProcess(env) as server:
        teacher = {"authorization": f"Bearer {token}"}
        httpx.post(f"{server.url}/api/runs/nope/cancel", headers=teacher)
        httpx.get(f"{server.url}/?token={token[:4]}", headers=teacher)
        httpx.post(f"{server.url}/api/runs", json={"experiment": token}, headers=teacher)  # echoed as unknown
    assert "GET /healthz" in server.output  # the access log is on: the check below means something
    assert token not in server.output


def test_an_oversized_websocket_message_closes_the_socket_with_1009():
    with TestClient(create_app(make_settings(max_ws_message_bytes=512), modules=TEST_MODULES)) as client:
        run_id = post_sleeps(client)
        with client.websocket_connect(f"/ws/runs/{run_id}") as ws:
            assert 'id="status"' in receive_text(ws)
            ws.send_text("small")  # within the bound: read and ignored
            ws.send_text("x" * 600)
            with pytest.raises(WebSocketDisconnect) as closed:
                while True:
                    receive_text(ws)
            assert closed.value.code == 1009
        client.post(f"/api/runs/{run_id}/cancel")
        wait_for_status(client, run_id)


@pytest.mark.parametrize(
    "header, ok",
    [
        ("127.0.0.1:8000", True),
        ("localhost:8000", True),
        ("[::1]:8000", True),
        ("LOCALHOST", True),
        ("192.168.1.20:8000", True),  # a class reaching the lab (or its container) by address
        ("lab.school.example", True),
        ("lab.school.example.:443", True),
        ("lab.local:8000", True),
        ("evil.example:8000", False),
        ("127.0.0.1.nip.io:8000", False),
        ("lab.school.example.evil.example", False),
        ("", False),
        (None, False),
        ("x:y", False),
        ("user@127.0.0.1", False),
        ("[::1", False),
    ],
)
def test_host_allowed(header, ok):
    names = host_names(["lab.local"], ["https://lab.school.example"], "127.0.0.1")
    assert host_allowed(header, names) is ok


def test_the_hosts_answered_come_from_the_settings_and_the_address_bound():
    assert host_names([], [], "127.0.0.1") == {"localhost"}
    assert host_names([], [], "0.0.0.0") == {"localhost"}
    assert host_names([" Lab.Local ", "[::1]"], ["http://a.example:8000", "null"], "lab.internal") == {
        "localhost",
        "lab.local",
        "::1",
        "a.example",
        "lab.internal",
    }
    assert host_allowed("anything.example", host_names(["*"], [], "0.0.0.0"))


def raw_request(base: str, lines: list[str]) -> bytes:
    """Send a request as written, over a plain socket: its response's first bytes (status line and body)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
            if b"\r\n\r\n" in data and len(data) > 200:
                break
        return data


def test_dns_rebinding_a_host_that_is_not_ours_is_refused_over_http_and_websocket():
    """A page on evil.example whose name was rebound to 127.0.0.1 sends Host: evil.example (and a
    matching Origin, which the origin check alone accepts). Served by uvicorn as in production."""
    settings = make_settings(allowed_hosts=[])  # the defaults, not the tests' testserver
    with serving(create_app(settings, modules=TEST_MODULES), settings) as base:
        port = base.rsplit(":", 1)[1]
        evil = raw_request(base, ["GET /api/experiments HTTP/1.1", f"Host: evil.example:{port}", "Connection: close"])
        assert evil.startswith(b"HTTP/1.1 400") and b"LAB_ALLOWED_HOSTS" in evil, evil[:300]
        upgrade = [
            "GET /ws/lobby HTTP/1.1",
            f"Host: evil.example:{port}",
            f"Origin: http://evil.example:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Version: 13",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        ]
        refused = raw_request(base, upgrade)
        assert refused.startswith(b"HTTP/1.1 400") and b"LAB_ALLOWED_HOSTS" in refused, refused[:300]
        ours = [line.replace("evil.example", "127.0.0.1") for line in upgrade]
        assert raw_request(base, ours).startswith(b"HTTP/1.1 101")
        with connect(f"ws://127.0.0.1:{port}/ws/lobby", origin=Origin(base), proxy=None) as ws:
            ws.recv(timeout=5)
        assert httpx.get(f"{base}/api/experiments").status_code == 200
        assert httpx.get(f"http://localhost:{port}/healthz").status_code == 200


def test_a_host_name_set_in_the_settings_is_answered(c):
    with TestClient(
        create_app(make_settings(allowed_hosts=["lab.local"]), modules=TEST_MODULES), base_url="http://lab.local:8000"
    ) as lab:
        assert lab.get("/healthz").status_code == 200
    assert c.get("/healthz", headers={"host": "lab.local"}).status_code == 400


def test_a_half_sent_body_is_answered_408_and_the_connection_closed_not_held_for_ever():
    """Content-Length: 100, 5 bytes, then silence (a slow client, or one holding connections open on purpose):
    uvicorn has no timeout for a request's body, so the lab bounds its reading (LAB_BODY_TIMEOUT_S)."""
    settings = make_settings(body_timeout_s=0.5)
    with serving(create_app(settings, modules=TEST_MODULES), settings) as base:
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(
                b"POST /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b'Content-Length: 100\r\n\r\n{"exp'
            )
            started = time.monotonic()
            answer = b""
            while chunk := sock.recv(65536):  # until the server closes the connection
                answer += chunk
            waited = time.monotonic() - started
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"LAB_BODY_TIMEOUT_S" in answer and b"connection: close" in answer.lower()
        assert 0.4 < waited < 3
        assert httpx.get(f"{base}/healthz").status_code == 200  # the server is fine
