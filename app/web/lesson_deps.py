"""What the lesson routes share (app/web/lesson_routes.py, the teacher's; app/web/lesson_follow.py, the
students'): the lesson feed and the lessons the app holds, a lesson by its id (404 naming the known ones), a
change applied to the live lesson (409 saying why the lesson refused it), a run of a step through the fair-use
limits, and a refused form answered to a browser as a page with the way back.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import Response
from starlette.requests import HTTPConnection

from app.model.lesson_state import LessonError, LessonState
from app.model.lessons import Lesson
from app.running.limits import Refusal
from app.web import urls
from app.web.auth import is_admin
from app.web.clients import client_of
from app.web.deps import LabDep
from app.web.lesson_feed import LessonFeed
from app.web.pages import render, wants_html
from experiments.harness.params import ParamError, validate


def feed_of(conn: HTTPConnection) -> LessonFeed:
    feed: LessonFeed = conn.app.state.lesson_feed  # app/web/server.py put it there
    return feed


def lessons_of(conn: HTTPConnection) -> dict[str, Lesson]:
    lessons: dict[str, Lesson] = conn.app.state.lessons
    return lessons


FeedDep = Annotated[LessonFeed, Depends(feed_of)]


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
