"""The sweeps' routes: POST and GET /api/sweeps, the sweep page with its plot (polled by htmx until every
run has finished), and the experiment page's "Sweep workers" form. The logic is
app/model/sweeps.py's (points, status) and app/drawing/sweeps.py's (lines, table)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from app.drawing.sweep_plot import layout
from app.drawing.sweeps import (
    BASELINE,
    IDEAL,
    Outcome,
    figure_label,
    free_cores,
    lines,
    sentences,
    table,
)
from app.model.runs import Run
from app.model.status import Status
from app.model.sweeps import FORM_FIELD, Sweep, X, expand, shared, status
from app.running.lab import Lab
from app.running.limits import Refusal
from app.web import urls
from app.web.auth import is_admin
from app.web.clients import client_of
from app.web.deps import ExperimentDep, LabDep, SweepDep, may_cancel
from app.web.documents import SweepCancelledJson, SweepCreatedJson, SweepJson
from app.web.errors import ErrorResponse
from app.web.pages import render
from app.web.schemas import Detail, Refused, SweepCancelled, SweepCreated, SweepOut
from experiments.harness.params import ParamError, defaults, from_form

router = APIRouter()


class SweepRequest(BaseModel):
    experiment: str = Field(max_length=100)
    params: dict[str, Any] = Field(default_factory=dict)
    vary: dict[str, list[Any]] = Field(default_factory=dict)


async def outcomes(lab: Lab, sweep: Sweep) -> list[tuple[Outcome, dict[str, Any] | None]]:
    """Each point's run as the sweep sees it, with its result as GET /api/runs/{id} shows it."""
    out: list[tuple[Outcome, dict[str, Any] | None]] = []
    for point in sweep.points:
        run = await lab.store.find(point.run_id)
        if run is None:  # its row never reached the disk (a failed commit): it cannot have run
            out.append((Outcome(point.params, point.run_id, Status.INTERRUPTED), None))
            continue
        result = run.result_json()
        free = None
        if run.status == Status.DONE:
            cpu = run.cpu
            free = free_cores(
                cpu.cores if cpu else None, cpu.others_busy_cores if cpu else None, run.conditions.get("cpus")
            )
        out.append((Outcome(point.params, run.id, run.status, result, free), result))
    return out


@router.post(
    "/api/sweeps",
    status_code=201,
    response_model=SweepCreated,
    response_model_exclude_unset=True,
    responses={
        404: {"model": Detail, "description": "no such experiment"},
        422: {
            "model": Detail,
            "description": "a param or a varied value out of its bounds (`errors`: one message each)",
        },
        429: {"model": Refused, "description": "a fair-use limit refused its runs (all of them: none started)"},
    },
)
async def create_sweep(body: SweepRequest, request: Request, lab: LabDep) -> SweepCreatedJson | Response:
    experiment = lab.experiments.get(body.experiment)
    if experiment is None:
        raise HTTPException(404, f"no experiment {body.experiment!r} (known: {', '.join(lab.experiments)})")
    try:
        points = expand(experiment.params, body.params, body.vary)
    except ParamError as exc:
        return ErrorResponse({"detail": str(exc), "errors": exc.errors}, status_code=422)
    sweep = await lab.sweep(
        experiment, shared(points, body.vary), body.vary, points, client_of(request), is_admin(request, lab.settings)
    )
    if isinstance(sweep, Refusal):
        return JSONResponse(sweep.to_json(), status_code=sweep.status, headers=sweep.headers)
    return {"id": sweep.id, "url": urls.sweep(sweep.id), "runs": [point.run_id for point in sweep.points]}


@router.get(
    "/api/sweeps/{sweep_id}",
    response_model=SweepOut,
    response_model_exclude_unset=True,
    responses={404: {"model": Detail, "description": "no sweep with that id"}},
)
async def get_sweep(sweep: SweepDep, lab: LabDep) -> SweepJson:
    found = await outcomes(lab, sweep)
    return {
        "id": sweep.id,
        "experiment": sweep.experiment,
        "status": status([o.status for o, _ in found]),
        "params": sweep.params,
        "vary": sweep.vary,
        "url": urls.sweep(sweep.id),
        "created_at": sweep.created_at,
        "points": [
            {"params": o.params, "run_id": o.run_id, "status": o.status, "result": result} for o, result in found
        ],
    }


