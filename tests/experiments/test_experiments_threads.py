"""The tutorial's thread experiments, run through the real runner, tell their story in events.

Durations are shortened (tens of milliseconds) so each test takes well under a few seconds;
orderings are asserted, never exact timings. Hangs are tested the way the server sees them:
the runner is killed once its events stop, and the waits it was stuck in are still open.
"""

from __future__ import annotations

import signal
import sys
from typing import Any

import pytest

from app.model.timeline import Span
from tests.helpers import pyenv_python
from tests.runner_helpers import Outcome, run_experiment, run_until_quiet

# Python 3.9 (oldest supported) and 3.13 (newest here), besides the interpreter running the tests.
OTHER_PYTHONS = [
    pytest.param(
        pyenv_python(v),
        id=f"python{v}",
        marks=pytest.mark.skipif(pyenv_python(v) is None, reason=f"no Python {v} here"),
    )
    for v in ("3.9.18", "3.13.0")
]
QUIET_S = 1.5  # no events for this long: the run is stuck (every test run has shorter gaps)
KILLED = -signal.SIGKILL  # the returncode of a run that run_until_quiet had to kill

# Small, quick params with which each experiment runs to completion.
FINISHING: dict[str, dict[str, Any]] = {
    "experiments.thread_start_join": {"join": "yes", "daemon": "no", "duration1_ms": 100, "duration2_ms": 150},
    "experiments.thread_subclass": {"duration1_ms": 100, "duration2_ms": 200},
    "experiments.shared_list_polling": {
        "variant": "fixed",
        "workers": 2,
        "items": 4,
        "produce_delay_ms": 150,
        "process_ms": 40,
        "poll_ms": 20,
        "give_up_ms": 3000,
    },
    "experiments.queue_producer_consumer": {
        "variant": "fixed",
        "workers": 2,
        "items": 5,
        "maxsize": 2,
        "produce_delay_ms": 100,
        "process_ms": 30,
    },
    "experiments.rlock_counter": {"workers": 2, "iterations": 20_000},
    "experiments.condition_dialogue": {"variant": "fixed"},
    "experiments.semaphore_crawler": {"variant": "fixed", "permits": 2, "urls": 5, "crawl_ms": 50},
}


def span(out: Outcome, worker: str, name: str) -> Span:
    """The worker's one finished span called `name`."""
    (found,) = [s for s in out.spans(worker) if s.name == name]
    return found


def names(out: Outcome, worker: str, category: str | None = None) -> list[str]:
    """The worker's finished spans' names, in the order they began."""
    spans = sorted(out.spans(worker), key=lambda s: s.start_ns)
    return [s.name for s in spans if category is None or s.category == category]


def prints(out: Outcome, worker: str | None = None) -> list[str]:
    return [e.name for e in out.of("instant", worker) if e.category == "print"]


def instant_ts(out: Outcome, name: str, worker: str | None = None) -> list[int]:
    return [e.ts_ns for e in out.of("instant", worker) if e.name == name]


def result_ts(out: Outcome) -> int:
    (event,) = out.of("result")
    return event.ts_ns


@pytest.mark.parametrize("module", sorted(FINISHING))
@pytest.mark.parametrize("python", OTHER_PYTHONS)
def test_every_thread_experiment_finishes_on_old_and_new_pythons(module, python):
    out = run_experiment(module, FINISHING[module], python=python, timeout=20)
    assert out.returncode == 0, out.stderr
    assert out.result is not None and out.failure is None
    assert out.result.get("correct", True)


# -- thread-start-join ------------------------------------------------------------------------

TASKS = {"duration1_ms": 200, "duration2_ms": 300}


def test_without_join_main_finishes_before_its_workers_and_exit_waits_for_them():
    out = run_experiment("experiments.thread_start_join", {"join": "no", "daemon": "no", **TASKS})
    assert out.returncode == 0, out.stderr
    sleeps = [span(out, "Task 1", "sleep(0.2)"), span(out, "Task 2", "sleep(0.3)")]
    assert all(result_ts(out) < s.end_ns for s in sleeps), "main's code ends while both tasks sleep"
    exit_wait = span(out, "main", "Thread.join (interpreter exit)")
    assert exit_wait.end_ns >= max(s.end_ns for s in sleeps)
    assert set(prints(out)) >= {"Finished Task 1", "Finished Task 2"}
    assert out.result is not None, out.stderr
    assert "total_ms" not in out.result


