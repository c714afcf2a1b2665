"""The lobby ("Live now" and the pinned run) and the websocket pump, without a browser.

Pure parts over plain runs, the pump over a fake socket (a stalled send, a viewer leaving), then
the real app through the TestClient: /ws/lobby following a real run in and out of "Live now".
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from app.model.experiments import Experiment, catalogue
from app.model.runs import Run
from app.model.status import Status
from app.web.documents import RunCreatedJson
from app.web.live import lobbies, pump
from app.web.lobby import Lobby, Subscriber, live_runs
from app.web.presenter import NOT_PRESENTER
from app.web.server import create_app
from tests.helpers import make_settings, receive_text, templates, until_async, wait_for_status

TICKER = "tests.fixtures.ticker_experiment"
EXPERIMENTS = catalogue(("experiments.race_counter", TICKER))


class FakeStore:
    """Runs in memory, without the database."""

    def __init__(self) -> None:
        self.runs: dict[str, Run] = {}

    def create(self, experiment: Experiment, params: dict[str, Any], owner: str) -> Run:
        run = Run(f"run{len(self.runs)}", experiment, params, owner)
        self.runs[run.id] = run
        return run

    def active(self) -> list[Run]:
        return [run for run in self.runs.values() if not run.finished]


class FakeLab:
    """The lab as the lobby reads it: its runs, and each queued run's place."""

    def __init__(self) -> None:
        self.store = FakeStore()
        self.places: dict[str, int] = {}

    def position(self, run: Run) -> int | None:
        return self.places.get(run.id)


def lobby_over(lab: FakeLab) -> Lobby:
    """A lobby over the fake lab, on the app's templates."""
    # FakeLab is the part of a Lab the lobby reads (its store's active runs, a queued run's place), not a Lab.
    return Lobby(lab, templates())  # type: ignore[arg-type]


def make_run(lab: FakeLab, status: str = "queued", owner: str = "owner-cookie-1234", experiment: str = "ticker") -> Run:
    run = lab.store.create(EXPERIMENTS[experiment], {"workers": 2, "ticks": 3}, owner)
    if status == "running":
        run.start()
    elif status != "queued":
        run.finish(Status(status))
    return run


def test_live_now_lists_running_runs_then_queued_ones_in_order_and_not_finished_ones():
    lab = FakeLab()
    queued_first = make_run(lab)
    make_run(lab, "done")
    running = make_run(lab, "running")
    queued_second = make_run(lab)
    make_run(lab, "cancelled")
    rows = live_runs(lab.store.active())
    assert [r.id for r in rows] == [running.id, queued_first.id, queued_second.id]
    assert [r.status for r in rows] == ["running", "queued", "queued"]
    assert rows[0].url == f"/runs/{running.id}" and rows[0].title == "Ticker (test only)"


def test_queued_runs_show_their_place_in_the_queue():
    lab = FakeLab()
    running, queued = make_run(lab, "running"), make_run(lab)
    lab.places = {running.id: 5, queued.id: 7}
    rows = live_runs(lab.store.active(), position=lab.position)
    assert [(r.id, r.position) for r in rows] == [(running.id, None), (queued.id, 7)]  # only a queued run has one
    assert "#7 in the queue" in lobby_over(lab).render()


def test_queued_runs_are_listed_in_their_order_in_the_queue_even_against_the_order_they_were_asked():
    """Two replicas may queue two runs asked at once either way: the list follows the queue, as the places do."""
    lab = FakeLab()
    asked_first, asked_second, unplaced = make_run(lab), make_run(lab), make_run(lab)
    lab.places = {asked_first.id: 2, asked_second.id: 1}
    rows = live_runs(lab.store.active(), position=lab.position)
    assert [(r.id, r.position) for r in rows] == [(asked_second.id, 1), (asked_first.id, 2), (unplaced.id, None)]


def test_the_lobby_shows_runs_and_the_pinned_run_but_never_who_started_them():
    lab = FakeLab()
    run = make_run(lab, "running", owner="f00dfacef00dfacef00dfacef00dface")
    lobby = lobby_over(lab)
    asyncio.run(lobby.pin(run))
    html = lobby.render()
    assert f'href="/runs/{run.id}"' in html and "running" in html and "ticks=<b>3</b>" in html
    assert 'id="pinned"' in html and "Pinned by your teacher" in html
    assert 'hx-swap-oob="true"' in html  # every message replaces both sections
    assert "f00dface" not in html


def test_a_subscriber_keeps_only_the_newest_lobby():
    subscriber = Subscriber()
    for html in ("one", "two", "three"):
        subscriber.offer(html)
    assert asyncio.run(subscriber.next()) == "three"


