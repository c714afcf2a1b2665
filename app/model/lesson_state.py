"""A class's way through a lesson, live: the step the teacher shows, who joined, each step's question (asked,
locked, revealed; a second round after discussion), the answers, the teacher's run and the class's runs.

Pure: every change is a function from a state to a new one (or a LessonError saying why not, in words a page
shows), so each storage (app/storage/lesson_store.py: in this process, or in Redis for web replicas) applies it
atomically and nothing else decides. A state is kept as a JSON document (`to_doc`/`from_doc`).

A step's phase:
  ready     the question not asked yet (answers refused)
  asking    answers taken, each client's newest kept
  locked    answers closed: by the teacher, or because a run of the step started
  revealed  the class's answers and results shown; `again` asks the same question a second time
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from app.model.lessons import Lesson, Question

Phase = Literal["ready", "asking", "locked", "revealed"]
ROUNDS = 2  # a first vote, and one after discussion
MAX_NAME_CHARS = 40
Answer = int | float  # a choice's index, or a number


class LessonError(ValueError):
    """A change the lesson refuses now (the message says why); the web layer answers 409 or 422 with it."""


@dataclass(frozen=True)
class StepState:
    phase: Phase = "ready"
    round: int = 1  # the vote being asked or last asked
    answers: dict[int, dict[str, Answer]] = field(default_factory=dict)  # round -> client -> answer
    teacher_run: str | None = None
    teacher_compare: str | None = None  # the run beside the teacher's, where the step compares two
    teacher_sweep: str | None = None  # the teacher's sweep, where the step is one
    everyone: bool = False  # the teacher asked every student to run it
    class_runs: dict[str, str] = field(default_factory=dict)  # client -> their run of this step


@dataclass(frozen=True)
class LessonState:
    id: str  # this class's session of the lesson (one lesson may be given many times)
    lesson: str  # the lesson's id (its file)
    started_at: float
    step: int = 0  # the step everyone sees, 0-based
    steps: tuple[StepState, ...] = ()
    people: dict[str, str] = field(default_factory=dict)  # client -> display name ("" when none given)
    ended_at: float | None = None
    version: int = 0  # one more with every change: a follower re-renders when it moved

    @property
    def live(self) -> bool:
        return self.ended_at is None

    @property
    def current(self) -> StepState:
        return self.steps[self.step]

    def at(self, step: int) -> StepState:
        return self.steps[step]


def begin(session: str, lesson: Lesson, now: float) -> LessonState:
    return LessonState(session, lesson.id, now, steps=tuple(StepState() for _ in lesson.steps))


def _changed(state: LessonState, **changes: Any) -> LessonState:
    if not state.live:
        raise LessonError("this lesson has ended")
    return replace(state, version=state.version + 1, **changes)


def _with_step(state: LessonState, index: int, step: StepState) -> LessonState:
    steps = list(state.steps)
    steps[index] = step
    return _changed(state, steps=tuple(steps))


def go(state: LessonState, step: int) -> LessonState:
    """Show step `step` (0-based) to everyone; a step visited before keeps what happened in it."""
    if not 0 <= step < len(state.steps):
        raise LessonError(f"step: from 1 to {len(state.steps)}, got {step + 1}")
    return _changed(state, step=step)


def join(state: LessonState, client: str, name: str) -> LessonState:
    name = " ".join(name.split())
    if len(name) > MAX_NAME_CHARS:
        raise LessonError(f"name: at most {MAX_NAME_CHARS} characters, got {len(name)}")
    if state.people.get(client) == name:
        return state
    return _changed(state, people={**state.people, client: name})


def join_once(state: LessonState, client: str) -> LessonState:
    """`client` among the people (with no name) if they were not: a student who answers without joining."""
    return state if client in state.people else join(state, client, "")


def at_step(state: LessonState, step: int) -> LessonState:
    """The same session as seen at step `step` (the record of a past lesson shows each step so)."""
    return replace(state, step=step)


def ask(state: LessonState, question: Question | None) -> LessonState:
    """Open the current step's question: the first time, or a second round after the reveal."""
    if question is None:
        raise LessonError("this step has no question")
    now = state.current
    if now.phase == "asking":
        return state
    if now.phase == "revealed":
        if now.round >= ROUNDS:
            raise LessonError(f"this question was asked {ROUNDS} times already")
        return _with_step(state, state.step, replace(now, phase="asking", round=now.round + 1))
    if now.answers:  # locked after a first round: ask it again is a second round only after the reveal
        raise LessonError("the answers are locked: reveal first, then ask again")
    return _with_step(state, state.step, replace(now, phase="asking"))


def lock(state: LessonState) -> LessonState:
    """No more answers for the current step (the teacher closed the question, or a run started)."""
    if state.current.phase in ("locked", "revealed"):
        return state
    return _with_step(state, state.step, replace(state.current, phase="locked"))


