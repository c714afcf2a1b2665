"""The race stepper: /experiments/{id}/step (race-counter, lock-counter), its page and its JSON.

The query is the whole state: interpreter, window, threads, iterations and the schedule `s` (thread
numbers, one per instruction stepped). A button is a link to the same page with one more step (or a
move of one thread, or a search), which htmx swaps into #stepper, pushing the schedule's own URL:
a student copies that URL and anyone opening it sees the same state. Undo is a link to the
schedule one step shorter (the step undone kept in `r`, for Redo).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NamedTuple
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import State

from app.drawing.stepping import page as stepping_page
from app.model.experiments import Experiment
from app.model.schedules import (
    MAX_ITERATIONS,
    MAX_STEPS,
    MAX_THREADS,
    MIN_ITERATIONS,
    MIN_THREADS,
    Move,
    ScheduleError,
    StepAnswer,
    StepRequest,
    encode,
    parse,
)
from app.running.lab import Lab
from app.running.limits import Client, Refusal
from app.running.stepping import StepFailed, Stepping
from app.web import urls
from app.web.auth import is_admin
from app.web.clients import client_of
from app.web.deps import ExperimentDep, LabDep
from app.web.pages import problem, render

router = APIRouter()

STEPPED = ("race-counter", "lock-counter")


def stepping_of(state: State, lab: Lab) -> Stepping:
    """The lab's stepper, made on first use (the interpreters are known once the lab is open)."""
    stepping: Stepping | None = getattr(state, "stepping", None)
    if stepping is None:

        async def count_run(client: Client, admin: bool) -> Refusal | None:
            return await lab.limits.rates.take(client, check=not admin)

        stepping = state.stepping = Stepping(lab.interpreters, lab.settings.max_concurrent_runs, count_run)
    return stepping


def _invalid(field: str, value: Any, message: str) -> RequestValidationError:
    return RequestValidationError([{"type": "value_error", "loc": ("query", field), "input": value, "msg": message}])


class Asked(NamedTuple):
    experiment: Experiment
    request: StepRequest
    redo: str  # steps undone, for Redo (thread numbers)


async def asked(
    exp: ExperimentDep,
    lab: LabDep,
    python: str | None = Query(
        None, max_length=40, description="the interpreter's key (GET /api/pythons); default the server's"
    ),
    window: Literal["none", "call"] = Query("none", description="none: counter += 1; call: read, call pause(), write"),
    threads: int = Query(2, ge=MIN_THREADS, le=MAX_THREADS, description="threads; odd-numbered ones increment"),
    iterations: int = Query(2, ge=MIN_ITERATIONS, le=MAX_ITERATIONS, description="loop iterations per thread"),
    s: str = Query("", max_length=MAX_STEPS, description="the schedule: thread numbers, one per instruction stepped"),
    r: str = Query("", max_length=MAX_STEPS, description="steps undone, for Redo"),
    thread: int | None = Query(None, ge=1, le=MAX_THREADS, description="a move of this thread after the schedule"),
    move: Literal["instruction", "line", "end"] = Query(
        "instruction", description="the move: one instruction, to the next line, to its end"
    ),
    find: bool = Query(False, description="search for the shortest schedule that loses an update instead"),
) -> Asked:
    if exp.id not in STEPPED:
        raise _invalid("experiment_id", exp.id, f"the stepper steps {' and '.join(STEPPED)}, not {exp.id}")
    keys = [i.key for i in lab.interpreters]
    key = python if python is not None else keys[0]
    if key not in keys:
        raise _invalid("python", python, f"python must be one of {', '.join(keys)}")
    if thread is not None and thread > threads:
        raise _invalid("thread", thread, f"thread must be from 1 to {threads} (threads={threads})")
    try:
        schedule = parse(s, threads)
        parse(r, threads)
    except ScheduleError as exc:
        field = str(exc).split(":")[0]
        raise _invalid(field, s if field == "s" else r, str(exc)) from None
    then: tuple[int, Move] | None = (thread - 1, move) if thread is not None else None
    return Asked(exp, StepRequest(exp.id, window, threads, iterations, key, schedule, then, find), r)


