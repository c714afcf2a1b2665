"""`python -m app lessons check` (the console script `concurrency-lab lessons check`), run as a teacher runs it:
the shipped lessons pass, a teacher's bad lessons in LAB_LESSONS_DIR fail with one line per error naming the
file, the step and the field, checked against the experiments and interpreters this lab offers."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import sysconfig
from pathlib import Path

from tests.helpers import ROOT

# The key app/running/pythons.py gives the interpreter the lab runs on (LAB_PYTHON's default).
OWN_KEY = platform.python_version() + ("t" if sysconfig.get_config_var("Py_GIL_DISABLED") else "")


def check(*paths: Path, **env: str) -> subprocess.CompletedProcess[str]:
    # Only the lab's own interpreter offered: probing every one found is not what these tests are about.
    environ = {name: value for name, value in os.environ.items() if name != "LAB_LESSONS_DIR"}
    environ.update(LAB_PYTHONS=f'["{sys.executable}"]', **env)
    command = [sys.executable, "-m", "app", "lessons", "check", *map(str, paths)]
    return subprocess.run(command, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60)


def test_the_shipped_lessons_pass_with_one_line_each():
    done = check()
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.splitlines()) == [
        "gil-in-30-minutes: The GIL in 30 minutes (5 steps, 30 minutes)",
        "tutorial: Threads, processes and thread pools: the tutorial, run (20 steps, 90 minutes)",
    ]


def test_a_teachers_bad_lessons_fail_naming_file_step_and_field(tmp_path):
    (tmp_path / "mine.toml").write_text(
        'title = "Mine"\n'
        '[[steps]]\ntitle = "Race"\nexperiment = "race-countr"\n'
        '[[steps]]\ntitle = "A lock"\nexperiment = "lock-counter"\nparams = { workers = 40 }\n'
        '[[steps]]\ntitle = "Ask"\nexperiment = "fork"\n[steps.question]\ntext = "?"\nchoices = ["only one"]\n'
    )
    (tmp_path / "broken.toml").write_text('title = "Broken"\n[[steps]\n')
    (tmp_path / "tutorial.toml").write_text((ROOT / "lessons" / "tutorial.toml").read_text())
    done = check(LAB_LESSONS_DIR=str(tmp_path))
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert (
        f"{tmp_path / 'mine.toml'}: step 1 (\"Race\"): experiment: no experiment 'race-countr': did you mean 'race-counter'?"
        in lines
    )
    assert f'{tmp_path / "mine.toml"}: step 2 ("A lock"): params.workers: an integer from 2 to 16, got 40' in lines
    assert any(line.startswith(f'{tmp_path / "mine.toml"}: step 3 ("Ask"): question.choices: ') for line in lines)
    assert any(line.startswith(f"{tmp_path / 'broken.toml'}: line 2, column ") for line in lines)
    assert any(
        line.startswith(f"{tmp_path / 'tutorial.toml'}: the lesson 'tutorial' is already lessons/tutorial.toml")
        for line in lines
    )
    assert lines[-1] == "lessons check: 5 errors"


def test_a_step_may_name_an_interpreter_this_lab_offers_and_no_other(tmp_path):
    lesson = 'title = "T"\n[[steps]]\ntitle = "Here"\nexperiment = "fork"\nparams = {{ python = "{}" }}\n'
    (tmp_path / "here.toml").write_text(lesson.format(OWN_KEY))
    (tmp_path / "elsewhere.toml").write_text(lesson.format("2.7.18"))
    assert check(tmp_path / "here.toml").returncode == 0
    done = check(tmp_path / "elsewhere.toml")
    assert done.returncode == 1
    assert f"params.python: one of '{OWN_KEY}', got '2.7.18'" in done.stderr


def test_paths_given_are_checked_instead_of_the_lessons_directories(tmp_path):
    (tmp_path / "one.toml").write_text('title = "One"\n[[steps]]\ntitle = "Fork"\nexperiment = "fork"\n')
    done = check(tmp_path / "one.toml", LAB_LESSONS_DIR=str(tmp_path / "missing"))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "one: One (1 step, 0 minutes)\n"
