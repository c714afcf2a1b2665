"""A teacher's own experiments (LAB_EXPERIMENTS_DIR, docs/experiments.md): the worked example of the docs, as
the docs print it, served and run through the real runner on each interpreter; every file that breaks the
contract left out with a message naming the file and what is wrong, the others served."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.model.experiments import OWN, catalogue, sections
from app.model.own_experiments import Problem, add_own
from app.running.pythons import PARAM_NAME, Interpreter, param
from app.web.server import create_app
from experiments import MODULES
from tests.helpers import ROOT, make_settings, post, pyenv_python, python_under, result_of, wait_for_status

DOC = (ROOT / "docs" / "experiments.md").read_text()
# The worked example: the file the docs tell the teacher to save, and its code, as printed.
EXAMPLE_NAME, EXAMPLE = re.search(r"as `(\w+\.py)`.*?```python\n(.*?)```", DOC, re.S).groups()  # type: ignore[union-attr]
# Beside the server's own: the oldest a run may pick, and a free-threaded build, where there are.
OTHER_PYTHONS = [p for p in (pyenv_python("3.9.18"), python_under(ROOT / ".pythons", "*t")) if p]
# A teacher's file named as a standard module (`queue`), starting processes with `spawn`, which import the
# module again by its name in each child, and importing a helper of its own beside it.
QUEUE_PY = '''\
"""Spawned processes square numbers."""
import multiprocessing
import queue

from experiments.own import _shared
from experiments.harness.params import Int

ID = "spawned-squares"
TITLE = "Spawned squares"
SUMMARY = "Spawned processes square numbers."
KIND = "processes"
NOTICE = "One lane per process."
PARAMS = (Int("workers", 2, 1, 4),)


def square(n):
    return n * n


def run(params, rec):
    assert queue.Queue is not None and not hasattr(queue, "ID")  # the standard library's, not this file
    with multiprocessing.get_context("spawn").Pool(params["workers"]) as pool:
        squares = pool.map(square, range(params["workers"] * 2))
    return {"expected": _shared.total(params["workers"] * 2), "actual": sum(squares)}
'''
SHARED_PY = """\
def total(n):
    return sum(i * i for i in range(n))
