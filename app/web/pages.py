"""The HTML pages: the experiment list, one experiment's form and code, a run's live page, the run history,
the Compare view and "run again" (a run's fixed variant, compared with it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, NamedTuple

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from app.drawing.compare import BOUND, CompareError, run_ids
from app.drawing.compare import sections as compare_sections
from app.drawing.compare_timelines import compare_timelines
from app.drawing.history import MAX_PAGE, PAGE_SIZE, row
from app.drawing.render import View
from app.drawing.window import MAX_MS, MIN_WIDTH_NS, Window
from app.model.experiments import sections
from app.model.runs import Run
from app.model.scale import scale_for
from app.model.sweeps import FORM_FIELD as SWEEP_FORM_FIELD
from app.running.limits import Refusal
from app.web import urls
from app.web.again import fixed_variant, other_pythons, params_for
from app.web.auth import is_admin
from app.web.clients import client_of
from app.web.deps import ExperimentDep, LabDep, RunDep, find_run, may_cancel
from app.web.presenter import presenter_context
from experiments.harness.params import ParamError, defaults, from_form, validate

router = APIRouter()

# A run page asked for while its run starts waits this long at most for the first lane to put it in
# its HTML (app/drawing/broadcast.py, Broadcast.first_lane).
FIRST_LANE_WAIT_S = 0.25


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.templates  # app/web/server.py put them there
    return templates.TemplateResponse(request, name, context, status_code=status_code)


@router.get("/", response_class=HTMLResponse)
async def index(request: Request, lab: LabDep) -> HTMLResponse:
    # What is wrong with the teacher's own experiment files: theirs to see (anyone's on a lab without a token).
    settings = lab.settings
    problems = request.app.state.experiment_problems if not settings.admin_token or is_admin(request, settings) else []
    return render(
        request,
        "index.html",
        sections=sections(lab.experiments),
        experiment_problems=problems,
        experiments_dir=settings.experiments_dir,
        **request.app.state.lobby.context(),
    )


@router.get("/experiments/{experiment_id}", response_class=HTMLResponse)
async def experiment_page(exp: ExperimentDep, request: Request) -> HTMLResponse:
    return render(request, "experiment.html", exp=exp, values=defaults(exp.params), errors=[])


@router.post("/experiments/{experiment_id}/runs", response_class=HTMLResponse)
async def start_from_form(exp: ExperimentDep, request: Request, lab: LabDep) -> Response:
    # The form's "Sweep workers" ticks go to the sweep button's route (app/web/sweep_routes.py), not to a run.
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str) and k != SWEEP_FORM_FIELD}
    raw = from_form(exp.params, form)
    try:
        params = validate(exp.params, raw)
    except ParamError as exc:
        return render(
            request, "experiment.html", 422, exp=exp, values={**defaults(exp.params), **raw}, errors=exc.errors
        )
    run = await lab.request(exp, params, client_of(request), is_admin(request, lab.settings))
    if isinstance(run, Refusal):
        response = render(
            request,
            "experiment.html",
            run.status,
            exp=exp,
            values={**defaults(exp.params), **raw},
            errors=[run.message],
        )
        response.headers.update(run.headers)
        return response
    return RedirectResponse(urls.run(run.id), status_code=303)


@router.get("/runs", response_class=HTMLResponse)
async def history(
    request: Request, lab: LabDep, page: int = Query(1, ge=1, le=MAX_PAGE, description="1 is the newest runs")
) -> HTMLResponse:
    found = await lab.store.history(page, PAGE_SIZE)
    return render(request, "runs.html", page=found, rows=[row(r) for r in found.runs])


def window_of(from_ms: float | None, to_ms: float | None) -> tuple[float | None, float | None]:
    """Check a zoomed window's bounds together (each alone is checked by its Query): a 422 like FastAPI's."""
    # Compared in whole ns: 1.001 - 1 is 0.000999... in floats.
    if from_ms is not None and to_ms is not None and round(to_ms * 1e6) - round(from_ms * 1e6) < MIN_WIDTH_NS:
        raise RequestValidationError(
            [
                {
                    "type": "greater_than",
                    "loc": ("query", "to_ms"),
                    "input": to_ms,
                    "msg": f"to_ms must be greater than from_ms ({from_ms:g}) by at least {MIN_WIDTH_NS / 1e6:g} ms",
                    "ctx": {"gt": from_ms},
                }
            ]
        )
    return from_ms, to_ms


class Zoomed(NamedTuple):
    run: Run
    from_ms: float | None
    to_ms: float | None


async def zoomed_run(
    run_id: str,
    lab: LabDep,
    from_ms: float | None = Query(
        None, ge=0, lt=MAX_MS, allow_inf_nan=False, description="zoom: the window's start, in ms since the run's start"
    ),
    to_ms: float | None = Query(
        None, gt=0, le=MAX_MS, allow_inf_nan=False, description="zoom: the window's end, in ms since the run's start"
    ),
) -> Zoomed:
    """The run and the window of it asked for (none: all of it); the window is checked first (app/web/deps.py)."""
    from_ms, to_ms = window_of(from_ms, to_ms)
    return Zoomed(await find_run(lab, run_id), from_ms, to_ms)


@router.get("/runs/{run_id}", response_class=HTMLResponse)
async def run_page(zoomed: Annotated[Zoomed, Depends(zoomed_run)], request: Request, lab: LabDep) -> HTMLResponse:
    run, from_ms, to_ms = zoomed
    broadcast = lab.feed(run.id)  # None once a finished run's last frame is out
    if broadcast:
        await broadcast.first_lane(FIRST_LANE_WAIT_S)
    if from_ms is None and to_ms is None:
        parts = lab.renderer.page_parts(run, broadcast.view if broadcast else View())
    else:  # zoomed: this window of what the run has so far (a live one's page then follows no more)
        timeline = run.timeline
        end = (
            to_ms
            if to_ms is not None
            else scale_for(timeline.last_ns - (timeline.t0_ns or timeline.last_ns), finished=run.finished) / 1e6
        )
        window = Window.of_ms(from_ms or 0.0, end)
        if window.scale_ns < MIN_WIDTH_NS:  # from_ms alone, at or past the run's end
            window = Window(window.from_ns, window.from_ns + MIN_WIDTH_NS)
        drawn, note = await request.app.state.zoom.timeline(run, window)
        parts = lab.renderer.window_parts(run, drawn, window, note)
    return render(
        request,
        "run.html",
        **parts,
        may_cancel=may_cancel(request, run.owner),
        fixed=fixed_variant(run, lab.experiments),
        pythons=other_pythons(run),
        **presenter_context(request),
    )


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def problem(
    request: Request,
    status: int,
    title: str,
    errors: list[str],
    body: Mapping[str, object] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """An error from a page's route: a page saying what to do for a browser, JSON for any other
    client (`body`, shaped as the API's errors are; by default {"detail": the errors})."""
    if wants_html(request):
        response: Response = render(request, "problem.html", status, title=title, errors=errors)
    else:
        response = JSONResponse(body or {"detail": "; ".join(errors)}, status_code=status)
    response.headers.update(headers or {})
    return response


@router.get("/compare", response_class=HTMLResponse)
async def compare_page(
    request: Request,
    lab: LabDep,
    runs: list[str] = Query([], description=f"{BOUND}: runs=a,b or runs=a&runs=b (History's form sends the latter)"),
) -> Response:
    """Two to four runs one under the other on one time axis, and their params, conditions and results
    side by side. A run still going is not drawn yet; the page's #compare polls until all have ended."""
    try:
        ids = run_ids(runs)
    except CompareError as exc:
        return problem(
            request,
            422,
            "Compare needs 2 to 4 runs",
            ["Tick 2 to 4 runs in the history and press Compare.", str(exc)],
            {"detail": [{"type": "value_error", "loc": ["query", "runs"], "msg": str(exc), "input": runs}]},
        )
    found = [await lab.store.find(run_id) for run_id in ids]
    missing = [run_id for run_id, run in zip(ids, found) if run is None]
    if missing:
        errors = [f"runs: no run with id {run_id[:64]!r}" for run_id in missing]
        return problem(request, 404, "No such run", errors)
    compared = [run for run in found if run is not None]
    drawn, legend_entries, _ = compare_timelines(lab.renderer, compared)
    context: dict[str, Any] = {
        "compared": drawn,
        "sections": compare_sections(compared),
        "legend": legend_entries,
        "query": ",".join(ids),
        "polling": not all(run.finished for run in compared),
    }
    if request.headers.get("hx-request"):  # the poll while a run goes on: the part that changes
        return render(request, "_compare.html", **context)
    return render(request, "compare.html", **context)


@router.post("/runs/{run_id}/again")
async def run_again(run: RunDep, request: Request, lab: LabDep) -> Response:
    """A new run next to this one, then the two compared: form field `experiment` (none: this run's)
    and any params to change; the rest are this run's (app/web/again.py). Started like any other run,
    so the fair-use limits apply (429)."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    experiment_id = form.pop("experiment", "") or run.experiment.id
    target = lab.experiments.get(experiment_id)
    if target is None:
        return problem(
            request,
            404,
            "No such experiment",
            [f"experiment: no experiment {experiment_id[:100]!r} (known: {', '.join(lab.experiments)})"],
        )
    try:
        params = validate(target.params, params_for(target, run.params, form))
    except ParamError as exc:
        return problem(
            request, 422, f"Could not start {target.title}", exc.errors, {"detail": str(exc), "errors": exc.errors}
        )
    started = await lab.request(target, params, client_of(request), is_admin(request, lab.settings))
    if isinstance(started, Refusal):
        return problem(
            request,
            started.status,
            f"Could not start {target.title}",
            [started.message],
            started.to_json(),
            started.headers,
        )
    return RedirectResponse(f"/compare?runs={run.id},{started.id}", status_code=303)