def check_answer(question: Question, raw: str) -> Answer:
    """A submitted answer, as stored: a choice's index, or a finite number."""
    raw = raw.strip()
    if question.kind == "choice":
        try:
            index = int(raw)
        except ValueError:
            raise LessonError(f"answer: a choice from 1 to {len(question.choices)}, got {raw[:40]!r}") from None
        if not 0 <= index < len(question.choices):
            raise LessonError(f"answer: a choice from 1 to {len(question.choices)}, got {index + 1}")
        return index
    try:
        number = float(raw)
    except ValueError:
        raise LessonError(
            f"answer: a number{f' of {question.unit}' if question.unit else ''}, got {raw[:40]!r}"
        ) from None
    if not math.isfinite(number):
        raise LessonError(f"answer: a finite number, got {raw[:40]!r}")
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def answer(state: LessonState, client: str, step: int, value: Answer) -> LessonState:
    """`client`'s answer to step `step`'s open question (their newest counts); refused once it is locked."""
    if step != state.step:
        raise LessonError("the lesson has moved on: this question is not the current one")
    now = state.current
    if now.phase != "asking":
        raise LessonError("the question is not open yet" if now.phase == "ready" else "answers are locked")
    if now.answers.get(now.round, {}).get(client) == value:
        return state  # the same answer again (a double click, a page sending twice): nothing to keep
    answers = {**now.answers, now.round: {**now.answers.get(now.round, {}), client: value}}
    return _with_step(state, step, replace(now, answers=answers))


def teacher_ran(
    state: LessonState, run_id: str | None, compare: str | None = None, sweep: str | None = None
) -> LessonState:
    """The teacher's run of the current step started (with the run it is compared with, or as a sweep): answers
    lock, everyone's page shows it."""
    locked = lock(state)
    ran = replace(locked.current, teacher_run=run_id, teacher_compare=compare, teacher_sweep=sweep)
    return _with_step(locked, state.step, ran)


def everyone_runs(state: LessonState) -> LessonState:
    """Every student's page starts its own run of the current step: answers lock."""
    locked = lock(state)
    if locked.current.everyone:
        return locked
    return _with_step(locked, state.step, replace(locked.current, everyone=True))


def may_run(state: LessonState, client: str, step: int) -> str | None:
    """The run `client` already has of step `step`, or None if they may start one now (LessonError if not)."""
    if step != state.step:
        raise LessonError("the lesson has moved on: this step is not the current one")
    now = state.current
    if not now.everyone:
        raise LessonError("the teacher has not asked everyone to run this step")
    return now.class_runs.get(client)


def student_ran(state: LessonState, client: str, step: int, run_id: str) -> LessonState:
    existing = may_run(state, client, step)
    if existing is not None:
        raise LessonError(f"you already ran this step: run {existing}")
    now = state.at(step)
    return _with_step(state, step, replace(now, class_runs={**now.class_runs, client: run_id}))


def reveal(state: LessonState) -> LessonState:
    now = state.current
    if now.phase == "revealed":
        return state
    return _with_step(state, state.step, replace(now, phase="revealed"))


def end(state: LessonState, now: float) -> LessonState:
    return _changed(state, ended_at=now)


# --- the document a storage keeps -----------------------------------------------------------------


def to_doc(state: LessonState) -> dict[str, Any]:
    return {
        "id": state.id,
        "lesson": state.lesson,
        "started_at": state.started_at,
        "ended_at": state.ended_at,
        "step": state.step,
        "version": state.version,
        "people": state.people,
        "steps": [
            {
                "phase": s.phase,
                "round": s.round,
                "answers": {str(r): a for r, a in s.answers.items()},
                "teacher_run": s.teacher_run,
                "teacher_compare": s.teacher_compare,
                "teacher_sweep": s.teacher_sweep,
                "everyone": s.everyone,
                "class_runs": s.class_runs,
            }
            for s in state.steps
        ],
    }


def from_doc(doc: dict[str, Any]) -> LessonState:
    steps = tuple(
        StepState(
            phase=s["phase"],
            round=int(s["round"]),
            answers={int(r): dict(a) for r, a in s["answers"].items()},
            teacher_run=s["teacher_run"],
            teacher_compare=s.get("teacher_compare"),
            teacher_sweep=s.get("teacher_sweep"),
            everyone=bool(s["everyone"]),
            class_runs=dict(s["class_runs"]),
        )
        for s in doc["steps"]
    )
    return LessonState(
        doc["id"],
        doc["lesson"],
        float(doc["started_at"]),
        int(doc["step"]),
        steps,
        dict(doc["people"]),
        doc["ended_at"],
        int(doc["version"]),
    )
