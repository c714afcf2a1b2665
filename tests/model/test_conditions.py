"""What a run ran under, from its runner's header, and the words the run page says it in (app/model/conditions.py)."""

from __future__ import annotations

from app.model.conditions import describe, fallback_words, from_header, late_words


def test_a_reader_that_did_not_follow_the_run_from_its_start_is_said_with_what_the_strips_may_miss():
    late = "did not follow the run within 5 s of its start (a machine too busy to give it a CPU)"
    conditions = from_header({"oncpu": {"sampler_pid": 7, "source": "switches", "late": late}}, {})
    assert conditions["oncpu_late"] == late
    assert late_words(conditions) == (
        "the on-CPU reader did not follow the run within 5 s of its start (a machine too busy to give it a CPU): "
        "a thread or process the run started before it did may have no strip"
    )
    assert "on-CPU strips from the kernel's context-switch records (exact)" in describe(conditions)


def test_a_reader_that_followed_from_the_start_says_nothing_of_it():
    conditions = from_header({"oncpu": {"sampler_pid": 7, "source": "switches"}}, {})
    assert conditions["oncpu_late"] == "" and late_words(conditions) == "" and fallback_words(conditions) == ""
    assert late_words({}) == ""  # a run stored before the lab said it
