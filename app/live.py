"""The websocket a run page listens on: a full render first, then the run's frames, then close."""
from __future__ import annotations

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

router = APIRouter()

UNKNOWN_RUN = 4404


@router.websocket("/ws/runs/{run_id}")
async def watch_run(websocket: WebSocket, run_id: str) -> None:
    lab = websocket.app.state.lab
    broadcast = lab.broadcasts.get(run_id)
    await websocket.accept()
    if broadcast is None:
        await websocket.close(code=UNKNOWN_RUN, reason="unknown run")
        return
    try:
        message, seq = broadcast.snapshot()
        await websocket.send_text(message)
        while not (broadcast.done and seq >= broadcast.seq):
            message, seq = await broadcast.after(seq)
            await websocket.send_text(message)
        await websocket.close(code=1000)
    except WebSocketDisconnect:
        pass
