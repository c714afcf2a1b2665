"""The HTML pages: the experiment list, one experiment's form and code, a run's live page, the run history."""
from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from app.api import lab_of, may_cancel, run_or_404
from app.auth import is_admin
from app.clients import client_of
from app.experiments import sections
from app.history import MAX_PAGE, PAGE_SIZE, row
from app.limits import Refusal
from app.render import View
from app.presenter import presenter_context
from experiments.params import ParamError, defaults, from_form, validate

router = APIRouter()

# A run page asked for while its run starts waits this long at most for the first lane to put it in
# its HTML (app/broadcast.py, Broadcast.first_lane).
FIRST_LANE_WAIT_S = 0.25


def render(request: Request, name: str, status_code: int = 200, **context) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(request, name, context, status_code=status_code)


@router.get("/", response_class=HTMLResponse)
async def index(request: Request) -> HTMLResponse:
    return render(request, "index.html", sections=sections(lab_of(request).experiments),
                  **request.app.state.lobby.context())


@router.get("/experiments/{experiment_id}", response_class=HTMLResponse)
async def experiment_page(experiment_id: str, request: Request) -> HTMLResponse:
    exp = lab_of(request).experiments.get(experiment_id)
    if exp is None:
        raise HTTPException(404, f"no experiment {experiment_id!r}")
    return render(request, "experiment.html", exp=exp, values=defaults(exp.params), errors=[])


@router.post("/experiments/{experiment_id}/runs", response_class=HTMLResponse)
async def start_from_form(experiment_id: str, request: Request):
    lab = lab_of(request)
    exp = lab.experiments.get(experiment_id)
    if exp is None:
        raise HTTPException(404, f"no experiment {experiment_id!r}")
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    raw = from_form(exp.params, form)
    try:
        params = validate(exp.params, raw)
    except ParamError as exc:
        return render(request, "experiment.html", 422, exp=exp, values={**defaults(exp.params), **raw}, errors=exc.errors)
    run = lab.request(exp, params, client_of(request), is_admin(request, lab.settings))
    if isinstance(run, Refusal):
        response = render(request, "experiment.html", run.status, exp=exp, values={**defaults(exp.params), **raw},
                          errors=[run.message])
        response.headers.update(run.headers)
        return response
    return RedirectResponse(f"/runs/{run.id}", status_code=303)


@router.get("/runs", response_class=HTMLResponse)
async def history(request: Request, page: int = Query(1, ge=1, le=MAX_PAGE, description="1 is the newest runs")) -> HTMLResponse:
    found = await lab_of(request).store.history(page, PAGE_SIZE)
    return render(request, "runs.html", page=found, rows=[row(r) for r in found.runs])


@router.get("/runs/{run_id}", response_class=HTMLResponse)
async def run_page(run_id: str, request: Request) -> HTMLResponse:
    lab = lab_of(request)
    run = await run_or_404(lab, run_id)
    broadcast = lab.broadcasts.get(run.id)  # gone once a finished run's last frame is out
    if broadcast:
        await broadcast.first_lane(FIRST_LANE_WAIT_S)
    return render(request, "run.html", **lab.renderer.page_parts(run, broadcast.view if broadcast else View()),
                  may_cancel=may_cancel(request, run), **presenter_context(request))