def test_the_lobby_offers_a_change_once_and_nothing_when_nothing_changed():
    async def scenario():
        lab = FakeLab()
        lobby = lobby_over(lab)
        subscriber = lobby.subscribe()
        first = await subscriber.next()
        assert "Nothing is running" in first
        lobby.refresh()
        assert not subscriber._ready.is_set()  # same HTML: not sent again
        run = make_run(lab, "running")
        lobby.refresh()
        second = await subscriber.next()
        assert run.id in second
        lobby.unsubscribe(subscriber)
        assert not lobby.subscribers

    asyncio.run(scenario())


class FakeSocket:
    """Just enough of a Starlette WebSocket for `pump`: sends can be made to hang, the browser can leave."""

    def __init__(self, stall_after: int | None = None):
        self.sent: list[str] = []
        self.closed_with: int | None = None
        self.stall_after = stall_after
        self.gone = asyncio.Event()

    async def send_text(self, text: str) -> None:
        if self.stall_after is not None and len(self.sent) >= self.stall_after:
            await asyncio.Event().wait()  # a viewer that stopped reading: the send never completes
        self.sent.append(text)

    async def receive(self) -> dict:
        await self.gone.wait()
        return {"type": "websocket.disconnect", "code": 1001}

    async def close(self, code: int = 1000) -> None:
        self.closed_with = code


async def pumped(socket: FakeSocket, messages: AsyncGenerator[str, None], send_timeout: float) -> str:
    """`pump` on the fake socket."""
    # FakeSocket is the part of a Starlette WebSocket that pump uses (send_text, receive, close), not a WebSocket.
    return await pump(socket, messages, send_timeout)  # type: ignore[arg-type]


async def counting(n: int, delay: float = 0.0) -> AsyncGenerator[str, None]:
    for i in range(n):
        if delay:
            await asyncio.sleep(delay)
        yield f"m{i}"


def test_pump_sends_every_message_then_closes_normally():
    socket = FakeSocket()
    assert asyncio.run(pumped(socket, counting(5), send_timeout=5)) == "done"
    assert socket.sent == ["m0", "m1", "m2", "m3", "m4"] and socket.closed_with == 1000


def test_pump_drops_a_viewer_whose_send_stalls_instead_of_buffering_for_it():
    async def scenario():
        socket = FakeSocket(stall_after=2)
        produced: list[int] = []

        async def endless() -> AsyncGenerator[str, None]:
            while True:
                produced.append(len(produced))
                yield "frame"

        ended = await asyncio.wait_for(pumped(socket, endless(), send_timeout=0.05), 10)
        return ended, socket, produced

    ended, socket, produced = asyncio.run(scenario())
    assert ended == "dropped"
    assert len(socket.sent) == 2 and socket.closed_with is None  # no close frame: it could not be sent
    assert len(produced) == 3  # nothing more was taken for it once its send stalled


def test_pump_ends_when_the_viewer_leaves_and_the_lobby_forgets_it():
    async def scenario():
        lobby = lobby_over(FakeLab())
        socket = FakeSocket()
        task = asyncio.create_task(pumped(socket, lobbies(lobby), send_timeout=5))
        await until_async(lambda: socket.sent, what="the first lobby sent")
        assert len(lobby.subscribers) == 1
        socket.gone.set()
        return await asyncio.wait_for(task, 5), lobby, socket

    ended, lobby, socket = asyncio.run(scenario())
    assert ended == "left" and not lobby.subscribers and socket.closed_with is None
    assert "Live now" in socket.sent[0]


@pytest.fixture
def lab_client() -> Iterator[TestClient]:
    app = create_app(make_settings(max_concurrent_runs=1, admin_token="teacher-secret-token"), modules=(TICKER,))
    with TestClient(app) as client:
        yield client


def receive_until(socket: WebSocketTestSession, predicate: Callable[[str], bool], limit: int = 200) -> str:
    for _ in range(limit):
        message = receive_text(socket)
        if predicate(message):
            return message
    raise AssertionError("the expected lobby never came")


def test_the_lobby_socket_shows_a_run_while_it_is_live_and_drops_it_when_it_ends(lab_client):
    with lab_client.websocket_connect("/ws/lobby") as socket:
        assert "Nothing is running" in receive_text(socket)
        params = {"workers": 1, "ticks": 5, "tick_ms": 60, "pause_ms": 0}
        run = lab_client.post("/api/runs", json={"experiment": "ticker", "params": params}).json()
        queued = lab_client.post("/api/runs", json={"experiment": "ticker", "params": params}).json()
        live = receive_until(socket, lambda m: f'data-run="{run["id"]}"' in m and f'data-run="{queued["id"]}"' in m)
        assert live.index(run["id"]) < live.index(queued["id"])  # running first, then the queue
        receive_until(socket, lambda m: run["id"] not in m and queued["id"] not in m)
        assert wait_for_status(lab_client, queued["id"])["status"] == "done"


def test_the_home_page_renders_the_lobby_and_listens_on_its_socket(lab_client):
    params = {"workers": 1, "ticks": 50, "tick_ms": 20, "pause_ms": 0}
    run = lab_client.post("/api/runs", json={"experiment": "ticker", "params": params}).json()
    page = lab_client.get("/").text
    assert 'ws-connect="/ws/lobby"' in page
    assert f'href="/runs/{run["id"]}"' in page and 'id="live-now"' in page
    lab_client.post(f"/api/runs/{run['id']}/cancel")


