"""The benchmark scripts still run (tiny sizes): a benchmark that rots is worse than none."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers import ROOT


def test_every_benchmark_runs_quick_and_prints_its_table():
    from benchmarks.__main__ import BENCHMARKS

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    for name in BENCHMARKS:
        assert f"## {name}" in out.stdout
