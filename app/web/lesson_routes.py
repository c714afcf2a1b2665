"""A lesson the teacher leads: the lessons' list, a lesson's page and its start, the teacher's page and its
controls, and the record and export of a class's session. The students' side is app/web/lesson_follow.py.

The teacher (the presenter, app/web/presenter.py) starts a lesson and leads it step by step; every change is a
pure function of the lesson's state (app/model/lesson_state.py) applied through the lesson feed
(app/web/lesson_feed.py), which every web replica reads. Forms post and redirect back (they work without
JavaScript); the websocket (app/web/lesson_follow.py) then brings every page the new step.
"""

from __future__ import annotations

import secrets
import time
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from app.drawing import lesson_export
from app.drawing.lesson_view import LessonView
from app.model import lesson_state
from app.model.lesson_state import LessonState
from app.model.lessons import Lesson, Step
from app.model.sweeps import expand, shared
from app.running.lab import Lab
from app.running.limits import Refusal
from app.web import urls
from app.web.auth import is_admin
from app.web.clients import client_of
from app.web.deps import LabDep, SettingsDep
from app.web.lesson_deps import (
    FeedDep,
    changed,
    lesson_or_404,
    lessons_of,
    refusals_as_pages,
    start_run,
    to_the_controls,
)
from app.web.lesson_feed import LessonFeed
from app.web.pages import render
from app.web.presenter import PresenterOnly
from experiments.harness.params import ParamError

router = APIRouter()

ACTIONS = ("go", "ask", "lock", "run", "everyone", "reveal", "end")


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
    state, lesson, views = await given(request, feed, session_id)
    return render(request, "lesson_record.html", lesson=lesson, state=state, views=views)


@router.get("/lessons/given/{session_id}/answers.csv", dependencies=[PresenterOnly])
async def export_csv(request: Request, session_id: str, feed: FeedDep) -> Response:
    state, lesson, views = await given(request, feed, session_id)
    return PlainTextResponse(
        lesson_export.csv_text(lesson, state, views),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{lesson.id}-{session_id}.csv"'},
    )


@router.get("/lessons/given/{session_id}/answers.json", dependencies=[PresenterOnly])
async def export_json(request: Request, session_id: str, feed: FeedDep) -> dict[str, Any]:
    state, lesson, views = await given(request, feed, session_id)
    return lesson_export.document(lesson, state, views)


async def given(request: Request, feed: LessonFeed, session_id: str) -> tuple[LessonState, Lesson, list[LessonView]]:
    """A session (404 naming it if there is none), its lesson, and each of its steps as the record shows it."""
    state = await feed.storage.find(session_id)
    if state is None:
        raise HTTPException(404, f"no lesson session {session_id!r}")
    lesson = lesson_or_404(request, state.lesson)
    return state, lesson, [await feed.view_of(lesson, lesson_state.at_step(state, i)) for i in range(len(lesson.steps))]


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
