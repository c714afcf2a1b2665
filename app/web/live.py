"""The websockets pages listen on: a run's frames (`/ws/runs/{id}`) and the lobby (`/ws/lobby`).

Both go through `pump`, which sends a stream of HTML fragments while it watches for the
browser leaving. A send that does not complete within `ws_send_timeout_s` (a viewer that
stopped reading, a dead network) drops that viewer: nothing more is queued for it, and htmx
reconnects it once it can, starting with a full render. The first message on every socket
replaces everything it covers (out-of-band swaps by id), so a reconnect never duplicates or
leaves a gap.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import anyio
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from app.drawing.seams import LiveFeed
from app.web.deps import LabDep, LobbyDep, SettingsDep
from app.web.lobby import Lobby

router = APIRouter()

UNKNOWN_RUN = 4404


async def once(message: str) -> AsyncGenerator[str, None]:
    yield message


async def frames(broadcast: LiveFeed) -> AsyncGenerator[str, None]:
    """A run as one viewer sees it: everything drawn so far, then each frame after it, until the last."""
    message, seq = broadcast.snapshot()
    yield message
    while not (broadcast.done and seq >= broadcast.seq):
        message, seq = await broadcast.after(seq)
        yield message


async def lobbies(lobby: Lobby) -> AsyncGenerator[str, None]:
    """The lobby as of now, then each change; only the newest is kept while this viewer is busy."""
    subscriber = lobby.subscribe()
    try:
        while True:
            yield await subscriber.next()
    finally:
        lobby.unsubscribe(subscriber)


async def pump(websocket: WebSocket, messages: AsyncGenerator[str, None], send_timeout: float) -> str:
    """Send `messages` on an accepted socket; say how it ended: "done" (closed 1000), "left", or "dropped"."""
    ended = "left"

    async def send_all() -> None:
        nonlocal ended
        try:
            async for message in messages:
                with anyio.fail_after(send_timeout):
                    await websocket.send_text(message)
            ended = "done"
        except TimeoutError:
            # Returning without a close frame (which could not be sent either) makes the server
            # drop the connection; the browser sees an abnormal close and reconnects.
            ended = "dropped"
        except (WebSocketDisconnect, OSError):
            ended = "left"
        tasks.cancel_scope.cancel()

    async def until_gone() -> None:
        # Reading is how a server learns the browser left (or the server is shutting down:
        # uvicorn closes sockets first and waits for their handlers, so none may wait forever).
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass
        tasks.cancel_scope.cancel()

    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(send_all)
            tasks.start_soon(until_gone)
    finally:
        with anyio.CancelScope(shield=True):
            await messages.aclose()  # e.g. the lobby forgets this subscriber now, not when collected
    if ended == "done":
        try:
            with anyio.fail_after(send_timeout):
                await websocket.close(code=1000)
        except (WebSocketDisconnect, OSError, RuntimeError):  # expected: the browser left before our close
            return "left"
    return ended


@router.websocket("/ws/runs/{run_id}")
async def watch_run(websocket: WebSocket, run_id: str, lab: LabDep) -> None:
    await websocket.accept()
    run = await lab.store.find(run_id)  # in memory, or a finished run loaded from the database
    if run is None:
        await websocket.close(code=UNKNOWN_RUN, reason="unknown run")
        return
    broadcast = lab.feed(run_id)
    if run.finished or broadcast is None:
        # All of it at once (its broadcast may still lag a frame, or be gone after a restart), then close.
        messages = once(lab.renderer.full(run, lab.renderer.caught_up(run)))
    else:
        messages = frames(broadcast)
    await pump(websocket, messages, lab.settings.ws_send_timeout_s)


@router.websocket("/ws/lobby")
async def watch_lobby(websocket: WebSocket, lobby: LobbyDep, settings: SettingsDep) -> None:
    await websocket.accept()
    await pump(websocket, lobbies(lobby), settings.ws_send_timeout_s)
