"""A lesson a class follows: the lessons' list, the teacher's page and controls, the students' page (join,
answer, run the step), the websocket every such page follows, and the record and export of a class's session.

The teacher (the presenter, app/web/presenter.py) starts a lesson and leads it step by step; every change is a
pure function of the lesson's state (app/model/lesson_state.py) applied through the lesson feed
(app/web/lesson_feed.py), which every web replica reads. Forms post and redirect back (they work without
JavaScript); the websocket then brings every page the new step within a fraction of a second.
"""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request, WebSocket
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.requests import HTTPConnection

from app.drawing import lesson_export
from app.drawing.lesson_view import LessonView
from app.model import lesson_state
from app.model.lesson_state import LessonError, LessonState
from app.model.lessons import Lesson, Step
from app.model.sweeps import expand, shared
from app.running.lab import Lab
from app.running.limits import Refusal
from app.web import urls
from app.web.auth import is_admin
from app.web.clients import client_of
from app.web.deps import LabDep, SettingsDep
from app.web.lesson_feed import LessonFeed
from app.web.live import pump
from app.web.pages import wants_html
from app.web.presenter import PresenterOnly, SameSiteOnly
from experiments.params import ParamError, validate

router = APIRouter()

MAX_ANSWER_CHARS = 40
MAX_NAME_FIELD_CHARS = 200  # refused with a message beyond lesson_state.MAX_NAME_CHARS once tidied
ACTIONS = ("go", "ask", "lock", "run", "everyone", "reveal", "end")


def feed_of(conn: HTTPConnection) -> LessonFeed:
    feed: LessonFeed = conn.app.state.lesson_feed  # app/web/server.py put it there
    return feed


def lessons_of(conn: HTTPConnection) -> dict[str, Lesson]:
    lessons: dict[str, Lesson] = conn.app.state.lessons
    return lessons


FeedDep = Annotated[LessonFeed, Depends(feed_of)]


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def lesson_or_404(request: Request, lesson_id: str) -> Lesson:
    lesson = lessons_of(request).get(lesson_id)
    if lesson is None:
        raise HTTPException(404, f"no lesson {lesson_id!r} (known: {', '.join(lessons_of(request)) or 'none'})")
    return lesson


Route = Callable[..., Awaitable[Response]]


def refusals_as_pages(back: Callable[[dict[str, Any]], str]) -> Callable[[Route], Route]:
    """A form's post refused (a 4xx): for a browser, a page saying why with the way back to the lesson (its
    address from the route's arguments), not the JSON any other client gets. A student who clicks an answer
    as the teacher starts the run reads "answers are locked", not a bare JSON object."""

    def decorate(route: Route) -> Route:
        @functools.wraps(route)
        async def answered(**kwargs: Any) -> Response:
            try:
                return await route(**kwargs)
            except HTTPException as refused:
                request: Request = kwargs["request"]
                if not wants_html(request):
                    raise
                response = render(
                    request,
                    "problem.html",
                    refused.status_code,
                    title="Not done",
                    errors=[str(refused.detail)],
                    back=back(kwargs),
                )
                response.headers.update(refused.headers or {})
                return response

        return answered

    return decorate


def to_the_lesson(_: dict[str, Any]) -> str:
    return urls.FOLLOW


def to_the_controls(route_args: dict[str, Any]) -> str:
    return urls.present(route_args["lesson_id"])


async def changed(feed: FeedDep, change: Callable[[LessonState], LessonState]) -> LessonState:
    """The change applied to the live lesson, or a 409 saying why the lesson refused it."""
    try:
        return await feed.change(change)
    except LessonError as refused:
        raise HTTPException(409, str(refused)) from None


# --- the lessons, and the teacher's page ---------------------------------------------------------------


@router.get("/lessons", response_class=HTMLResponse)
async def lessons_page(request: Request, feed: FeedDep, settings: SettingsDep) -> HTMLResponse:
    return render(
        request,
        "lessons.html",
        lessons=list(lessons_of(request).values()),
        problems=request.app.state.lesson_problems,
        live=feed.view,
        presenter=is_admin(request, settings),
    )


