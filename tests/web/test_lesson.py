"""A short lesson (benchmarks/lesson.py): students behind one address running experiment after experiment
against `python -m app`, the server SIGKILLed halfway and started again on its database. No 5xx, no runner
left alive, and no run lost: every run started ends `done`, but those executing at the kill (`interrupted`,
at most LAB_MAX_CONCURRENT_RUNS of them)."""

from __future__ import annotations

from benchmarks.lesson import lesson

MAX_CONCURRENT_RUNS = 2  # the default the lesson's server runs with


def test_a_short_lesson_with_a_sigkill_midway_has_no_5xx_no_orphan_and_loses_no_queued_run():
    figures = lesson(students=8, seconds=16)
    assert figures["server_errors"] == 0, figures
    assert figures["answers"].get(201, 0) == figures["runs"] > 0
    assert figures["orphans"] == 0, figures
    ended = figures["ended"]
    assert set(ended) <= {"done", "interrupted"}, ended
    assert ended.get("interrupted", 0) <= MAX_CONCURRENT_RUNS, ended
    assert sum(ended.values()) == figures["runs"]