async def unfinished(lab: Lab, sweep: Sweep) -> list[Run]:
    """The points' runs not finished yet, in the order of the points."""
    runs = [await lab.store.find(point.run_id) for point in sweep.points]
    return [run for run in runs if run is not None and not run.finished]


@router.post(
    "/api/sweeps/{sweep_id}/cancel",
    response_model=SweepCancelled,
    responses={
        403: {"model": Detail, "description": "not the client that started the sweep, nor the teacher"},
        404: {"model": Detail, "description": "no sweep with that id"},
    },
)
async def cancel_sweep(sweep: SweepDep, request: Request, lab: LabDep) -> SweepCancelledJson:
    """Cancel every point not finished yet: the queued ones first, from the last, so that none of them
    starts as the executing one ends; then that one. Finished points keep their results."""
    if not may_cancel(request, sweep.owner):  # its points are its owner's runs
        raise HTTPException(
            403, "only the client that started this sweep, or the teacher with the admin token, may cancel it"
        )
    going = await unfinished(lab, sweep)
    queued = [run for run in going if run.status == Status.QUEUED]
    for run in [*reversed(queued), *(run for run in going if run not in queued)]:
        await lab.cancel(run)
    return {"id": sweep.id, "cancelled": [run.id for run in going]}


async def page_context(lab: Lab, sweep: Sweep, request: Request) -> dict[str, Any]:
    found = [o for o, _ in await outcomes(lab, sweep)]
    state = status([o.status for o in found])  # the sweep's
    experiment = lab.experiments.get(sweep.experiment)
    tasks_wait = bool(experiment and experiment.tasks_wait)
    drawn = lines(sweep.vary, found, tasks_wait)
    workers = [p.params[X] for p in sweep.points if isinstance(p.params.get(X), int)]
    measured = [line.figure for line in drawn if line.figure != IDEAL]
    if BASELINE in measured:
        meaning = f"{figure_label(BASELINE)}: the run() time of the line's point with workers=1 over each point's own"
    elif measured:
        meaning = (
            "as each run reports it: "
            + ", ".join(dict.fromkeys(figure_label(f) for f in measured))
            + ", each measured against a serial run of the same tasks in that run"
        )
    else:
        meaning = ""
    return {
        "sweep": sweep,
        "title": experiment.title if experiment else sweep.experiment,
        "status": state,
        "finished": sum(Status(o.status).finished for o in found),
        "plot": layout(drawn, workers),
        "said": sentences(drawn),
        "table": table(sweep.vary, found, drawn, tasks_wait),
        "meaning": meaning,
        "has_workers": bool(workers),
        "tasks_wait": tasks_wait,
        "may_cancel": state != "finished" and may_cancel(request, sweep.owner),
    }


@router.get("/sweeps/{sweep_id}", response_class=HTMLResponse)
async def sweep_page(sweep: SweepDep, request: Request, lab: LabDep) -> HTMLResponse:
    return render(request, "sweep.html", **await page_context(lab, sweep, request))


@router.get("/sweeps/{sweep_id}/live", response_class=HTMLResponse)
async def sweep_live(sweep: SweepDep, request: Request, lab: LabDep) -> HTMLResponse:
    """The page's plot and table as they are now: htmx polls it until the sweep has finished."""
    return render(request, "_sweep_live.html", **await page_context(lab, sweep, request))


@router.post("/experiments/{experiment_id}/sweeps", response_class=HTMLResponse)
async def sweep_from_form(exp: ExperimentDep, request: Request, lab: LabDep) -> Response:
    """The experiment page's "Sweep workers": its params, with a run per ticked worker count."""
    form = await request.form()
    ticked = [value for value in form.getlist(FORM_FIELD) if isinstance(value, str)]
    raw = from_form(exp.params, {k: v for k, v in form.items() if k != FORM_FIELD and isinstance(v, str)})
    vary = {X: [int(v) if v.strip().isdigit() else v for v in ticked]}
    page = {"exp": exp, "values": {**defaults(exp.params), **raw}, "ticked": vary[X]}
    try:
        points = expand(exp.params, raw, vary)
    except ParamError as exc:
        return render(request, "experiment.html", 422, errors=exc.errors, **page)
    sweep = await lab.sweep(
        exp, shared(points, vary), vary, points, client_of(request), is_admin(request, lab.settings)
    )
    if isinstance(sweep, Refusal):
        response = render(request, "experiment.html", sweep.status, errors=[sweep.message], **page)
        response.headers.update(sweep.headers)
        return response
    return RedirectResponse(urls.sweep(sweep.id), status_code=303)
