"""Lesson files: the TOML a lesson is written in (docs/lessons.md), read and checked into Lessons
(app/model/lessons.py), every mistake of a file as one sentence naming the file, the step and the field.

Why TOML: the standard library reads it (tomllib, no dependency); its numbers are typed, so `workers = 4`
is an integer and `tolerance = 0.5` a float, checked against the experiment's params as a run's JSON is;
a typo in its syntax is reported with its line. Markdown with front matter would need a YAML parser, and
YAML's guesses (`no` is False, `3.10` is 3.1) are what a lesson's params cannot afford.

A lesson's format: top-level `title` (required), `summary`, `minutes`; then one `[[steps]]` table per step:
`title`, `experiment` (an experiment's id), `params` (an inline table, each checked against that experiment's
params, the lab's `python` among them), `notes` (the teacher's), `notice` (shown at the reveal), `measure` (a
result field, e.g. race-counter's `actual`), `measure_label`, `everyone` (bool), and an optional
`[steps.question]`: `text`, and either `choices` (2 to 8) or `unit` and `tolerance` (a number question, judged
against `measure`); and at most one of `compare` (`{ experiment, params }`: the run the teacher's is compared
with, on /compare) and `sweep` (`{ workers = [1, 2, 4] }`: the teacher's run is a sweep of those values). Any
other key is an error: a typo must not be a field quietly ignored.

A step keeps the params its file gave, validated, and no others: the rest take the experiment's defaults when
it runs, as a run's request does, so a lesson that leaves out `python` runs on the lab's default interpreter.

Pure but for `read` and `load`, which read the files (the edge) and hand their text to `parse`.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from app import ROOT
from app.model.experiments import Experiment
from app.model.lessons import Beside, Lesson, Question, Step
from app.model.sweeps import expand
from experiments.harness.params import ParamError, shown, validate

LESSONS = ROOT / "lessons"  # the lessons the lab ships
ID = re.compile(r"[a-z0-9-]+")
SUFFIX = ".toml"
MIN_CHOICES, MAX_CHOICES = 2, 8
LESSON_FIELDS = ("title", "summary", "minutes", "steps")
STEP_FIELDS = (
    "title",
    "experiment",
    "params",
    "notes",
    "notice",
    "measure",
    "measure_label",
    "everyone",
    "question",
    "compare",
    "sweep",
)
COMPARE_FIELDS = ("experiment", "params")
QUESTION_FIELDS = ("text", "choices", "unit", "tolerance")
_TOML_WHERE = re.compile(r"^(?P<what>.*?) \(at line (?P<line>\d+), column (?P<column>\d+)\)$")


class _Errors:
    """The errors of one file: each a sentence prefixed by the file's name and where in it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.said: list[str] = []

    def add(self, where: str, what: str) -> None:
        """`where`: a place such as `step 2 ("A lock"): params.workers` ("" for the whole file); a prefix of
        one as the functions below pass it (`step 2 ("A lock"): `, `...: question.`) names the step or table."""
        where = where.rstrip(": .")
        self.said.append(f"{self.name}: {where}: {what}" if where else f"{self.name}: {what}")


def parse(text: str, name: str, experiments: Mapping[str, Experiment]) -> tuple[Lesson | None, list[str]]:
    """The lesson in `text`, the file `name` (its stem is the lesson's id), checked against `experiments`; or
    None and every error found in it."""
    errors = _Errors(name)
    lesson_id = Path(name).name.removesuffix(SUFFIX)
    if not ID.fullmatch(lesson_id):
        errors.add("", f"the file's name is the lesson's address (/lessons/{lesson_id}): use only a-z, 0-9 and - in it")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        errors.add(*_toml_error(str(exc)))
        return None, errors.said
    _unknown(errors, "", doc, LESSON_FIELDS, "a lesson")
    title = _text(errors, "", doc, "title", required=True)
    summary = _text(errors, "", doc, "summary")
    minutes = doc.get("minutes", 0)
    if not _is_int(minutes) or minutes < 0:
        errors.add("minutes", f"a whole number of minutes, 0 or more, got {shown(minutes)}")
    raw_steps = doc.get("steps")
    steps: list[Step] = []
    if not isinstance(raw_steps, list) or not raw_steps or not all(isinstance(s, dict) for s in raw_steps):
        errors.add("steps", "a lesson needs at least one step, each a [[steps]] table")
    else:
        for number, raw in enumerate(raw_steps, 1):
            step = _step(errors, number, raw, experiments)
            if step is not None:
                steps.append(step)
    if errors.said:
        return None, errors.said
    return Lesson(lesson_id, title, tuple(steps), summary, minutes, name), []


