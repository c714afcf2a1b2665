"""The JSON API: experiments, runs, their events, cancel, health."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any, NamedTuple

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from app.drawing.trace import TraceBuilder
from app.model.documents import NumberedEventJson
from app.model.runs import Run, cut_why
from app.running.limits import Refusal
from app.web import urls
from app.web.auth import is_admin
from app.web.clients import client_of
from app.web.deps import CancellableRunDep, LabDep, RunDep, find_run
from app.web.documents import HealthJson, RunCancelledJson, RunCreatedJson, RunView
from app.web.errors import ErrorResponse
from app.web.schemas import (
    Detail,
    ExperimentOut,
    Health,
    PythonOut,
    Refused,
    RunCancelled,
    RunCreated,
    RunOut,
)
from experiments.harness.params import ParamError, validate

router = APIRouter()

# Each model (app/web/schemas.py) describes a route's dict as it is: with response_model_exclude_unset, a key
# the dict leaves out is left out.
NO_RUN: dict[int | str, dict[str, Any]] = {404: {"model": Detail, "description": "no run with that id"}}


class RunRequest(BaseModel):
    experiment: str = Field(max_length=100)
    params: dict[str, Any] = Field(default_factory=dict)


EVENTS_PAGE_MAX = 100_000


class EventsPage(NamedTuple):
    run: Run
    after: int
    limit: int


async def events_page(
    run_id: str,
    lab: LabDep,
    after: int = Query(0, ge=0, le=2**62, description="return the events numbered after this `seq`"),
    limit: int = Query(10_000, ge=1, le=EVENTS_PAGE_MAX, description="at most this many events"),
) -> EventsPage:
    """The run and the page of its events asked for; the page is checked first (app/web/deps.py)."""
    return EventsPage(await find_run(lab, run_id), after, limit)


@router.get("/healthz", response_model=Health, response_model_exclude_unset=True)
async def healthz() -> HealthJson:
    return {"status": "ok"}


@router.get("/api/experiments", response_model=list[ExperimentOut], response_model_exclude_unset=True)
async def list_experiments(lab: LabDep) -> list[dict[str, Any]]:
    return [e.describe() for e in lab.experiments.values()]


@router.get("/api/pythons", response_model=list[PythonOut], response_model_exclude_unset=True)
async def list_pythons(lab: LabDep) -> list[dict[str, Any]]:
    """The interpreters a run may pick as its `python` param, the default (the server's) first."""
    return [i.describe() for i in lab.interpreters]


@router.post(
    "/api/runs",
    status_code=201,
    response_model=RunCreated,
    response_model_exclude_unset=True,
    responses={
        404: {"model": Detail, "description": "no such experiment"},
        422: {
            "model": Detail,
            "description": "a param out of its bounds (`errors`: one message each), or a malformed body",
        },
        429: {
            "model": Refused,
            "description": "a fair-use limit (or the full queue) refused it; `Retry-After` says when to try again",
        },
    },
)
async def create_run(body: RunRequest, request: Request, lab: LabDep) -> RunCreatedJson | Response:
    experiment = lab.experiments.get(body.experiment)
    if experiment is None:
        raise HTTPException(404, f"no experiment {body.experiment!r} (known: {', '.join(lab.experiments)})")
    try:
        params = validate(experiment.params, body.params)
    except ParamError as exc:
        return ErrorResponse({"detail": str(exc), "errors": exc.errors}, status_code=422)
    run = await lab.request(experiment, params, client_of(request), is_admin(request, lab.settings))
    if isinstance(run, Refusal):
        return JSONResponse(run.to_json(), status_code=run.status, headers=run.headers)
    return {"id": run.id, "status": run.status, "url": urls.run(run.id)}


@router.get("/api/runs/{run_id}", response_model=RunOut, response_model_exclude_unset=True, responses=NO_RUN)
async def get_run(run: RunDep, lab: LabDep) -> RunView:
    return {**run.to_json(), "url": urls.run(run.id), "queue_position": lab.position(run)}


# Served as plain objects, as they are: a model from NumberedEventJson would validate each of up to 100 000 events.
@router.get("/api/runs/{run_id}/events", response_model=list[dict[str, Any]], responses=NO_RUN)
async def get_events(page: Annotated[EventsPage, Depends(events_page)], lab: LabDep) -> list[NumberedEventJson]:
    """The stored events in order, each with its `seq` (from 1); fewer than `limit` means none are stored after them yet."""
    run = page.run
    return await lab.store.events(run.id, page.after, page.limit, run.timeline.lane_of_tid())


# A trace keeps every span apart (app/drawing/trace.py): past this many events read, it stops and says so.
# 200 000 spans' events fold and write in about a second and make some 8 MB of JSON, which Perfetto opens at once.
TRACE_EVENTS_MAX = 200_000
TRACE_PAGE = 20_000  # events read (and folded) at a time: the loop gets a turn between pages
_trace_builds: asyncio.Semaphore | None = None  # one trace built at a time: each is seconds of CPU for a big run


@router.get("/api/runs/{run_id}/trace.json", responses=NO_RUN)
async def get_trace(run: RunDep, lab: LabDep) -> Response:
    """The run's stored events in the Chrome Trace Event Format: open it in ui.perfetto.dev (Open trace file)."""
    global _trace_builds
    finished, stored = run.finished, run.received  # as of now: a live run's trace ends where its events do
    _trace_builds = _trace_builds or asyncio.Semaphore(1)
    async with _trace_builds:
        builder = TraceBuilder(run.timeline.t0_ns)
        after = 0
        while builder.read < TRACE_EVENTS_MAX:
            ask = min(TRACE_PAGE, TRACE_EVENTS_MAX - builder.read)
            page = await lab.store.stored_events(run.id, after, ask)
            if not page:
                break
            await asyncio.to_thread(builder.feed, [event for _, event in page])
            after = page[-1][0]
            if len(page) < ask:
                break
        more = await lab.store.stored_events(run.id, after, 1) if builder.read >= TRACE_EVENTS_MAX else []
        truncated = f"the trace stops here: only the first {builder.read} events of the run are in it" if more else ""
        if finished and not truncated:
            end, why = run.cut_at_ns, cut_why(run.status)
        else:
            end, why = None, truncated or "still running when the trace was taken"
        other = {
            "run": run.id,
            "experiment": run.experiment.id,
            "params": run.params,
            "status": run.status,
            "python": run.python,
            "events_received": stored,
            "events_in_trace": builder.read,
            "log_truncated": run.truncated.to_json() if run.truncated else None,
        }
        trace = await asyncio.to_thread(builder.finish, end, why, truncated, other)
        body = await asyncio.to_thread(lambda: json.dumps(trace, separators=(",", ":"), default=str).encode())
    filename = f"{run.experiment.id}-{run.id}.trace.json"
    return Response(
        body, media_type="application/json", headers={"content-disposition": f'attachment; filename="{filename}"'}
    )


@router.post(
    "/api/runs/{run_id}/cancel",
    response_model=RunCancelled,
    response_model_exclude_unset=True,
    responses={
        **NO_RUN,
        403: {"model": Detail, "description": "only the client that started it, or the teacher, may cancel it"},
    },
)
async def cancel_run(run: CancellableRunDep, lab: LabDep) -> RunCancelledJson:
    if not run.finished:
        await lab.cancel(run)
    return {"id": run.id, "status": run.status}
