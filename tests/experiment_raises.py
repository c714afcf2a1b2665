"""Test-only experiment: works a little, then raises."""

from __future__ import annotations

from experiments.harness.params import Int

ID = "test-raises"
TITLE = "Raises"
SUMMARY = "Records a span, then raises ZeroDivisionError."
KIND = "threads"
NOTICE = "For tests."
PARAMS = (Int("workers", 1, 1, 1),)


def run(params, rec):
    with rec.activity("before the error"):
        pass
    return {"value": 1 / 0}