BEARER = {"Authorization": "Bearer teacher-secret-token"}


def start_run(client: TestClient) -> str:
    params = {"workers": 1, "ticks": 1, "tick_ms": 1, "pause_ms": 0}
    return cast(RunCreatedJson, client.post("/api/runs", json={"experiment": "ticker", "params": params}).json())["id"]


def test_pinning_needs_the_admin_token(lab_client):
    run_id = start_run(lab_client)
    refused = lab_client.post("/api/pin", json={"run_id": run_id})
    assert refused.status_code == 403 and refused.json()["detail"] == NOT_PRESENTER  # not some other refusal
    wrong = lab_client.post("/api/pin", json={"run_id": run_id}, headers={"Authorization": "Bearer guess"})
    assert wrong.status_code == 403 and "presenter" in wrong.json()["detail"]
    refused = lab_client.delete("/api/pin")
    assert refused.status_code == 403 and refused.json()["detail"] == NOT_PRESENTER
    assert lab_client.get("/api/pin").json() == {"pinned": None}
    assert lab_client.post("/api/pin", json={"run_id": run_id}, headers=BEARER).json() == {"pinned": run_id}
    assert lab_client.get("/api/pin").json() == {"pinned": run_id}
    assert f'data-run="{run_id}"' in lab_client.get("/").text.split('id="live-now"')[0]  # the pinned panel
    assert lab_client.delete("/api/pin", headers=BEARER).json() == {"pinned": None}


def test_pin_requests_get_4xx_for_bad_input(lab_client):
    assert lab_client.post("/api/pin", json={"run_id": "nope"}, headers=BEARER).status_code == 404
    too_long = lab_client.post("/api/pin", json={"run_id": "x" * 65}, headers=BEARER)
    assert too_long.status_code == 422 and "run_id" in str(too_long.json()["detail"])
    missing = lab_client.post("/api/pin", json={}, headers=BEARER)
    assert missing.status_code == 422 and "run_id" in str(missing.json()["detail"])


def test_presenter_signs_in_with_a_strict_http_only_cookie_and_gets_pin_controls(lab_client):
    run_id = start_run(lab_client)
    assert "Pin to every student" not in lab_client.get(f"/runs/{run_id}").text
    wrong = lab_client.post("/presenter", data={"token": "guess"}, follow_redirects=False)
    assert wrong.status_code == 403 and "not the admin token" in wrong.text
    signed = lab_client.post("/presenter", data={"token": "teacher-secret-token"}, follow_redirects=False)
    assert signed.status_code == 303
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith("lab_admin=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "teacher-secret-token" not in cookie
    assert "signed in as the presenter" in lab_client.get("/presenter").text
    assert "Pin to every student" in lab_client.get(f"/runs/{run_id}").text
    pinned = lab_client.post("/presenter/pin", data={"run_id": run_id}, follow_redirects=False)
    assert pinned.status_code == 303 and pinned.headers["location"] == f"/runs/{run_id}"
    assert lab_client.get("/api/pin").json() == {"pinned": run_id}
    assert 'class="unpin"' in lab_client.get(f"/runs/{run_id}").text
    lab_client.post("/presenter/unpin", data={"run_id": run_id}, follow_redirects=False)
    assert lab_client.get("/api/pin").json() == {"pinned": None}


def test_a_cross_site_request_cannot_pin_even_with_the_teachers_cookie(lab_client):
    run_id = start_run(lab_client)
    lab_client.post("/presenter", data={"token": "teacher-secret-token"})
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        refused = lab_client.post("/presenter/pin", data={"run_id": run_id}, headers=headers, follow_redirects=False)
        assert refused.status_code == 403 and "cross-site" in refused.json()["detail"]
        assert lab_client.post("/api/pin", json={"run_id": run_id}, headers=headers).status_code == 403
    assert lab_client.get("/api/pin").json() == {"pinned": None}
    same = lab_client.post("/api/pin", json={"run_id": run_id}, headers={"Origin": "http://testserver"})
    assert same.status_code == 200
    signed_out = lab_client.post(
        "/presenter/sign-out", headers={"Origin": "https://evil.example"}, follow_redirects=False
    )
    assert signed_out.status_code == 403 and "lab_admin" not in signed_out.headers.get("set-cookie", "")


def test_presenter_mode_is_off_without_a_token():
    with TestClient(create_app(make_settings(), modules=(TICKER,))) as client:
        assert "Presenter mode is off" in client.get("/presenter").text
        refused = client.post("/presenter", data={"token": "anything"})
        assert refused.status_code == 403 and "off" in refused.text
        assert (
            client.post("/api/pin", json={"run_id": "x"}, headers={"Authorization": "Bearer anything"}).status_code
            == 403
        )
