"""200 websocket viewers on one live run, against a real uvicorn server in its own process.

Every viewer receives the final result and a normal close; a viewer that never reads does not
delay the others (their completion time is compared with a run without it), and the server drops
it instead of holding a growing buffer for it. The server's listening socket gets a small send
buffer (accepted sockets inherit it), so a stalled viewer fills it after some 100 KB instead of
the megabytes Linux's autotuning would otherwise allow on loopback.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from websockets.asyncio.client import connect
from websockets.typing import Origin

from app.web.documents import RunCreatedJson
from tests.helpers import ROOT, listening_socket, url_of, wait_until_up

VIEWERS = 200
TICKER = {"workers": 2, "ticks": 80, "tick_ms": 25, "pause_ms": 1000}  # about 5 s live, some 250 KB of frames
RESULT = "<tr><th>ticks</th><td>320</td></tr>"
SEND_TIMEOUT_S = (
    3  # 1 s dropped healthy viewers too when a loaded machine kept this one client from reading 200 sockets
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    sock = listening_socket(send_buffer=8192)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "LAB_HTMX_SOURCE": "local",
        "LAB_DATABASE": str(tmp_path_factory.mktemp("viewers") / "lab.db"),
        "LAB_WS_SEND_TIMEOUT_S": str(SEND_TIMEOUT_S),
        "LAB_MAX_RUNS_IN_FLIGHT_PER_CLIENT": "100",
        "LAB_MAX_RUNS_PER_MINUTE_PER_CLIENT": "1000",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--fd",
            str(sock.fileno()),
            "--factory",
            "tests.viewer_server:create",
            "--log-level",
            "warning",
            "--backlog",
            "1024",
        ],
        pass_fds=[sock.fileno()],
        env=env,
    )
    url = url_of(sock)
    wait_until_up(url, proc)
    yield url
    proc.terminate()
    proc.wait(20)
    sock.close()


def start_run(url: str) -> str:
    body = json.dumps({"experiment": "ticker", "params": TICKER}).encode()
    request = urllib.request.Request(f"{url}/api/runs", body, {"content-type": "application/json"})
    created: RunCreatedJson = json.load(urllib.request.urlopen(request))
    return created["id"]


async def view(ws_url: str, origin: str) -> tuple[list[str], int | None]:
    """Everything one viewer receives, and the close code that ended it."""
    messages: list[str] = []
    async with connect(ws_url, origin=Origin(origin), max_size=None, open_timeout=60) as ws:
        async for message in ws:
            assert isinstance(message, str), "the lab sends its frames as text"
            messages.append(message)
    return messages, ws.close_code


def stalled_viewer(url: str, run_id: str) -> socket.socket:
    """A viewer that opens the socket and then never reads (a frozen tab, a dead network)."""
    host = url.removeprefix("http://")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    sock.connect(tuple(host.split(":")[0:1]) + (int(host.split(":")[1]),))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws/runs/{run_id} HTTP/1.1\r\nHost: {host}\r\nOrigin: {url}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    return sock


def frame_opcodes(stream: bytes) -> list[int]:
    """Opcodes of the (unmasked, server-to-client) websocket frames in `stream`, whole frames only."""
    body = stream.partition(b"\r\n\r\n")[2]
    opcodes, i = [], 0
    while i + 2 <= len(body):
        length, j = body[i + 1] & 0x7F, i + 2
        if length >= 126:
            size = 2 if length == 126 else 8
            length, j = int.from_bytes(body[j : j + size], "big"), j + size
        if j + length > len(body):
            break
        opcodes.append(body[i] & 0x0F)
        i = j + length
    return opcodes


def read_to_end(sock: socket.socket, timeout_s: float = 30) -> bytes:
    sock.settimeout(timeout_s)
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def watch(
    url: str, with_stalled_viewer: bool
) -> tuple[float, list[tuple[list[str], int | None]], socket.socket | None]:
    """Start a run, let VIEWERS watch it (and maybe one that stalls); seconds until the last one finished."""
    run_id = start_run(url)
    started = time.monotonic()
    stalled = stalled_viewer(url, run_id) if with_stalled_viewer else None
    ws_url = url.replace("http://", "ws://") + f"/ws/runs/{run_id}"

    async def everyone():
        return await asyncio.gather(*(view(ws_url, url) for _ in range(VIEWERS)))

    results = asyncio.run(asyncio.wait_for(everyone(), 120))
    return time.monotonic() - started, results, stalled


def test_200_viewers_all_get_the_result_and_a_stalled_viewer_neither_delays_them_nor_is_kept(server):
    alone_s, results, _ = watch(server, with_stalled_viewer=False)
    for messages, code in results:
        assert code == 1000 and RESULT in messages[-1]
    assert sum('class="badge">running' in messages[0] for messages, _ in results) >= VIEWERS // 2  # joined live

    beside_s, results, stalled = watch(server, with_stalled_viewer=True)
    for messages, code in results:
        assert code == 1000 and RESULT in messages[-1]
    assert beside_s < 2 * alone_s, (beside_s, alone_s)  # generous: both are mostly the run's own 5 s

    # The stalled viewer was dropped: its stream ends without the run's last frames or a close frame.
    # Its last send began before the run's last frame went out, so by now plus its timeout it has
    # been given up (reading earlier would unblock that send and let it finish).
    time.sleep(2 * SEND_TIMEOUT_S)
    assert stalled is not None
    stream = read_to_end(stalled)
    stalled.close()
    opcodes = frame_opcodes(stream)
    assert opcodes and 8 not in opcodes, opcodes  # 8: close
    assert RESULT.encode() not in stream
