"""A lesson the class follows: the students' page (join with an optional name, answer, run the step), the
bar back to it on every other page, and the websocket every lesson page follows (the teacher's too).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, WebSocket
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from app.drawing.lesson_view import LessonView
from app.model import lesson_state
from app.model.lesson_state import LessonError
from app.web import urls
from app.web.auth import is_admin
from app.web.clients import client_of
from app.web.deps import LabDep, SettingsDep
from app.web.lesson_deps import (
    FeedDep,
    changed,
    feed_of,
    lesson_or_404,
    refusals_as_pages,
    start_run,
    to_the_lesson,
)
from app.web.lesson_feed import LessonFeed
from app.web.live import pump
from app.web.pages import render
from app.web.presenter import SameSiteOnly

router = APIRouter()

MAX_ANSWER_CHARS = 40
MAX_NAME_FIELD_CHARS = 200  # refused with a message beyond lesson_state.MAX_NAME_CHARS once tidied


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
        auto_run=True,  # a page opened while everyone runs the step starts its run (once: see follow below)
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


def asks_to_run(view: LessonView | None) -> tuple[str, int] | None:
    """The lesson session and step whose runs everyone is asked for in `view`, if any."""
    if view is None or not view.now.everyone:
        return None
    return view.state.id, view.state.step
