"""Lesson files (app/model/lesson_files.py): a good file is the Lesson it says, and each mistake a teacher can
make is one sentence naming the file, the step and the field; the two shipped lessons load clean."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from app.model import lesson_files
from app.model.experiments import catalogue
from app.model.lessons import Beside, Lesson, Question, Step
from experiments import MODULES
from experiments.harness.params import Choice
from tests.helpers import ROOT

# The lab adds its interpreters as every experiment's `python` param (app/running/pythons.py): two here.
PYTHON = Choice("python", "3.11.7", ("3.11.7", "3.13.5t"), "the interpreter that runs it")
EXPERIMENTS = catalogue(MODULES, (PYTHON,))
NAME = "lessons/gil.toml"

GOOD = """
title = "The GIL"
summary = "A race and a lock."
minutes = 20

[[steps]]
title = "A race"
experiment = "race-counter"
params = { window = "call", workers = 4 }
notes = "Everyone runs it."
notice = "Compare expected and actual."
measure = "actual"
measure_label = "final counter"
everyone = true

[steps.question]
text = "What will the counter be?"
choices = ["0", "Not 0"]

[[steps]]
title = "A lock"
experiment = "lock-counter"
params = { python = "3.13.5t" }
measure = "actual"

[steps.question]
text = "What will the counter be?"
unit = "updates"
tolerance = 0.5
"""


def parse(text: str, name: str = NAME) -> tuple[Lesson | None, list[str]]:
    return lesson_files.parse(text, name, EXPERIMENTS)


def errors_of(text: str, name: str = NAME) -> list[str]:
    lesson, errors = parse(text, name)
    assert lesson is None and errors
    return errors


def step(fields: str, question: str = "") -> str:
    """A lesson of one step "A lock" with `fields` (TOML lines) and, if given, a [steps.question] of `question`."""
    text = f'title = "T"\n[[steps]]\ntitle = "A lock"\n{fields}\n'
    return text + (f"[steps.question]\n{question}\n" if question else "")


def test_a_good_file_is_the_lesson_it_says():
    lesson, errors = parse(GOOD)
    assert errors == []
    assert lesson == Lesson(
        id="gil",
        title="The GIL",
        summary="A race and a lock.",
        minutes=20,
        path=NAME,
        steps=(
            Step(
                title="A race",
                experiment="race-counter",
                params={"window": "call", "workers": 4},
                notes="Everyone runs it.",
                notice="Compare expected and actual.",
                question=Question("What will the counter be?", choices=("0", "Not 0")),
                measure="actual",
                measure_label="final counter",
                everyone=True,
            ),
            Step(
                title="A lock",
                experiment="lock-counter",
                params={"python": "3.13.5t"},
                question=Question("What will the counter be?", unit="updates", tolerance=0.5),
                measure="actual",
            ),
        ),
    )
    assert lesson.steps[0].question is not None and lesson.steps[0].question.kind == "choice"
    assert lesson.steps[1].question is not None and lesson.steps[1].question.kind == "number"


def test_a_step_keeps_only_the_params_its_file_gave():
    lesson, _ = parse(step('experiment = "race-counter"\nparams = { iterations = 1000 }'))
    assert lesson is not None and lesson.steps[0].params == {"iterations": 1000}
    lesson, _ = parse(step('experiment = "race-counter"'))
    assert lesson is not None and lesson.steps[0].params == {}


def test_an_unknown_experiment_names_the_file_the_step_and_the_field():
    (error,) = errors_of(step('experiment = "race-countr"'))
    assert (
        error
        == "lessons/gil.toml: step 1 (\"A lock\"): experiment: no experiment 'race-countr': did you mean 'race-counter'?"
    )
    (error,) = errors_of(step('experiment = "mandelbrot"'))
    assert error.startswith(
        "lessons/gil.toml: step 1 (\"A lock\"): experiment: no experiment 'mandelbrot': this lab's are "
    )
    assert "race-counter" in error


def test_a_param_out_of_bounds_names_its_bounds_and_the_value():
    (error,) = errors_of(step('experiment = "lock-counter"\nparams = { workers = 40 }'))
    assert error == 'lessons/gil.toml: step 1 ("A lock"): params.workers: an integer from 2 to 16, got 40'


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ('{ workers = "4" }', "params.workers: an integer from 2 to 16, got '4'"),
        ("{ workers = 4.0 }", "params.workers: an integer from 2 to 16, got 4.0"),
        ("{ workers = true }", "params.workers: an integer from 2 to 16, got True"),
        ('{ window = "never" }', "params.window: one of 'none', 'call', got 'never'"),
        ('{ python = "2.7" }', "params.python: one of '3.11.7', '3.13.5t', got '2.7'"),
        (
            "{ workerz = 4 }",
            "params.workerz: lock-counter has no such param (its params: workers, iterations, window, python)",
        ),
        ("4", "params: a table of the experiment's params, got 4"),
    ],
)
def test_a_param_of_the_wrong_type_or_name_is_refused(params, said):
    (error,) = errors_of(step(f'experiment = "lock-counter"\nparams = {params}'))
    assert error == f'lessons/gil.toml: step 1 ("A lock"): {said}'


@pytest.mark.parametrize(
    ("question", "field", "said"),
    [
        (
            'text = "?"\nchoices = ["a", "b"]\nunit = "ms"',
            "question",
            "either choices (a multiple-choice question) or unit and tolerance (a number), not both",
        ),
        (
            'text = "?"\nchoices = ["a"]',
            "question.choices",
            "a list of 2 to 8 answers, each a non-empty string, got ['a']",
        ),
        ('text = "?"\nchoices = ["a", ""]', "question.choices", "a list of 2 to 8 answers, each a non-empty string"),
        ('text = "?"\nchoices = ["a", "a"]', "question.choices", "each answer once, got ['a', 'a']"),
        (f'text = "?"\nchoices = {[str(n) for n in range(9)]}', "question.choices", "a list of 2 to 8 answers"),
        ('text = "?"\nunit = "ms"\ntolerance = -1', "question.tolerance", "a number, 0 or more, got -1"),
        ('text = "?"\nunit = "ms"\ntolerance = nan', "question.tolerance", "a number, 0 or more, got NaN"),
        ('text = "?"\nunit = "ms"\ntolerance = "5"', "question.tolerance", "a number, 0 or more, got '5'"),
        ('choices = ["a", "b"]', "question.text", "missing: it is required"),
        ('text = ""\nchoices = ["a", "b"]', "question.text", "a non-empty string, got ''"),
        ('text = "?"\nunit = "ms"', "question", "give choices (a multiple-choice question), or unit and tolerance"),
        ('text = "?"\nchoice = ["a", "b"]', "question.choice", "unknown field: did you mean 'choices'?"),
    ],
)
def test_a_malformed_question_names_the_field(question, field, said):
    errors = errors_of(step('experiment = "race-counter"\nmeasure = "actual"', question))
    assert any(e.startswith(f'lessons/gil.toml: step 1 ("A lock"): {field}: {said}') for e in errors), errors


def test_a_number_question_needs_a_measure_to_be_judged_against():
    (error,) = errors_of(step('experiment = "race-counter"', 'text = "?"\nunit = ""\ntolerance = 0'))
    assert error == (
        'lessons/gil.toml: step 1 ("A lock"): question: a number question is judged against the run\'s measure: '
        "give the step a measure"
    )


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            'titel = "T"\ntitle = "T"\n[[steps]]\ntitle = "A"\nexperiment = "fork"',
            "titel: unknown field: did you mean 'title'?",
        ),
        (step('experiment = "fork"\nnote = "x"'), "step 1 (\"A lock\"): note: unknown field: did you mean 'notes'?"),
        (step('experiment = "fork"\neveryone = "yes"'), "step 1 (\"A lock\"): everyone: true or false, got 'yes'"),
        (step('experiment = "fork"\nmeasure = "the counter"'), 'step 1 ("A lock"): measure: the name of a field'),
        (
            'title = "T"\nminutes = 1.5\n[[steps]]\ntitle = "A"\nexperiment = "fork"',
            "minutes: a whole number of minutes",
        ),
        ('title = "T"', "steps: a lesson needs at least one step"),
        ('[[steps]]\ntitle = "A"\nexperiment = "fork"', "title: missing: it is required"),
        ('title = "T"\n[[steps]]\nexperiment = "fork"', "step 1: title: missing: it is required"),
        ('title = "T"\n[[steps]]\ntitle = "A"', 'step 1 ("A"): experiment: missing: it is required'),
    ],
)
def test_each_field_of_a_lesson_and_a_step_is_checked(text, error):
    errors = errors_of(text)
    assert any(e.startswith(f"lessons/gil.toml: {error}") for e in errors), errors


def test_bad_toml_names_the_file_and_the_line():
    (error,) = errors_of('title = "T"\n\n[[steps]\ntitle = "A"\n')
    assert error.startswith("lessons/gil.toml: line 3, column ")
    assert "not valid TOML" in error


def test_every_error_of_a_file_is_told_not_just_the_first():
    text = step('experiment = "lock-counter"\nparams = { workers = 40 }') + (
        '[[steps]]\ntitle = "Second"\nexperiment = "nope"\n[steps.question]\ntext = "?"\nchoices = ["x"]\n'
    )
    errors = errors_of(text)
    assert [e.split(": ")[1:3] for e in errors] == [
        ['step 1 ("A lock")', "params.workers"],
        ['step 2 ("Second")', "experiment"],
        ['step 2 ("Second")', "question.choices"],
    ]


def test_a_lesson_id_is_its_file_name_made_of_lowercase_letters_digits_and_hyphens():
    lesson, _ = parse(step('experiment = "fork"'), "/somewhere/gil-in-30-minutes.toml")
    assert lesson is not None and lesson.id == "gil-in-30-minutes"
    (error,) = errors_of(step('experiment = "fork"'), "lessons/My Lesson.toml")
    assert error.startswith("lessons/My Lesson.toml: the file's name is the lesson's address")


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def test_load_reads_each_directory_in_order_and_a_duplicate_id_is_an_error(tmp_path):
    first, second = tmp_path / "repo", tmp_path / "teacher"
    write(first, "race.toml", step('experiment = "race-counter"'))
    write(first, "README.md", "not a lesson")
    write(second, "race.toml", step('experiment = "lock-counter"'))
    write(second, "lock.toml", step('experiment = "lock-counter"'))
    write(second, "broken.toml", step('experiment = "nope"'))
    lessons, errors = lesson_files.load([first, second, tmp_path / "missing"], EXPERIMENTS)
    assert [(lesson.id, lesson.steps[0].experiment) for lesson in lessons] == [
        ("race", "race-counter"),
        ("lock", "lock-counter"),
    ]
    assert len(errors) == 3, errors
    assert errors[0] == f"{tmp_path / 'missing'}: no such directory or file of lessons"
    assert errors[1].startswith(f"{second / 'broken.toml'}: step 1 (\"A lock\"): experiment: no experiment 'nope'")
    assert errors[2] == (
        f"{second / 'race.toml'}: the lesson 'race' is already {first / 'race.toml'}: rename one of the files "
        "(a lesson's id is its file's name)"
    )


def test_a_file_that_is_not_utf8_is_an_error_not_a_crash(tmp_path):
    path = tmp_path / "latin.toml"
    path.write_bytes('title = "Café"'.encode("latin-1"))
    assert lesson_files.read(path, EXPERIMENTS) == (None, [f"{path}: not UTF-8 text"])


def test_the_places_are_the_repositorys_lessons_then_the_teachers(tmp_path):
    assert lesson_files.places(None) == [ROOT / "lessons"]
    assert lesson_files.places(tmp_path) == [ROOT / "lessons", tmp_path]


def test_the_shipped_lessons_load_with_no_error():
    lessons, errors = lesson_files.load(lesson_files.places(None), EXPERIMENTS)
    assert errors == []
    assert {lesson.id for lesson in lessons} == {"tutorial", "gil-in-30-minutes"}


def test_the_tutorial_runs_every_experiment_in_the_tutorials_order_with_a_question_each():
    lesson, errors = lesson_files.read(ROOT / "lessons" / "tutorial.toml", EXPERIMENTS)
    assert errors == [] and lesson is not None
    in_order = [EXPERIMENTS[e].module for e in (s.experiment for s in lesson.steps)]
    # Not one the lab offers only where an interpreter has what it needs (NEEDS: interpreters-cpu), which a lab
    # without such an interpreter leaves out of its catalogue, and then could not run the lesson.
    assert in_order == [m for m in MODULES if not getattr(importlib.import_module(m), "NEEDS", ())]
    assert 80 <= lesson.minutes <= 100
    for s in lesson.steps:
        assert s.notes and s.notice and s.question is not None, s.title


def test_the_gil_lesson_races_locks_then_compares_threads_and_processes():
    lesson, errors = lesson_files.read(ROOT / "lessons" / "gil-in-30-minutes.toml", EXPERIMENTS)
    assert errors == [] and lesson is not None
    assert lesson.minutes == 30
    assert [(s.experiment, dict(s.params)) for s in lesson.steps[:3]] == [
        ("race-counter", {"window": "none"}),
        ("race-counter", {"window": "call"}),
        ("lock-counter", {"window": "call"}),
    ]
    assert lesson.steps[1].everyone and lesson.steps[1].measure == "actual"
    assert [s.experiment for s in lesson.steps[3:]] == ["cpu-threads-vs-processes"] * 2


def test_a_step_may_compare_its_run_with_another_or_sweep_its_params():
    lesson, errors = parse(
        step('experiment = "race-counter"\ncompare = { experiment = "lock-counter", params = { workers = 4 } }')
    )
    assert errors == [] and lesson is not None
    assert lesson.steps[0].compare == Beside("lock-counter", {"workers": 4})
    lesson, errors = parse(step('experiment = "lock-counter"\nsweep = { workers = [2, 4] }'))
    assert errors == [] and lesson is not None and lesson.steps[0].sweep == {"workers": (2, 4)}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ('compare = { experiment = "nope" }', "step 1 (\"A lock\"): compare.experiment: no experiment 'nope'"),
        ("compare = { params = { workers = 99 } }", "compare.params.workers: an integer from 2 to 16, got 99"),
        ("compare = {}", "compare: name what differs"),
        ("sweep = { workers = [1, 40] }", "sweep: workers"),
        ('sweep = "workers"', "sweep: a table of params and their values"),
        ("compare = { params = { workers = 4 } }\nsweep = { workers = [2, 4] }", "not both"),
    ],
)
def test_a_bad_compare_or_sweep_names_the_step_and_the_field(fields, message):
    errors = errors_of(step(f'experiment = "lock-counter"\n{fields}'))
    assert any(message in error for error in errors), errors