def test_with_join_main_waits_and_the_sleeps_overlap():
    out = run_experiment("experiments.thread_start_join", {"join": "yes", "daemon": "no", **TASKS})
    assert names(out, "main", "wait") == ["Thread.join Task 1", "Thread.join Task 2"]
    assert result_ts(out) > max(instant_ts(out, "Finished Task 1") + instant_ts(out, "Finished Task 2"))
    assert out.result is not None, out.stderr
    assert 300 <= out.result["total_ms"] < 500  # the longest task, not the sum of both


def test_daemon_workers_are_cut_off_at_exit():
    out = run_experiment("experiments.thread_start_join", {"join": "no", "daemon": "yes", **TASKS})
    assert out.returncode == 0, out.stderr
    assert out.open_spans() == {"Task 1": ["sleep(0.2)"], "Task 2": ["sleep(0.3)"]}
    assert not [p for p in prints(out) if p.startswith("Finished")]
    assert names(out, "main", "wait") == [], "nothing waits for daemon threads"


# -- thread-subclass --------------------------------------------------------------------------


def test_each_data_fetcher_runs_on_its_own_lane_and_they_overlap():
    out = run_experiment("experiments.thread_subclass", {"duration1_ms": 100, "duration2_ms": 300})
    assert out.returncode == 0, out.stderr
    first, second = span(out, "Data Fetch 1", "sleep(0.1)"), span(out, "Data Fetch 2", "sleep(0.3)")
    assert second.start_ns < first.end_ns, "the second fetch started before the first one finished"
    assert prints(out, "Data Fetch 2") == ["Starting Data Fetch 2", "Finished Data Fetch 2"]
    assert names(out, "main") == ["Thread.join Data Fetch 1", "Thread.join Data Fetch 2"]
    assert out.result is not None, out.stderr
    assert out.result["longest_ms"] <= out.result["total_ms"] < out.result["sum_ms"]


# -- shared-list-polling ----------------------------------------------------------------------

POLLING = {"workers": 2, "items": 4, "produce_delay_ms": 150, "process_ms": 40, "poll_ms": 20, "give_up_ms": 700}
POLLERS = ("process_data-1", "process_data-2")


def last_item_processed(out: Outcome) -> int:
    return max(e.ts_ns for e in out.of("instant") if e.name.startswith("Processing item"))


def test_tutorial_pollers_keep_wasting_polls_after_the_work_is_done():
    out = run_experiment("experiments.shared_list_polling", {"variant": "tutorial", **POLLING})
    assert out.returncode == 0, out.stderr
    assert out.result is not None, out.stderr
    assert out.result["wasted_polls"] == len(instant_ts(out, "empty poll"))
    assert out.result["items_left"] == 0
    work_done = last_item_processed(out) + 40_000_000
    for poller in POLLERS:
        assert [t for t in instant_ts(out, "empty poll", poller) if t > work_done], f"{poller} polls on"


def test_fixed_pollers_stop_when_the_work_is_done():
    out = run_experiment("experiments.shared_list_polling", {"variant": "fixed", **POLLING})
    assert out.returncode == 0, out.stderr
    assert out.result is not None, out.stderr
    assert out.result["items_left"] == 0
    assert len([p for p in prints(out) if p.startswith("Processing item")]) == 4
    assert not [t for t in instant_ts(out, "empty poll") if t > last_item_processed(out)]
    # Polling is still wasteful while the producer sleeps: that is what a Queue fixes.
    assert out.result["wasted_polls"] > 0


# -- queue-producer-consumer ------------------------------------------------------------------

QUEUE = {"workers": 2, "items": 5, "maxsize": 2, "produce_delay_ms": 100, "process_ms": 30}
CONSUMERS = ("consumer-1", "consumer-2")