"""


def builtin():
    return catalogue(("experiments.race_counter",))


def problems_of(tmp_path: Path, files: dict[str, str]) -> list[str]:
    for name, source in files.items():
        (tmp_path / name).write_text(textwrap.dedent(source))
    served, problems = add_own(
        builtin(), tmp_path, (param((Interpreter(sys.executable, "3.11.7", "CPython", False, True, "fork"),)),)
    )
    return [str(p) for p in problems]


@pytest.fixture
def teachers_dir(tmp_path):
    directory = tmp_path / "my-experiments"
    directory.mkdir()
    (directory / EXAMPLE_NAME).write_text(EXAMPLE)
    (directory / "queue.py").write_text(QUEUE_PY)
    (directory / "_shared.py").write_text(SHARED_PY)
    (directory / "broken.py").write_text(good(ID="ID = 'broken'", KIND="KIND = 'thread'"))
    return directory


def test_the_docs_worked_example_runs_draws_its_lanes_and_is_in_the_catalogue_lessons_name(teachers_dir):
    lessons = teachers_dir.parent / "my-lessons"
    lessons.mkdir()
    (lessons / "tickets.toml").write_text(
        'title = "Tickets"\n[[steps]]\ntitle = "Without a lock"\nexperiment = "tickets"\nparams = { lock = "off" }\n'
    )
    settings = make_settings(
        experiments_dir=teachers_dir, lessons_dir=lessons, pythons=[sys.executable, *OTHER_PYTHONS]
    )
    app = create_app(settings, modules=MODULES)
    with TestClient(app) as client:
        lab = app.state.lab
        assert {"tickets", "spawned-squares"} <= set(lab.experiments)  # what a lesson's step names, by its ID
        assert app.state.lesson_problems == []
        assert 'href="/experiments/tickets">tickets</a>' in client.get("/lessons/tickets").text  # a lesson's step
        assert "broken" not in lab.experiments
        home = client.get("/").text
        own = home[home.index(f">{OWN}</h2>") :]
        assert "Threads hand out tickets" in own and "Spawned squares" in own
        assert (
            "broken.py</code>: KIND must be &#39;threads&#39; or &#39;processes&#39;, not str &#39;thread&#39;" in home
        )
        page = client.get("/experiments/tickets").text
        assert "hand_out" in page and "next_number" in page  # its code, as the built-in ones show theirs

        keys = [i.key for i in lab.interpreters]
        assert len(keys) == 1 + len(OTHER_PYTHONS)
        runs = {
            (key, lock): client.post(
                "/api/runs",
                json={"experiment": "tickets", "params": {"workers": 2, "tickets": 50, "lock": lock, PARAM_NAME: key}},
            )
            for key in keys
            for lock in ("off", "on")
        }
        squares = client.post("/api/runs", json={"experiment": "spawned-squares", "params": {"workers": 2}})
        assert all(r.status_code == 201 for r in [*runs.values(), squares]), [r.text for r in runs.values()]
        for (key, lock), created in runs.items():
            run = wait_for_status(client, created.json()["id"], timeout=60)
            assert run["status"] == "done", run
            assert run["python"] == key.rstrip("t")
            result = result_of(run)
            assert result["expected"] == 100 and result["actual"] + result["duplicates"] == 100
            if lock == "on":
                assert result["correct"] and result["duplicates"] == 0
            events = client.get(f"/api/runs/{run['id']}/events").json()
            assert {"main", "clerk-1", "clerk-2"} <= {e["worker"] for e in events}
            assert any(e["kind"] == "begin" and e["name"] == "hand_out(50 tickets)" for e in events)
            drawn = client.get(f"/runs/{run['id']}").text
            for lane in ("main", "clerk-1", "clerk-2"):
                assert f">{lane}</div>" in drawn
        run = wait_for_status(client, squares.json()["id"], timeout=60)
        assert run["status"] == "done" and result_of(run)["correct"], run


def test_the_example_shows_its_race_without_the_lock(teachers_dir):
    """What the docs promise a teacher sees: duplicated tickets with lock=off."""
    settings = make_settings(experiments_dir=teachers_dir)
    with TestClient(create_app(settings, modules=("experiments.race_counter",))) as client:
        # 2 000 tickets a thread (the docs' 200 take some 30 ms: under load the second thread could start after
        # the first had handed out all of its own, and no number was handed out twice)
        params = {"workers": 2, "lock": "off", "tickets": 2_000}
        created = client.post("/api/runs", json={"experiment": "tickets", "params": params})
        run = wait_for_status(client, created.json()["id"], timeout=60)
        assert run["status"] == "done" and result_of(run)["duplicates"] > 0, run["result"]


def test_the_teachers_problems_are_theirs_to_see(teachers_dir):
    settings = make_settings(experiments_dir=teachers_dir, admin_token="teacher-token")
    with TestClient(create_app(settings, modules=("experiments.race_counter",))) as client:
        assert "broken.py" not in client.get("/").text  # a student's home page
        teacher = {"authorization": "Bearer teacher-token"}
        assert "broken.py</code>: KIND must be" in client.get("/", headers=teacher).text


def test_experiments_check_lists_what_is_served_and_what_is_not(teachers_dir):
    checked = subprocess.run(
        [sys.executable, "-m", "app", "experiments", "check", "--dir", str(teachers_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 1, checked.stderr
    lines = checked.stdout.splitlines()
    assert lines[0] == f"{teachers_dir}: 2 experiment(s) served, 1 file(s) left out"
    assert "  ok     tickets.py: tickets (Threads hand out tickets)" in lines
    assert "  ok     queue.py: spawned-squares (Spawned squares)" in lines
    assert "  error  broken.py: KIND must be 'threads' or 'processes', not str 'thread'" in lines
    (teachers_dir / "broken.py").unlink()
    again = subprocess.run(
        [sys.executable, "-m", "app", "experiments", "check", "--dir", str(teachers_dir)], cwd=ROOT, capture_output=True
    )
    assert again.returncode == 0


DOC_PROBLEMS = re.search(r"What the lab checks at start.*?```text\n(.*?)```", DOC, re.S).group(1).splitlines()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "name, old, new",
    [
        (EXAMPLE_NAME, "def hand_out(tickets, lock, count):", "def hand_out(tickets, lock, count)"),
        (EXAMPLE_NAME, '    Choice("lock"', '    Choise("lock"'),
        (EXAMPLE_NAME, 'KIND = "threads"', 'KIND = "thread"'),
        (EXAMPLE_NAME, 'Int("tickets", 200, 10, 2_000, "tickets each thread hands out")', '("tickets", 200)'),
        (EXAMPLE_NAME, "def run(params, rec):", "def run(params):"),
        (EXAMPLE_NAME, 'ID = "tickets"', 'ID = "race-counter"'),
        ("two-clerks.py", "", ""),
    ],
)
def test_the_problems_the_docs_show_are_what_the_lab_says(tmp_path, name, old, new):
    assert old in EXAMPLE
    (problem,) = problems_of(tmp_path, {name: EXAMPLE.replace(old, new, 1)})
    assert problem in DOC_PROBLEMS


GOOD = """\
from experiments.harness.params import Int
ID = "good"
TITLE = "Good"
SUMMARY = "Fine."
KIND = "threads"
NOTICE = "Nothing."
PARAMS = (Int("workers", 1, 1, 2),)
def run(params, rec):
    return {}
