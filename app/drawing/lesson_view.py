"""A live lesson as its pages draw it: the step everyone sees, the teacher's run and the class's runs as far as
they got, and at the reveal the predictions and results (app/model/lesson_reveal.py) ready for the templates
(_lesson_step.html for a student, _lesson_class.html for the teacher). Built once per change by the lesson
feed (app/web/lesson_feed.py) and shared by every page that follows the lesson; only "your answer" and "your
run" are each page's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from app.model import lesson_reveal
from app.model.cpu import TOO_SHORT_CORES
from app.model.lesson_reveal import Histogram
from app.model.lesson_state import LessonState, StepState
from app.model.lessons import Lesson, Step
from app.model.runs import Run


@dataclass(frozen=True)
class RunSummary:
    """A run as a lesson shows it: its state, and the value of the step's measure once it finished."""

    id: str
    status: str
    status_words: str
    finished: bool
    value: float | None
    seconds: float | None  # how long it executed, once finished
    # Its CPU budget once finished (app/model/cpu.py): the cores its workers kept busy, and what other programs
    # took meanwhile (with how far off that may be), so the class sees which results shared the machine.
    busy_cores: float | None = None
    others_cores: float | None = None
    resolution_cores: float | None = None

    @classmethod
    def of(cls, run: Run, measure: str) -> RunSummary:
        result = run.result if run.finished else None
        seconds = (
            run.ended_at - run.started_at
            if run.finished and run.started_at is not None and run.ended_at is not None
            else None
        )
        cpu = run.cpu if run.finished else None
        return cls(
            run.id,
            run.status,
            run.status_words,
            run.finished,
            lesson_reveal.measured(result, measure),
            seconds,
            None if cpu is None else cpu.workers_busy_cores,
            None if cpu is None or cpu.resolution_cores >= TOO_SHORT_CORES else cpu.others_busy_cores,
            None if cpu is None else cpu.resolution_cores,
        )


@dataclass(frozen=True)
class Reveal:
    rounds: tuple[tuple[int, Histogram], ...]  # the predictions of each round asked
    judged: str  # a number question's answers against the teacher's run
    results: Histogram | None  # the class's own runs' values of the measure
    results_words: str
    measured: tuple[RunSummary, ...] = ()  # the class's runs that measured it, by value, each with its budget
    shared_words: str = ""  # how many of them shared the machine with other programs


@dataclass(frozen=True)
class LessonView:
    lesson: Lesson
    state: LessonState
    teacher_run: RunSummary | None = None
    class_runs: Mapping[str, RunSummary] = field(default_factory=dict)  # client -> their run of this step
    at_once: int = 1  # class runs executing together (1 where the step's experiment runs alone)

    @property
    def step(self) -> Step:
        return self.lesson.steps[self.state.step]

    @property
    def now(self) -> StepState:
        return self.state.current

    @property
    def number(self) -> int:
        return self.state.step + 1

    @property
    def measure_label(self) -> str:
        return self.step.measure_label or self.step.measure

    @property
    def answered(self) -> frozenset[str]:
        """Who answered the round being asked (or last asked)."""
        return frozenset(self.now.answers.get(self.now.round, {}))

    @property
    def class_done(self) -> int:
        return sum(1 for run in self.class_runs.values() if run.finished)

    def time_left(self) -> str:
        left = len(self.class_runs) - self.class_done
        durations = [run.seconds for run in self.class_runs.values() if run.seconds is not None]
        if self.teacher_run is not None and self.teacher_run.seconds is not None:
            durations.append(self.teacher_run.seconds)
        each = max(durations) if durations else None
        return lesson_reveal.time_left(left, each, self.at_once)

    def time_needed(self) -> str:
        """Before everyone runs the step: how long the class's runs will take, from the teacher's run of it."""
        each = self.teacher_run.seconds if self.teacher_run is not None else None
        return lesson_reveal.time_needed(len(self.state.people), each, self.at_once)

    def reveal(self) -> Reveal:
        question, now = self.step.question, self.now
        teacher = self.teacher_run.value if self.teacher_run is not None else None
        rounds: tuple[tuple[int, Histogram], ...] = ()
        judged = ""
        if question is not None:
            rounds = tuple(
                (r, lesson_reveal.predictions(question, now.answers.get(r, {}), teacher))
                for r in range(1, now.round + 1)
            )
            judged = lesson_reveal.within(question, now.answers.get(now.round, {}), teacher)
        runs = sorted((run for run in self.class_runs.values() if run.value is not None), key=lambda r: r.value or 0)
        values = [run.value for run in runs if run.value is not None]
        results = lesson_reveal.numbers(values, teacher) if values else None
        words = lesson_reveal.spread(values, self.measure_label, teacher) if values else ""
        shared = lesson_reveal.shared([run.others_cores for run in runs])
        return Reveal(rounds, judged, results, words, tuple(runs), shared)

    def name_of(self, client: str) -> str:
        return self.state.people.get(client) or "(no name)"

    def your_answer(self, client: str) -> str:
        """What `client` answered in the round asked, in words ("" if nothing)."""
        question = self.step.question
        value = self.now.answers.get(self.now.round, {}).get(client)
        if question is None or value is None:
            return ""
        if question.kind == "choice" and isinstance(value, int):
            return question.choices[value]
        unit = f" {question.unit}" if question.unit else ""
        return f"{lesson_reveal.number(value)}{unit}"
