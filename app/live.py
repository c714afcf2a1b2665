"""The websocket a run page listens on: a full render first, then the run's frames, then close."""
from __future__ import annotations

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from app.render import View

router = APIRouter()

UNKNOWN_RUN = 4404


@router.websocket("/ws/runs/{run_id}")
async def watch_run(websocket: WebSocket, run_id: str) -> None:
    lab = websocket.app.state.lab
    await websocket.accept()
    run = await lab.store.find(run_id)  # in memory, or a finished run loaded from the database
    if run is None:
        await websocket.close(code=UNKNOWN_RUN, reason="unknown run")
        return
    broadcast = lab.broadcasts.get(run_id)
    try:
        if run.finished or broadcast is None:
            # All of it at once (its broadcast may still lag a frame, or be gone after a restart), then close.
            view = View()
            lab.renderer.catch_up(run, view)
            await websocket.send_text(lab.renderer.full(run, view))
            await websocket.close(code=1000)
            return
        message, seq = broadcast.snapshot()
        await websocket.send_text(message)
        while not (broadcast.done and seq >= broadcast.seq):
            message, seq = await broadcast.after(seq)
            await websocket.send_text(message)
        await websocket.close(code=1000)
    except WebSocketDisconnect:
        pass
