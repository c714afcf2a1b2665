"""The HTML pages: the experiment list, one experiment's form and code, a run's live page, the run history."""
from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse

from app.api import lab_of, may_cancel, run_or_404
from app.auth import is_admin
from app.clients import client_of
from app.experiments import sections
from app.history import MAX_PAGE, PAGE_SIZE, row
from app.limits import Refusal
from app.render import View
from app.presenter import presenter_context
from app.scale import scale_for
from app.sweeps import FORM_FIELD as SWEEP_FORM_FIELD
from app.window import MAX_MS, MIN_WIDTH_NS, Window
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
    # The form's "Sweep workers" ticks go to the sweep button's route (app/sweep_routes.py), not to a run.
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str) and k != SWEEP_FORM_FIELD}
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


def window_of(from_ms: float | None, to_ms: float | None) -> tuple[float | None, float | None]:
    """Check a zoomed window's bounds together (each alone is checked by its Query): a 422 like FastAPI's."""
    # Compared in whole ns: 1.001 - 1 is 0.000999... in floats.
    if from_ms is not None and to_ms is not None and round(to_ms * 1e6) - round(from_ms * 1e6) < MIN_WIDTH_NS:
        raise RequestValidationError([{
            "type": "greater_than", "loc": ("query", "to_ms"), "input": to_ms,
            "msg": f"to_ms must be greater than from_ms ({from_ms:g}) by at least {MIN_WIDTH_NS / 1e6:g} ms",
            "ctx": {"gt": from_ms},
        }])
    return from_ms, to_ms


@router.get("/runs/{run_id}", response_class=HTMLResponse)
async def run_page(
    run_id: str,
    request: Request,
    from_ms: float | None = Query(None, ge=0, lt=MAX_MS, allow_inf_nan=False,
                                  description="zoom: the window's start, in ms since the run's start"),
    to_ms: float | None = Query(None, gt=0, le=MAX_MS, allow_inf_nan=False,
                                description="zoom: the window's end, in ms since the run's start"),
) -> HTMLResponse:
    from_ms, to_ms = window_of(from_ms, to_ms)
    lab = lab_of(request)
    run = await run_or_404(lab, run_id)
    broadcast = lab.broadcasts.get(run.id)  # gone once a finished run's last frame is out
    if broadcast:
        await broadcast.first_lane(FIRST_LANE_WAIT_S)
    if from_ms is None and to_ms is None:
        parts = lab.renderer.page_parts(run, broadcast.view if broadcast else View())
    else:  # zoomed: this window of what the run has so far (a live one's page then follows no more)
        timeline = run.timeline
        end = to_ms if to_ms is not None else scale_for(timeline.last_ns - (timeline.t0_ns or timeline.last_ns),
                                                        finished=run.finished) / 1e6
        window = Window.of_ms(from_ms or 0.0, end)
        if window.scale_ns < MIN_WIDTH_NS:  # from_ms alone, at or past the run's end
            window = Window(window.from_ns, window.from_ns + MIN_WIDTH_NS)
        drawn, note = await request.app.state.zoom.timeline(run, window)
        parts = lab.renderer.window_parts(run, drawn, window, note)
    return render(request, "run.html", **parts, may_cancel=may_cancel(request, run), **presenter_context(request))