def _step(errors: _Errors, number: int, raw: dict[str, Any], experiments: Mapping[str, Experiment]) -> Step | None:
    title = raw.get("title")
    where = f'step {number} ("{title}"): ' if isinstance(title, str) and title.strip() else f"step {number}: "
    before = len(errors.said)
    _unknown(errors, where, raw, STEP_FIELDS, "a step")
    title = _text(errors, where, raw, "title", required=True)
    experiment_id = _text(errors, where, raw, "experiment", required=True)
    experiment = experiments.get(experiment_id)
    if experiment_id and experiment is None:
        close = difflib.get_close_matches(experiment_id, experiments, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"this lab's are {', '.join(experiments)}"
        errors.add(f"{where}experiment", f"no experiment {experiment_id!r}: {hint}")
    params = raw.get("params", {})
    if not isinstance(params, dict):
        errors.add(f"{where}params", f"a table of the experiment's params, got {shown(params)}")
        params = {}
    elif experiment is not None:
        params = _params(errors, where, experiment, params)
    notes = _text(errors, where, raw, "notes")
    notice = _text(errors, where, raw, "notice")
    measure = _text(errors, where, raw, "measure")
    if measure and not measure.isidentifier():
        errors.add(f"{where}measure", f"the name of a field of the run's result, e.g. 'actual', got {measure!r}")
    measure_label = _text(errors, where, raw, "measure_label")
    everyone = raw.get("everyone", False)
    if not isinstance(everyone, bool):
        errors.add(f"{where}everyone", f"true or false, got {shown(everyone)}")
    question = None
    if "question" in raw:
        question = _question(errors, f"{where}question.", raw["question"], measure)
    beside = _compare(errors, where, raw["compare"], experiment, experiments) if "compare" in raw else None
    sweep = _sweep(errors, where, raw["sweep"], experiment, params) if "sweep" in raw else None
    if beside is not None and sweep is not None:
        errors.add(f"{where}sweep", "a step compares two runs or sweeps, not both: make them two steps")
    if len(errors.said) > before:
        return None
    return Step(title, experiment_id, params, notes, notice, question, measure, measure_label, everyone, beside, sweep)


def _compare(
    errors: _Errors, where: str, raw: Any, experiment: Experiment | None, experiments: Mapping[str, Experiment]
) -> Beside | None:
    """`compare = { experiment = "lock-counter", params = { ... } }`: the run the teacher's is compared with."""
    where = f"{where}compare."
    if not isinstance(raw, dict):
        errors.add(where[:-1], f'a table such as {{ params = {{ window = "none" }} }}, got {shown(raw)}')
        return None
    _unknown(errors, where, raw, COMPARE_FIELDS, "a compare")
    other_id = _text(errors, where, raw, "experiment")
    other = experiments.get(other_id) if other_id else experiment
    if other_id and other is None:
        errors.add(f"{where}experiment", f"no experiment {other_id!r}: this lab's are {', '.join(experiments)}")
    params = raw.get("params", {})
    if not isinstance(params, dict):
        errors.add(f"{where}params", f"a table of params, got {shown(params)}")
        return None
    if not params and not other_id:
        errors.add(where[:-1], "name what differs: another experiment, or params to change")
    if other is not None:
        params = _params(errors, where, other, params)
    return Beside(other_id, params)


def _sweep(
    errors: _Errors, where: str, raw: Any, experiment: Experiment | None, params: dict[str, Any]
) -> dict[str, tuple[Any, ...]] | None:
    """`sweep = { workers = [1, 2, 4] }`: the teacher's run is a sweep, checked as the sweep form's is."""
    if not isinstance(raw, dict) or not all(isinstance(v, list) for v in raw.values()):
        errors.add(
            f"{where}sweep", f"a table of params and their values, e.g. {{ workers = [1, 2, 4] }}, got {shown(raw)}"
        )
        return None
    if experiment is not None:
        try:
            expand(experiment.params, params, raw)
        except ParamError as bad:
            for message in bad.errors:
                errors.add(f"{where}sweep", message.removeprefix("vary: ").removeprefix("vary."))
    return {name: tuple(values) for name, values in raw.items()}


def _params(errors: _Errors, where: str, experiment: Experiment, given: dict[str, Any]) -> dict[str, Any]:
    """The params `given`, each checked by experiments.harness.params.validate against the experiment's specs; only
    those given are kept (the others default when it runs)."""
    specs = {spec.name: spec for spec in experiment.params}
    for name, value in given.items():
        spec = specs.get(name)
        if spec is None:
            known = ", ".join(specs)
            errors.add(f"{where}params.{name}", f"{experiment.id} has no such param (its params: {known})")
            continue
        try:
            validate([spec], {name: value})
        except ParamError:
            errors.add(f"{where}params.{name}", f"{spec.bounds()}, got {shown(value)}")
    return dict(given)


def _question(errors: _Errors, where: str, raw: Any, measure: str) -> Question | None:
    if not isinstance(raw, dict):
        errors.add(where, f"a [steps.question] table, got {shown(raw)}")
        return None
    before = len(errors.said)
    _unknown(errors, where, raw, QUESTION_FIELDS, "a question")
    text = _text(errors, where, raw, "text", required=True)
    choices: tuple[str, ...] = ()
    unit, tolerance = "", 0.0
    if "choices" in raw:
        if "unit" in raw or "tolerance" in raw:
            errors.add(where, "either choices (a multiple-choice question) or unit and tolerance (a number), not both")
        choices = _choices(errors, f"{where}choices", raw["choices"])
    else:
        if "unit" not in raw or "tolerance" not in raw:
            errors.add(where, "give choices (a multiple-choice question), or unit and tolerance (a number question)")
        unit = _text(errors, where, raw, "unit")
        given = raw.get("tolerance", 0.0)
        if not isinstance(given, (int, float)) or isinstance(given, bool) or not math.isfinite(given) or given < 0:
            errors.add(f"{where}tolerance", f"a number, 0 or more, got {shown(given)}")
        else:
            tolerance = float(given)
        if not measure:
            errors.add(where, "a number question is judged against the run's measure: give the step a measure")
    if len(errors.said) > before:
        return None
    return Question(text, choices, unit, tolerance)


def _choices(errors: _Errors, where: str, raw: Any) -> tuple[str, ...]:
    ok = isinstance(raw, list) and all(isinstance(c, str) and c.strip() for c in raw)
    if not ok or not MIN_CHOICES <= len(raw) <= MAX_CHOICES:
        errors.add(
            where, f"a list of {MIN_CHOICES} to {MAX_CHOICES} answers, each a non-empty string, got {shown(raw)}"
        )
        return ()
    if len(set(raw)) < len(raw):
        errors.add(where, f"each answer once, got {shown(raw)}")
    return tuple(raw)


def _text(errors: _Errors, where: str, raw: Mapping[str, Any], key: str, *, required: bool = False) -> str:
    """The string `raw[key]` ("" when it is absent and not required), or "" and an error."""
    value = raw.get(key, None if required else "")
    field = where + key
    if value is None:
        errors.add(field, "missing: it is required")
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        errors.add(field, f"{'a non-empty' if required else 'a'} string, got {shown(value)}")
        return ""
    return value


def _unknown(errors: _Errors, where: str, raw: Mapping[str, Any], known: tuple[str, ...], what: str) -> None:
    for key in raw:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            errors.add(where + key, f"unknown field: {hint}{what} has {', '.join(known)}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _toml_error(message: str) -> tuple[str, str]:
    """tomllib's message as (where, what): `line 3, column 5` first, as every other error names its place."""
    found = _TOML_WHERE.match(message)
    if found is None:
        return "", f"not valid TOML: {message}"
    return f"line {found['line']}, column {found['column']}", f"not valid TOML: {found['what']}"


# The edge: reading the files.


def shown_path(path: Path) -> str:
    """A file's name in messages: relative to the working directory when under it (`lessons/gil.toml`)."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def read(path: Path, experiments: Mapping[str, Experiment]) -> tuple[Lesson | None, list[str]]:
    """The lesson in the file `path`, or its errors."""
    name = shown_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None, [f"{name}: not UTF-8 text"]
    except OSError as exc:
        return None, [f"{name}: cannot read it: {exc.strerror or exc}"]
    return parse(text, name, experiments)


def files(paths: Iterable[Path]) -> tuple[list[Path], list[str]]:
    """The lesson files of `paths` (a directory's *.toml, by name; or a file), and an error per path that is
    neither."""
    found: list[Path] = []
    errors: list[str] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.glob(f"*{SUFFIX}") if p.is_file())
        elif path.is_file():
            found.append(path)
        else:
            errors.append(f"{shown_path(path)}: no such directory or file of lessons")
    return found, errors


def places(lessons_dir: Path | None) -> list[Path]:
    """Where a lab's lessons are: the repository's lessons/, then the teacher's LAB_LESSONS_DIR if set."""
    return [LESSONS, *([lessons_dir] if lessons_dir is not None else [])]


def load(paths: Iterable[Path], experiments: Mapping[str, Experiment]) -> tuple[list[Lesson], list[str]]:
    """Every good lesson in `paths` (directories or files, in order: the repository's lessons/ first, then
    LAB_LESSONS_DIR), and every error; a lesson whose id an earlier file took is an error, not a lesson."""
    found, errors = files(paths)
    lessons: dict[str, Lesson] = {}
    for path in found:
        lesson, said = read(path, experiments)
        errors += said
        if lesson is None:
            continue
        if lesson.id in lessons:
            errors.append(
                f"{lesson.path}: the lesson {lesson.id!r} is already {lessons[lesson.id].path}: "
                "rename one of the files (a lesson's id is its file's name)"
            )
            continue
        lessons[lesson.id] = lesson
    return list(lessons.values()), errors