def test_tutorial_consumers_hang_in_queue_get_after_main_is_done():
    out = run_until_quiet("experiments.queue_producer_consumer", {"variant": "tutorial", **QUEUE}, quiet_s=QUIET_S)
    assert out.returncode == KILLED, "the run never ends by itself"
    assert "All tasks completed" in prints(out, "main"), "Queue.join returned: every item was processed"
    assert out.result is not None, out.stderr
    assert out.result["consumers_still_running"] == 2
    assert len(instant_ts(out, "task_done")) == 5
    assert out.open_spans() == {
        "consumer-1": ["Queue.get"],
        "consumer-2": ["Queue.get"],
        "main": ["Thread.join (interpreter exit)"],
    }


def test_fixed_consumers_stop_on_their_sentinels():
    out = run_experiment("experiments.queue_producer_consumer", {"variant": "fixed", **QUEUE})
    assert out.returncode == 0, out.stderr
    assert out.result is not None, out.stderr
    assert out.result["consumers_still_running"] == 0
    assert out.open_spans() == {}
    assert len(instant_ts(out, "task_done")) == 5
    assert sorted(p for p in prints(out) if p.startswith("Processing")) == [f"Processing: Item-{i}" for i in range(5)]


def test_queue_draws_blocking_get_put_and_its_depth():
    out = run_experiment("experiments.queue_producer_consumer", {"variant": "fixed", **QUEUE})
    produced_at = span(out, "producer", "sleep(0.1)").end_ns
    for consumer in CONSUMERS:
        first = min(out.spans(consumer), key=lambda s: s.start_ns)
        assert (first.name, first.category) == ("Queue.get", "wait")
        assert first.start_ns < produced_at < first.end_ns, "consumers wait in get() while the producer sleeps"
    assert "Queue.put" in names(out, "producer", "wait"), "maxsize=2: put() waits for room"
    depths = [e.value for e in out.of("counter") if e.name == "queue depth"]
    assert max(depths) == 2 and depths[-1] == 0
    assert names(out, "main", "wait")[:2] == ["Thread.join producer", "Queue.join"]


# -- rlock-counter ----------------------------------------------------------------------------


def test_rlock_holds_nest_on_the_incrementing_thread_and_the_count_is_right():
    out = run_experiment("experiments.rlock_counter", {"workers": 2, "iterations": 50_000})
    assert out.returncode == 0, out.stderr
    assert out.result is not None, out.stderr
    assert out.result["correct"] is True
    holds = [s for s in out.spans("increment-1") if s.category == "hold"]
    outer = [s for s in holds if s.name == "lock held, depth 1"]
    inner = [s for s in holds if s.name == "lock held, depth 2"]
    assert inner, "nested_function() takes the RLock its thread already holds"
    for s in inner:
        assert s.depth == 1 and any(o.start_ns <= s.start_ns and s.end_ns <= o.end_ns for o in outer)
    assert set(names(out, "decrement-1", "hold")) == {"lock held, depth 1"}


def test_rlock_draws_a_hold_only_after_a_wait_or_once_a_millisecond():
    """300 000 acquisitions: an outermost hold is drawn when it followed a drawn wait, else at most once a
    millisecond (HOLD_SAMPLE_NS). How many waits there are is the machine's doing (a loaded one makes
    more); the sampled holds follow the run's length, whatever the load."""
    out = run_experiment("experiments.rlock_counter", {"workers": 2, "iterations": 100_000})
    assert out.result is not None, out.stderr
    sampled, starts = 0, []
    for worker in ("increment-1", "decrement-1"):
        assert {s.category for s in out.spans(worker) if s.name == "RLock.acquire"} <= {"wait"}
        begins = out.of("begin", worker)
        # A drawn wait is followed by the hold it was waiting for.
        assert all(
            begins[i + 1].name == "lock held, depth 1" for i, e in enumerate(begins) if e.name == "RLock.acquire"
        )
        holds = [i for i, e in enumerate(begins) if e.name == "lock held, depth 1"]
        sampled += sum(1 for i in holds if i == 0 or begins[i - 1].name != "RLock.acquire")
        starts += [begins[i].ts_ns for i in holds]
    assert starts, "the run drew its holds"
    run_ms = (max(starts) - min(starts)) / 1e6
    assert sampled <= run_ms + 2, f"{sampled} holds drawn without a wait in {run_ms:.0f} ms"


# -- condition-dialogue -----------------------------------------------------------------------