AskedDep = Annotated[Asked, Depends(asked)]


def url(req: StepRequest, schedule: str, redo: str = "", find: bool = False) -> str:
    query = {"python": req.python, "window": req.window, "threads": req.threads, "iterations": req.iterations}
    if find:
        return f"{urls.experiment(req.experiment)}/step?{urlencode({**query, 'find': 1})}"
    query.update({"s": schedule, **({"r": redo} if redo else {})})
    return f"{urls.experiment(req.experiment)}/step?{urlencode(query)}"


async def _answer(request: Request, lab: Lab, ask: Asked) -> StepAnswer | Response:
    # Opening a stepping session (a page, not a click inside one) or a search counts as a run.
    counts = ask.request.find or not request.headers.get("hx-request")
    try:
        answer = await stepping_of(request.app.state, lab).answer(
            ask.request, client_of(request), counts, is_admin(request, lab.settings)
        )
    except StepFailed as exc:
        return problem(request, 503, "The stepper failed", [str(exc)])
    if isinstance(answer, Refusal):
        return problem(request, answer.status, "Not now", [answer.message], answer.to_json(), answer.headers)
    return answer


@router.get("/experiments/{experiment_id}/step", response_class=Response)
async def step_page(ask: AskedDep, request: Request, lab: LabDep) -> Response:
    answer = await _answer(request, lab, ask)
    if isinstance(answer, Response):
        return answer
    req = ask.request
    drawn = stepping_page(answer)
    # What a step undone leaves for Redo: kept while the student only undoes and redoes.
    redo = ask.redo if not req.then and not req.find and ask.redo else ""
    here = url(req, drawn.schedule, redo)
    links = {
        "undo": url(req, drawn.schedule[:-1], drawn.schedule[-1:] + redo) if drawn.schedule else "",
        "redo": url(req, drawn.schedule + redo[:1], redo[1:]) if redo else "",
        "reset": url(req, ""),
        "find": url(req, "", find=True),
        "json": here.replace("/step?", "/step.json?", 1),
        "step": [url(req, drawn.schedule + str(c.index + 1)) for c in drawn.columns],
        "line": [url(req, drawn.schedule) + f"&thread={c.index + 1}&move=line" for c in drawn.columns],
        "end": [url(req, drawn.schedule) + f"&thread={c.index + 1}&move=end" for c in drawn.columns],
    }
    pythons = [(i.key, i.label) for i in lab.interpreters]
    response = render(
        request,
        "step.html",
        exp=ask.experiment,
        req=req,
        drawn=drawn,
        links=links,
        here=here,
        pythons=pythons,
        threads_range=range(MIN_THREADS, MAX_THREADS + 1),
        iterations_range=range(MIN_ITERATIONS, MAX_ITERATIONS + 1),
    )
    if request.headers.get("hx-request"):
        response.headers["HX-Push-Url"] = here  # the schedule's own URL, whatever the button asked
    return response


@router.get("/experiments/{experiment_id}/step.json")
async def step_json(ask: AskedDep, request: Request, lab: LabDep) -> Response:
    """The same state as JSON: the schedule (thread numbers), each step's state, the refused step, the search."""
    answer = await _answer(request, lab, ask)
    if isinstance(answer, Response):
        return answer
    req = ask.request
    schedule = encode(answer["schedule"])
    return JSONResponse(
        {
            "experiment": req.experiment,
            "python": req.python,
            "window": req.window,
            "threads": req.threads,
            "iterations": req.iterations,
            "schedule": [t + 1 for t in answer["schedule"]],
            "url": url(req, schedule),
            "interpreter": answer["python"],
            "functions": answer["functions"],
            "expected": answer["expected"],
            "states": answer["states"],
            "refused": answer["refused"],
            "found": answer["found"],
        }
    )