@router.get("/lessons/given/{session_id}", response_class=HTMLResponse)
async def session_page(request: Request, session_id: str, feed: FeedDep) -> HTMLResponse:
    state, lesson = await given(request, feed, session_id)
    views = [await feed.view_of(lesson, lesson_state.at_step(state, i)) for i in range(len(lesson.steps))]
    return render(request, "lesson_record.html", lesson=lesson, state=state, views=views)


@router.get("/lessons/given/{session_id}/answers.csv", dependencies=[PresenterOnly])
async def export_csv(request: Request, session_id: str, feed: FeedDep) -> Response:
    state, lesson = await given(request, feed, session_id)
    views = [await feed.view_of(lesson, lesson_state.at_step(state, i)) for i in range(len(lesson.steps))]
    return PlainTextResponse(
        lesson_export.csv_text(lesson, state, views),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{lesson.id}-{session_id}.csv"'},
    )


@router.get("/lessons/given/{session_id}/answers.json", dependencies=[PresenterOnly])
async def export_json(request: Request, session_id: str, feed: FeedDep) -> dict[str, Any]:
    state, lesson = await given(request, feed, session_id)
    views = [await feed.view_of(lesson, lesson_state.at_step(state, i)) for i in range(len(lesson.steps))]
    return lesson_export.document(lesson, state, views)


async def given(request: Request, feed: LessonFeed, session_id: str) -> tuple[LessonState, Lesson]:
    state = await feed.storage.find(session_id)
    if state is None:
        raise HTTPException(404, f"no lesson session {session_id!r}")
    return state, lesson_or_404(request, state.lesson)


@router.get("/lessons/{lesson_id}", response_class=HTMLResponse)
async def lesson_page(request: Request, lesson_id: str, feed: FeedDep, settings: SettingsDep) -> HTMLResponse:
    lesson = lesson_or_404(request, lesson_id)
    return render(
        request,
        "lesson.html",
        lesson=lesson,
        live=feed.view,
        given=await feed.storage.given(lesson.id),
        presenter=is_admin(request, settings),
    )


@router.post("/lessons/{lesson_id}/start", dependencies=[PresenterOnly])
async def start_lesson(request: Request, lesson_id: str, feed: FeedDep) -> Response:
    lesson = lesson_or_404(request, lesson_id)
    await feed.begin(lesson_state.begin(secrets.token_hex(6), lesson, time.time()))
    return RedirectResponse(urls.present(lesson.id), status_code=303)


@router.get("/lessons/{lesson_id}/present", response_class=HTMLResponse)
async def present_page(request: Request, lesson_id: str, feed: FeedDep, settings: SettingsDep) -> Response:
    lesson = lesson_or_404(request, lesson_id)
    if not is_admin(request, settings):
        return render(
            request,
            "problem.html",
            403,
            title="Only the presenter leads a lesson",
            errors=["Sign in at /presenter with the admin token, then come back."],
        )
    view = feed.view
    if view is None or view.lesson.id != lesson.id:
        return RedirectResponse(urls.lesson(lesson.id), status_code=303)
    return render(request, "lesson_present.html", view=view)


@router.post("/lessons/{lesson_id}/present/{action}", dependencies=[PresenterOnly])
@refusals_as_pages(to_the_controls)
async def control(
    request: Request,
    lesson_id: str,
    action: str,
    feed: FeedDep,
    lab: LabDep,
    step: Annotated[int | None, Form(ge=1, le=1000)] = None,
) -> Response:
    """A teacher's button: go to a step, ask, lock, run (the teacher's run), everyone runs it, reveal, end."""
    lesson = lesson_or_404(request, lesson_id)
    view = feed.view
    if view is None or view.lesson.id != lesson.id:
        raise HTTPException(409, f"lesson {lesson_id!r} is not the live one: start it first")
    if action not in ACTIONS:
        raise HTTPException(404, f"action: one of {', '.join(ACTIONS)}, got {action[:40]!r}")
    current = view.step
    if action == "go":
        if step is None:
            raise HTTPException(422, f"step: required, from 1 to {len(lesson.steps)}")
        await changed(feed, lambda s: lesson_state.go(s, step - 1))
    elif action == "ask":
        await changed(feed, lambda s: lesson_state.ask(s, lesson.steps[s.step].question))
    elif action == "lock":
        await changed(feed, lesson_state.lock)
    elif action == "run":
        await run_as_teacher(request, lab, feed, current)
    elif action == "everyone":
        await changed(feed, lesson_state.everyone_runs)
    elif action == "reveal":
        await changed(feed, lesson_state.reveal)
    else:
        await changed(feed, lambda s: lesson_state.end(s, time.time()))
        return RedirectResponse(urls.session(view.state.id), status_code=303)
    return RedirectResponse(urls.present(lesson.id), status_code=303)