def test_tutorial_dialogue_loses_the_first_notify_and_hangs():
    out = run_until_quiet("experiments.condition_dialogue", {"variant": "tutorial"}, quiet_s=QUIET_S)
    assert out.returncode == KILLED and out.result is None
    assert prints(out) == ["Speaker: Hello"]
    (lost_notify,) = instant_ts(out, "notify", "Speaker")
    (listener_waits,) = [e.ts_ns for e in out.of("begin", "Listener") if e.name == "Condition.wait"]
    assert lost_notify < listener_waits, "the Speaker notified before anyone waited"
    assert out.open_spans() == {
        "Speaker": ["Condition.wait"],
        "Listener": ["Condition.wait"],
        "main": ["Thread.join Speaker"],
    }


@pytest.mark.parametrize("python", [pytest.param(sys.executable, id="this-python"), *OTHER_PYTHONS])
def test_fixed_dialogue_always_finishes_in_order(python):
    out = run_experiment("experiments.condition_dialogue", {"variant": "fixed"}, python=python)
    assert out.returncode == 0, out.stderr
    assert out.result is not None, out.stderr
    assert out.result["dialogue"] == "finished"
    assert prints(out) == [
        "Speaker: Hello",
        "Listener: Hi there",
        "Speaker: How are you?",
        "Listener: I'm good, thanks!",
        "Speaker: Let's discuss programming",
        "Listener: Sounds great!",
    ]
    # Every wake-up has a notify from the other thread before it: the server's arrows.
    notifies = [(e.ts_ns, e.worker) for e in out.of("instant") if e.name == "notify"]
    for woken in (e for e in out.of("instant") if e.name == "woken"):
        assert any(ts < woken.ts_ns and worker != woken.worker for ts, worker in notifies)


# -- semaphore-crawler ------------------------------------------------------------------------

CRAWL = {"permits": 2, "urls": 6, "crawl_ms": 50}
PAGES = [f"page{i}" for i in range(6)]


def permit_holds(out: Outcome, worker: str) -> list[Span]:
    return [s for s in out.spans(worker) if s.name == "permit held"]


@pytest.mark.parametrize("variant", ["tutorial", "fixed"])
def test_semaphore_never_lets_more_than_permits_in(variant):
    out = run_experiment("experiments.semaphore_crawler", {"variant": variant, **CRAWL})
    assert out.returncode == 0, out.stderr
    in_use = [e.value for e in out.of("counter") if e.name == "permits in use"]
    assert max(in_use) == 2 and in_use[-1] == 0
    assert out.result is not None, out.stderr
    assert out.result["max_concurrent"] == 2
    # Counted from the lanes too: never more than 2 permits held at once.
    holds = [s for w in out.workers() for s in permit_holds(out, w)]
    assert max(sum(h.start_ns <= s.start_ns < h.end_ns for h in holds) for s in holds) == 2
    assert sorted(p for p in prints(out) if p.startswith("Crawled")) == [
        f"Crawled: https://example.com/{p}" for p in PAGES
    ]
    assert sorted(out.result["crawl_order"]) == PAGES


def test_tutorial_generator_takes_a_permit_for_every_crawler_it_starts():
    out = run_experiment("experiments.semaphore_crawler", {"variant": "tutorial", **CRAWL})
    assert out.result is not None, out.stderr
    assert out.result["generator_took_permits"] == 6
    generator_holds = permit_holds(out, "URLGenerator")
    assert len(generator_holds) == 6
    # It does not wait for a crawl to finish before starting the next crawler: all start at once.
    first_crawl_done = min(e.ts_ns for e in out.of("instant") if e.name.startswith("Crawled"))
    assert generator_holds[-1].end_ns < first_crawl_done


def test_fixed_generator_takes_no_permit_and_the_other_crawlers_wait():
    out = run_experiment("experiments.semaphore_crawler", {"variant": "fixed", **CRAWL})
    assert out.result is not None, out.stderr
    assert out.result["generator_took_permits"] == 0
    assert permit_holds(out, "URLGenerator") == []
    waiting = [page for page in PAGES if "Semaphore.acquire" in names(out, page, "wait")]
    assert len(waiting) >= 6 - 2, "crawlers beyond the permits wait in Semaphore.acquire"
