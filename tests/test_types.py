"""app/, experiments/, benchmarks/, tests/ and the Python scripts type-check clean: mypy with [tool.mypy] in
pyproject.toml (the files, the strictness), run on the code as it is, as a reader of its annotations relies on them
being true."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT


def test_mypy_finds_no_error_in_the_app_the_experiments_the_benchmarks_or_the_tests(tmp_path: Path) -> None:
    # A cache of its own: every run checks from scratch, as CI's fresh clone does (some 10 s on 2 cores).
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy_cache")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = checked.stdout[-6000:] + checked.stderr[-2000:]
    assert checked.returncode == 0, report
    assert checked.stdout.startswith("Success: no issues found in"), report