async def run_as_teacher(request: Request, lab: Lab, feed: LessonFeed, step: Step) -> None:
    """The teacher's run of `step`: one run; two, where the step compares (/compare draws them); or a sweep."""
    if step.sweep is not None:
        sweep = await start_sweep(request, lab, step)
        await changed(feed, lambda s: lesson_state.teacher_ran(s, None, sweep=sweep))
        return
    run = await start_run(request, lab, step.experiment, dict(step.params))
    beside = None
    if step.compare is not None:
        other = step.compare.experiment or step.experiment
        known = {spec.name for spec in lab.experiments[other].params} if other in lab.experiments else set()
        carried = {name: value for name, value in step.params.items() if name in known}
        beside = await start_run(request, lab, other, {**carried, **step.compare.params})
    await changed(feed, lambda s: lesson_state.teacher_ran(s, run, compare=beside))


async def start_sweep(request: Request, lab: Lab, step: Step) -> str:
    """The teacher's sweep of `step`, through the fair-use limits as one request: its id, or the 4xx why not."""
    experiment = lab.experiments.get(step.experiment)
    if experiment is None:
        raise HTTPException(409, f"this lab has no experiment {step.experiment!r} any more")
    vary = {name: list(values) for name, values in (step.sweep or {}).items()}
    try:
        points = expand(experiment.params, step.params, vary)
    except ParamError as exc:
        raise HTTPException(409, f"this step's sweep no longer fits: {exc}") from None
    sweep = await lab.sweep(
        experiment, shared(points, vary), vary, points, client_of(request), is_admin(request, lab.settings)
    )
    if isinstance(sweep, Refusal):
        raise HTTPException(sweep.status, sweep.message, headers=sweep.headers)
    return sweep.id


async def start_run(request: Request, lab: LabDep, experiment_id: str, params: dict[str, Any]) -> str:
    """A run of a lesson's step for the asking client, through the fair-use limits: its id, or a 429 saying why."""
    experiment = lab.experiments.get(experiment_id)
    if experiment is None:
        raise HTTPException(409, f"this lab has no experiment {experiment_id!r} any more")
    try:
        checked = validate(experiment.params, params)
    except ParamError as exc:
        raise HTTPException(409, f"this step's params no longer fit: {exc}") from None
    run = await lab.request(experiment, checked, client_of(request), is_admin(request, lab.settings))
    if isinstance(run, Refusal):
        raise HTTPException(run.status, run.message, headers=run.headers)
    return run.id


# --- the students' page ------------------------------------------------------------------------------


@router.get(urls.FOLLOW, response_class=HTMLResponse)
async def follow_page(request: Request, feed: FeedDep, settings: SettingsDep) -> HTMLResponse:
    return render(
        request,
        "lesson_follow.html",
        view=feed.view,
        client=client_of(request).id,
        presenter=is_admin(request, settings),
        max_name=lesson_state.MAX_NAME_CHARS,
        auto_run=True,  # a page opened while everyone runs the step starts its run (once: app/web/lesson_routes.py)
    )


@router.post(urls.FOLLOW + "/join", dependencies=[SameSiteOnly])
@refusals_as_pages(to_the_lesson)
async def join(
    request: Request, feed: FeedDep, name: Annotated[str, Form(max_length=MAX_NAME_FIELD_CHARS)] = ""
) -> Response:
    client = client_of(request).id
    await changed(feed, lambda s: lesson_state.join(s, client, name))
    return RedirectResponse(urls.FOLLOW, status_code=303)