"""


def good(**changes: str) -> str:
    """GOOD with the lines of the names in `changes` replaced (an empty string: the line removed)."""
    lines = GOOD.splitlines()
    for name, line in changes.items():
        index = next(i for i, text in enumerate(lines) if text.startswith((f"{name} =", f"def {name}(")))
        lines[index : index + (2 if name == "run" else 1)] = [line] if line else []
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "source, message",
    [
        (
            GOOD + "def broken(:\n    pass\n",
            "good.py: cannot be imported: line 10 (def broken(:): SyntaxError: invalid syntax",
        ),
        (
            GOOD + "x = next_numbr + 1\n",
            "good.py: cannot be imported: line 10 (x = next_numbr + 1): NameError: name 'next_numbr' is not defined",
        ),
        (
            "import numpyy\n" + GOOD,
            "good.py: cannot be imported: line 1 (import numpyy): ModuleNotFoundError: No module named 'numpyy'",
        ),
        (
            GOOD.replace('Int("workers", 1, 1, 2)', 'Int("workers", 5, 1, 2)'),
            'good.py: cannot be imported: line 7 (PARAMS = (Int("workers", 5, 1, 2),)): '
            "AssertionError: workers: default 5 outside 1..2",
        ),
        (good(ID=""), "good.py: ID is missing: a string"),
        (good(TITLE="TITLE = 3"), "good.py: TITLE must be a non-empty string, not int 3"),
        (good(NOTICE="NOTICE = ' '"), "good.py: NOTICE must be a non-empty string, not str ' '"),
        (
            good(ID="ID = 'My Experiment'"),
            "good.py: ID 'My Experiment' must be lower-case letters, digits and single hyphens "
            "(it is part of the page's address), e.g. 'two-threads'",
        ),
        (good(KIND=""), "good.py: KIND is missing: 'threads' or 'processes'"),
        (good(KIND="KIND = 'asyncio'"), "good.py: KIND must be 'threads' or 'processes', not str 'asyncio'"),
        (
            good(PARAMS=""),
            "good.py: PARAMS is missing: a tuple of experiments.harness.params Int(...) and Choice(...), e.g. "
            "(Int('workers', 2, 1, 8),)",
        ),
        (
            good(PARAMS="PARAMS = {'workers': 2}"),
            "good.py: PARAMS must be a tuple of experiments.harness.params Int(...) and Choice(...), e.g. "
            "(Int('workers', 2, 1, 8),), not dict {'workers': 2}",
        ),
        (
            good(PARAMS="PARAMS = (('workers', 2),)"),
            "good.py: PARAMS[0] must be an Int(...) or a Choice(...) of experiments.harness.params, not tuple ('workers', 2)",
        ),
        (
            good(PARAMS="PARAMS = (Int('python', 1, 1, 2),)"),
            "good.py: PARAMS[0] is named 'python', which is the lab's own param: choose another name",
        ),
        (
            good(PARAMS="PARAMS = (Int('workers', 1, 1, 2), Int('workers', 1, 1, 3))"),
            "good.py: PARAMS[1]: two params are named 'workers'",
        ),
        (good(run=""), "good.py: run is missing: a function run(params, rec) that returns a dict of results"),
        (good(run="run = 'go'"), "good.py: run must be a function run(params, rec), not str 'go'"),
        (
            good(run="def run(params):\n    return {}"),
            "good.py: run must take two arguments, run(params, rec); it is run(params)",
        ),
        (GOOD + "MEASURES_TIME = 'yes'\n", "good.py: MEASURES_TIME must be True or False, not str 'yes'"),
        (GOOD + "EXPECTED = ['x']\n", "good.py: EXPECTED must be a string, not list ['x']"),
        (GOOD + "findings = 'none'\n", "good.py: findings must be a function, not str 'none'"),
        (
            GOOD + "FIXED_VARIANT = {'param': {'workers': 2}}\n",
            'good.py: FIXED_VARIANT must be a dict {"experiment": ID, "params": {...}} (either key may be left out)',
        ),
        (
            GOOD + "FIXED_VARIANT = {'experiment': 'no-such-one'}\n",
            "good.py: FIXED_VARIANT names the experiment 'no-such-one', which the lab does not have",
        ),
        (
            GOOD + "FIXED_VARIANT = {'params': {'lock': 'on'}}\n",
            "good.py: FIXED_VARIANT's params 'lock' are not params of 'good'",
        ),
        (
            good(ID="ID = 'race-counter'"),
            "good.py: ID 'race-counter' is a built-in experiment's already: give yours another ID",
        ),
        (
            "x = 1\n",
            "good.py: is not an experiment: it has none of ID, TITLE, SUMMARY, NOTICE, KIND, PARAMS and run "
            "(a helper the experiments import is named with a leading _, e.g. _helpers.py)",
        ),
    ],
)
def test_a_file_that_breaks_the_contract_is_left_out_saying_what_is_wrong(tmp_path, source, message):
    assert problems_of(tmp_path, {"good.py": source}) == [message]


def test_every_problem_of_a_file_is_said_at_once(tmp_path):
    assert problems_of(tmp_path, {"good.py": good(KIND="KIND = 'x'", run="")}) == [
        "good.py: KIND must be 'threads' or 'processes', not str 'x'",
        "good.py: run is missing: a function run(params, rec) that returns a dict of results",
    ]


def test_two_files_with_one_id_the_first_by_name_keeps_it_the_other_files_are_served(tmp_path):
    problems = problems_of(
        tmp_path, {"a.py": GOOD, "b.py": GOOD, "c.py": good(ID="ID = 'third'"), "_helper.py": "x = 1\n"}
    )
    assert problems == ["b.py: ID 'good' is a.py's already (the first file by name keeps it)"]
    served, _ = add_own(builtin(), tmp_path)
    assert [(e.id, e.module) for e in served.values()] == [
        ("race-counter", "experiments.race_counter"),
        ("good", "experiments.own.a"),
        ("third", "experiments.own.c"),
    ]
    assert [title for title, _ in sections(served)] == ["Global Interpreter Lock", OWN]


@pytest.mark.parametrize(
    "name, suggestion",
    [("two-threads", "two_threads"), ("2threads", "experiment_2threads"), ("class", "experiment_class")],
)
def test_a_file_python_cannot_import_by_its_name_is_told_what_to_rename_it_to(tmp_path, name, suggestion):
    assert problems_of(tmp_path, {f"{name}.py": GOOD}) == [
        f"{name}.py: its name is not a module name Python can import (letters, digits and _, not starting with "
        f"a digit, not a keyword): rename it, e.g. {suggestion}.py"
    ]


def test_a_directory_that_is_not_there_is_said_and_the_built_in_ones_are_served(tmp_path):
    served, problems = add_own(builtin(), tmp_path / "nowhere")
    assert list(served) == ["race-counter"]
    assert problems == [
        Problem(str(tmp_path / "nowhere"), "LAB_EXPERIMENTS_DIR is not a directory (or does not exist)")
    ]


def test_a_second_lab_reads_its_own_directory_not_the_files_imported_before(tmp_path):
    """One module name in two directories (two labs, one after the other, or a restart after an edit)."""
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    (tmp_path / "one" / "mine.py").write_text(good(TITLE="TITLE = 'First'"))
    (tmp_path / "two" / "mine.py").write_text(good(TITLE="TITLE = 'Second'"))
    assert add_own(builtin(), tmp_path / "one")[0]["good"].title == "First"
    assert add_own(builtin(), tmp_path / "two")[0]["good"].title == "Second"


def test_the_setting_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert make_settings(experiments_dir="mine").experiments_dir == tmp_path / "mine"


def test_a_distributed_lab_runs_them_on_its_runner_nodes(lab, teachers_dir):
    """The web replica lists the teacher's experiment and queues its run; a runner node with the same
    LAB_EXPERIMENTS_DIR runs it (spawned children too) and the replica draws its lanes."""
    web, node = lab
    server = web("web-1", LAB_EXPERIMENTS_DIR=str(teachers_dir))
    node("node-1", LAB_EXPERIMENTS_DIR=str(teachers_dir))
    tickets = post(server, {"experiment": "tickets", "params": {"workers": 2, "tickets": 20, "lock": "on"}})
    squares = post(server, {"experiment": "spawned-squares", "params": {"workers": 2}})
    for run_id in (tickets, squares):
        run = wait_for_status(server.http, run_id, timeout=60)
        assert run["status"] == "done" and result_of(run)["correct"], run
    drawn = server.http.get(f"/runs/{tickets}").text
    assert all(f">{lane}</div>" in drawn for lane in ("main", "clerk-1", "clerk-2"))
