"""A class's session of a lesson as the teacher downloads it: every answer and every run's result, as CSV (one
row each) and as a JSON document. Students appear by the name they gave, or as "student N" in the order they
joined; nothing else about them is kept (app/model/lesson_state.py).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from app.drawing.lesson_view import LessonView, RunSummary
from app.model.lesson_state import LessonState
from app.model.lessons import Lesson

COLUMNS = ("step", "title", "experiment", "kind", "round", "student", "answer", "run", "value")


def cell(text: str) -> str:
    """A cell a spreadsheet shows as text: one a student typed that starts like a formula gets a quote first."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def names(state: LessonState) -> dict[str, str]:
    """Each client as the export shows them."""
    return {client: name or f"student {i}" for i, (client, name) in enumerate(state.people.items(), start=1)}


def _answer(view: LessonView, value: int | float) -> str:
    question = view.step.question
    if question is not None and question.kind == "choice" and isinstance(value, int):
        return question.choices[value]
    return str(value)


def plain(value: float | None) -> int | float | str:
    """A measured value as a cell holds it: a whole number without ".0" (a counter), nothing when none."""
    if value is None:
        return ""
    return int(value) if float(value).is_integer() else value


def _run(summary: RunSummary | None) -> dict[str, Any] | None:
    if summary is None:
        return None
    return {
        "id": summary.id,
        "status": summary.status,
        "value": plain(summary.value) if summary.value is not None else None,
        "seconds": summary.seconds,
    }


def document(lesson: Lesson, state: LessonState, views: Sequence[LessonView]) -> dict[str, Any]:
    who = names(state)
    return {
        "lesson": lesson.id,
        "title": lesson.title,
        "session": state.id,
        "started_at": state.started_at,
        "ended_at": state.ended_at,
        "students": sorted(who.values()),
        "steps": [
            {
                "step": i,
                "title": view.step.title,
                "experiment": view.step.experiment,
                "params": dict(view.step.params),
                "question": view.step.question.text if view.step.question else None,
                "measure": view.step.measure or None,
                "answers": {
                    str(r): {who.get(c, c): _answer(view, v) for c, v in answers.items()}
                    for r, answers in sorted(view.now.answers.items())
                },
                "teacher_run": _run(view.teacher_run),
                "teacher_compare": view.now.teacher_compare,
                "teacher_sweep": view.now.teacher_sweep,
                "class_runs": {who.get(c, c): _run(summary) for c, summary in view.class_runs.items()},
            }
            for i, view in enumerate(views, start=1)
        ],
    }


def csv_text(lesson: Lesson, state: LessonState, views: Sequence[LessonView]) -> str:
    who = names(state)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for i, view in enumerate(views, start=1):
        head = (i, view.step.title, view.step.experiment)
        for r, answers in sorted(view.now.answers.items()):
            for client, value in answers.items():
                writer.writerow((*head, "answer", r, cell(who.get(client, client)), cell(_answer(view, value)), "", ""))
        if view.teacher_run is not None:
            t = view.teacher_run
            writer.writerow((*head, "teacher run", "", "teacher", "", t.id, plain(t.value)))
        for client, summary in view.class_runs.items():
            writer.writerow((*head, "run", "", cell(who.get(client, client)), "", summary.id, plain(summary.value)))
    return out.getvalue()