@router.post(urls.FOLLOW + "/answer", dependencies=[SameSiteOnly])
@refusals_as_pages(to_the_lesson)
async def answer(
    request: Request,
    feed: FeedDep,
    step: Annotated[int, Form(ge=1, le=1000)],
    answer: Annotated[str, Form(min_length=1, max_length=MAX_ANSWER_CHARS)],
) -> Response:
    client = client_of(request).id
    view = feed.view
    if view is None:
        raise HTTPException(409, "no lesson is live now")
    if not 1 <= step <= len(view.lesson.steps):
        raise HTTPException(422, f"step: from 1 to {len(view.lesson.steps)}, got {step}")
    question = view.lesson.steps[step - 1].question
    if question is None:
        raise HTTPException(409, f"step {step} asks no question")
    try:
        value = lesson_state.check_answer(question, answer)
    except LessonError as bad:
        raise HTTPException(422, str(bad)) from None
    await changed(feed, lambda s: lesson_state.answer(lesson_state.join_once(s, client), client, step - 1, value))
    return RedirectResponse(urls.FOLLOW, status_code=303)


@router.post(urls.FOLLOW + "/run", dependencies=[SameSiteOnly])
@refusals_as_pages(to_the_lesson)
async def run_step(request: Request, feed: FeedDep, lab: LabDep, step: Annotated[int, Form(ge=1, le=1000)]) -> Response:
    """This student's own run of the step everyone runs (once; asking again shows the one they have)."""
    client = client_of(request).id
    async with feed.alone(starting_key(client)):
        await start_own_run(request, feed, lab, client, step)
    return RedirectResponse(urls.FOLLOW, status_code=303)


def starting_key(client: str) -> str:
    return f"run:{client}"


async def start_own_run(request: Request, feed: LessonFeed, lab: LabDep, client: str, step: int) -> None:
    state = await feed.live()
    if state is None:
        raise HTTPException(409, "no lesson is live now")
    try:
        mine = lesson_state.may_run(state, client, step - 1)
    except LessonError as refused:
        raise HTTPException(409, str(refused)) from None
    if mine is None:
        lesson = lesson_or_404(request, state.lesson)
        current = lesson.steps[step - 1]
        run_id = await start_run(request, lab, current.experiment, dict(current.params))
        try:
            await feed.change(
                lambda s: lesson_state.student_ran(lesson_state.join_once(s, client), client, step - 1, run_id)
            )
        except LessonError as refused:  # their page asked twice at once, or the lesson moved on meanwhile
            run = await lab.store.find(run_id)
            if run is not None and not run.finished:
                await lab.cancel(run)
            raise HTTPException(409, str(refused)) from None


@router.get(urls.FOLLOW + "/bar", response_class=HTMLResponse)
async def back_bar(request: Request, feed: FeedDep) -> HTMLResponse:
    """The "back to the lesson" bar a page loads (empty when no lesson is live)."""
    return render(request, "_lesson_bar.html", view=feed.view)


# --- the websocket every lesson page follows ---------------------------------------------------------


@router.websocket("/ws/lesson")
async def follow(websocket: WebSocket, settings: SettingsDep) -> None:
    await websocket.accept()
    feed = feed_of(websocket)
    templates: Jinja2Templates = websocket.app.state.templates
    presenter = is_admin(websocket, settings)
    client = client_of(websocket).id

    async def views() -> AsyncGenerator[str, None]:
        shown: tuple[LessonView | None, bool] | None = None
        while True:
            changed = feed.changed()
            # While this student's run is being started here, their page is told so rather than given the form
            # again (every change of the class's view, each other student's run starting, would post it once
            # more); once the start is over (a run, or a refusal), the page is rendered again.
            now = (feed.view, feed.busy(starting_key(client)))
            if now != shown:
                # The page starts its own run when the teacher's "everyone runs it" first reaches it, not at
                # each later render before that run is recorded; the page's first render (follow_page) started
                # it already if the step asked it then.
                auto_run = shown is not None and asks_to_run(shown[0]) != asks_to_run(now[0])
                shown = now
                template = "_lesson_class.html" if presenter else "_lesson_step.html"
                yield templates.get_template(template).render(
                    view=now[0],
                    client=client,
                    oob=True,
                    auto_run=auto_run,
                    starting=now[1],
                    max_name=lesson_state.MAX_NAME_CHARS,
                )
            await changed.wait()

    await pump(websocket, views(), settings.ws_send_timeout_s)


def asks_to_run(view: LessonView | None | bool) -> tuple[str, int] | None:
    """The lesson session and step whose runs everyone is asked for in `view`, if any."""
    if not isinstance(view, LessonView) or not view.now.everyone:
        return None
    return view.state.id, view.state.step
