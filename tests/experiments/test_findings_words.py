"""Each experiment's findings() and verdict(), word for word: what a student reads about their own run.

Pure: each is called with a run's params and result as the runner returned them, no runner process.
tests/experiments/test_findings.py checks what the sentences must (not) claim; these check each sentence whole,
so a figure taken from the wrong field, rounded otherwise or a case judged at the wrong bound shows.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from experiments.harness.params import defaults

Result = dict[str, Any]


def words(module: str, result: Result, python: str = "3.11.7", cpu: Result | None = None, **params: Any) -> list[str]:
    """The experiment's findings on a run with these params (the rest default) and result."""
    m = importlib.import_module(f"experiments.{module}")
    extra = {} if cpu is None else {"cpu": cpu}
    said: list[str] = m.findings({**defaults(m.PARAMS), **params}, result, python, **extra)
    return said


def judged(module: str, result: Result, python: str = "3.11.7", cpu: Result | None = None, **params: Any) -> Any:
    """The experiment's verdict on that run: (shown, words)."""
    m = importlib.import_module(f"experiments.{module}")
    extra = {} if cpu is None else {"cpu": cpu}
    return m.verdict({**defaults(m.PARAMS), **params}, result, python, **extra)


# -- asyncio: a blocked loop ------------------------------------------------------------------


def test_a_blocking_sleep_in_a_task_is_said_to_have_blocked_the_loop_that_long():
    result = {"call_ms": 500.4, "blocked_ms": 500.9, "ticks_during_call": 0, "ticks": 30}
    assert words("asyncio_blocked_loop", result) == [
        "The blocker called time.sleep(0.5) inside its step: for 500 ms the loop's one thread was in that call, "
        "and the tickers ticked 0 times meanwhile.",
        "The loop was blocked for 501 ms: that long no ticker, due every 50 ms, got a step.",
    ]
    assert judged("asyncio_blocked_loop", result) == (
        True,
        "The loop was blocked for 501 ms while one task was in a 500 ms call: no other task ran.",
    )


def test_a_loop_blocked_half_the_call_or_more_shows_the_lesson_less_does_not():
    assert judged("asyncio_blocked_loop", {"call_ms": 100.0, "blocked_ms": 50.0})[0] is True
    assert judged("asyncio_blocked_loop", {"call_ms": 100.0, "blocked_ms": 49.9}) == (
        False,
        "The tickers went only 49.9 ms without a step during the 100 ms call this time.",
    )


def test_a_cpu_bound_call_awaited_on_a_thread_is_said_not_to_block_the_loop():
    result = {"call_ms": 512.3, "blocked_ms": 21.5, "ticks_during_call": 1, "ticks": 30}
    assert words("asyncio_blocked_loop", result, variant="fixed", call="cpu", tick_ms=20) == [
        "The blocker awaited asyncio.to_thread: the CPU-bound loop ran on another thread for 512 ms, and the "
        "tickers ticked 1 time meanwhile.",
        "The longest the loop went without giving a ticker a step while the call ran was 21.5 ms, about the 20 ms "
        "sleep the tickers await anyway: the loop was not blocked.",
    ]
    assert judged("asyncio_blocked_loop", result, variant="fixed") == (
        True,
        "With to_thread no ticker waited more than 21.5 ms for a step during a 512 ms call: the other tasks kept "
        "running.",
    )


def test_to_thread_with_the_loop_still_held_half_the_call_does_not_show_the_fix():
    assert judged("asyncio_blocked_loop", {"call_ms": 100.0, "blocked_ms": 49.9}, variant="fixed")[0] is True
    assert judged("asyncio_blocked_loop", {"call_ms": 100.0, "blocked_ms": 50.0}, variant="fixed") == (
        False,
        "Even with to_thread the tickers went 50.0 ms without a step this time.",
    )


def test_a_blocking_sleep_is_named_with_its_seconds():
    result = {"call_ms": 1250.0, "blocked_ms": 1250.0, "ticks_during_call": 2, "ticks": 30}
    said = words("asyncio_blocked_loop", result, block_ms=1250)
    assert said[0].startswith("The blocker called time.sleep(1.25) inside its step: for 1250 ms")


# -- asyncio: gather --------------------------------------------------------------------------

GATHERED = {
    "waits_ms": 10_000.0,
    "asyncio_ms": 1003.2,
    "thread_ms": 3008.4,
    "asyncio_speedup": 9.97,
    "thread_speedup": 3.32,
    "rounds": 3,
}


def test_gathered_tasks_are_compared_with_their_waits_in_a_row_and_with_a_pool():
    assert words("asyncio_gather", GATHERED) == [
        "The 10 tasks waited 10000 ms in all; as asyncio tasks on one thread they took 1003 ms, 9.97× faster than "
        "one wait after the other (at best 10×, all at once).",
        "The thread pool of 4 workers took 3008 ms, 3.32× (at best 3.33×: 3 rounds of up to 4).",
        "asyncio was 3.00× as fast as the pool here: every task waited at once, with no thread of its own, while "
        "the pool could wait only 4 at a time.",
    ]
    assert judged("asyncio_gather", GATHERED) == (
        True,
        "10 asyncio tasks on one thread finished 9.97× faster than their waits one after the other: awaiting, "
        "they waited together.",
    )


def test_a_pool_faster_than_asyncio_says_the_loop_was_held_up():
    said = words("asyncio_gather", {**GATHERED, "asyncio_speedup": 2.0, "thread_speedup": 3.0})
    assert said[2] == "The pool was 1.50× as fast as asyncio here: the loop's thread must have been held up."


def test_asyncio_and_a_pool_within_a_tenth_of_each_other_took_about_as_long():
    about = "asyncio and the pool took about as long: the pool had enough workers for the waits."
    for a, t in ((1.1, 1.0), (1.0, 1.1), (3.0, 3.0)):
        assert words("asyncio_gather", {**GATHERED, "asyncio_speedup": a, "thread_speedup": t})[2] == about
    assert words("asyncio_gather", {**GATHERED, "asyncio_speedup": 2.0, "thread_speedup": 1.0})[2].startswith(
        "asyncio was 2.00× as fast"
    )
    assert words("asyncio_gather", {**GATHERED, "asyncio_speedup": 1.0, "thread_speedup": 2.0})[2].startswith(
        "The pool was 2.00× as fast"
    )


def test_gathered_tasks_overlap_when_half_as_fast_as_all_at_once_or_one_and_a_half_times():
    assert judged("asyncio_gather", {"asyncio_speedup": 5.0}, tasks=1) == (
        None,
        "With one task there was nothing to overlap.",
    )
    assert judged("asyncio_gather", {"asyncio_speedup": 1.0}, tasks=2)[0] is True  # half of 2×
    assert judged("asyncio_gather", {"asyncio_speedup": 0.99}, tasks=2) == (
        False,
        "The asyncio tasks were only 0.99× faster than their waits in a row this time.",
    )
    assert judged("asyncio_gather", {"asyncio_speedup": 1.5}, tasks=10)[0] is True  # 1.5×, not half of 10×
    assert judged("asyncio_gather", {"asyncio_speedup": 1.49}, tasks=10)[0] is False


# -- asyncio: a queue -------------------------------------------------------------------------


def test_consumers_left_awaiting_the_queue_are_said_to_be_cancelled_by_asyncio_run():
    result = {"items": 10, "consumers_still_running": 3, "consumers_cancelled": 2}
    assert words("asyncio_queue", result) == [
        'queue.join() returned: task_done() was called for each of the 10 items, so main printed "All tasks '
        'completed".',
        "3 consumers were still awaiting Queue.get when main returned; asyncio.run cancelled 2 tasks as it ended, "
        "so the program could end anyway: unlike a thread blocked in Queue.get, a task waiting on an await can be "
        "cancelled.",
    ]
    assert judged("asyncio_queue", result) == (
        True,
        "queue.join() returned with 3 consumers still awaiting Queue.get: asyncio.run cancelled 2 tasks, and the "
        "program ended.",
    )
    one = {"items": 1, "consumers_still_running": 1, "consumers_cancelled": 1}
    assert words("asyncio_queue", one)[1].startswith(
        "1 consumer was still awaiting Queue.get when main returned; asyncio.run cancelled 1 task as it ended"
    )


def test_consumers_stopped_by_sentinels_are_said_to_have_stopped():
    result = {"items": 7, "consumers_still_running": 0, "consumers_cancelled": 0}
    assert words("asyncio_queue", result, variant="fixed", workers=4)[1] == (
        "Every consumer (4) stopped at its None sentinel before main returned."
    )
    assert judged("asyncio_queue", result, variant="fixed") == (
        True,
        "Every consumer stopped at its sentinel after 7 items.",
    )


# -- a condition ------------------------------------------------------------------------------


def test_a_dialogue_that_finished_is_luck_as_written_and_the_fix_with_a_turn_variable():
    finished = {"dialogue": "finished"}
    assert words("condition_dialogue", finished) == [
        "The dialogue finished this time: the Listener was already waiting when the Speaker first notified, so no "
        "notify was lost. The tutorial's code only works when the threads happen to run in that order."
    ]
    assert judged("condition_dialogue", finished) == (
        False,
        "No notify was lost this time: the Listener happened to be waiting first. Run it again: the order is luck.",
    )
    assert words("condition_dialogue", finished, variant="fixed") == [
        "The dialogue finished: each wait_for found its turn, even where the notify had come before the wait."
    ]
    assert judged("condition_dialogue", finished, variant="fixed") == (
        True,
        "The turn variable kept every notify: the dialogue finished.",
    )
    assert judged("condition_dialogue", {"dialogue": "hung"}, variant="fixed") == (
        None,
        "The dialogue ended as 'hung'.",
    )


# -- processes: fork, a pipe, a queue, a manager ----------------------------------------------


def test_a_fork_names_both_pids_and_how_the_child_ended():
    result = {"parent_pid": 100, "child_pid": 101, "child_exit_code": 0}
    assert words("fork", result) == [
        "os.fork() returned 101 in the parent (pid 100) and 0 in the child, a process of its own with pid 101.",
        "The parent's os.waitpid returned once the child had exited, with exit code 0.",
    ]
    assert judged("fork", result) == (
        True,
        "Two processes ran the same code: parent 100, child 101, which exited with 0.",
    )
    failed = {**result, "child_exit_code": 1}
    assert words("fork", failed)[1] == "The child exited with code 1, not 0: it failed (see its lane and the output)."
    assert judged("fork", failed) == (False, "The child (pid 101) exited with code 1: see its lane and the output.")
    assert judged("fork", {**result, "child_pid": 100})[0] is False


def test_a_pipe_whose_ends_were_closed_lets_both_processes_end():
    result = {"messages": 5, "sender_exitcode": 0, "receiver_exitcode": 0}
    assert words("mp_pipe", result, variant="fixed") == [
        "The receiver got EOFError after 5 messages: every copy of the sending end was closed, so both processes "
        "ended, with exit code 0."
    ]
    assert judged("mp_pipe", result, variant="fixed") == (
        True,
        "Every sending end was closed: the receiver got EOFError after 5 messages and both ended.",
    )
    for s, r in ((1, 0), (0, 1)):
        failed = {"messages": 5, "sender_exitcode": s, "receiver_exitcode": r}
        assert words("mp_pipe", failed) == [
            f"Exit codes: sender {s}, receiver {r}: a process failed (see its lane and the output)."
        ]
        assert judged("mp_pipe", failed) == (False, f"A process failed: sender exit code {s}, receiver {r}.")


def test_a_queue_between_two_processes_ends_both_on_mains_sentinel():
    result = {"items": 5, "producer_exitcode": 0, "consumer_exitcode": 0}
    assert words("mp_queue", result) == [
        "The producer put 5 items and exited; the consumer left its loop, which only main's None sentinel ends, and "
        "exited: both with exit code 0. The Output lists what it got."
    ]
    assert judged("mp_queue", result) == (
        True,
        "Both processes ended with exit code 0: the consumer left its loop on main's None sentinel (the Output "
        "lists each item it got).",
    )
    for p, c in ((1, 0), (0, -15)):
        failed = {"items": 5, "producer_exitcode": p, "consumer_exitcode": c}
        assert words("mp_queue", failed) == [
            f"Exit codes: producer {p}, consumer {c}: a process failed (see its lane and the output)."
        ]
        assert judged("mp_queue", failed) == (False, f"A process failed: producer exit code {p}, consumer {c}.")


def test_a_managers_dict_with_every_key_says_all_arrived():
    expected = {"w0": 0, "w1": 1, "w2": 4}
    result = {"expected": expected, "actual": dict(expected)}
    assert words("manager_dict", result) == [
        "All 3 keys reached the dict in the manager process: each worker's write was a request to it, and it did "
        "them all."
    ]
    assert judged("manager_dict", result) == (
        True,
        "All 3 workers' writes reached the one dict in the manager process.",
    )


def test_a_managers_dict_missing_keys_or_with_other_values_names_them():
    expected = {"w0": 0, "w1": 1, "w2": 4, "w3": 9}
    missing = {"expected": expected, "actual": {"w0": 0, "w2": 4}}
    assert words("manager_dict", missing) == ["2 of 4 keys reached the manager's dict; missing: w1, w3."]
    assert judged("manager_dict", missing) == (False, "Only 2 of 4 writes reached the manager's dict.")
    other = {"expected": expected, "actual": {"w0": 0, "w1": 1, "w2": 5, "w3": 9}}
    assert words("manager_dict", other) == ["4 of 4 keys reached the manager's dict; with other values: w2."]
    assert judged("manager_dict", other) == (False, "Only 3 of 4 writes reached the manager's dict.")
    both = {"expected": expected, "actual": {"w0": 1, "w2": 4, "w9": 0}}
    assert words("manager_dict", both) == [
        "2 of 4 keys reached the manager's dict; missing: w1, w3; with other values: w0."
    ]


# -- a re-entrant lock ------------------------------------------------------------------------


def test_an_rlock_counter_says_the_count_was_kept_and_what_each_update_cost():
    result = {"expected": 0, "actual": 0, "run_call_ms": 250.4}
    assert words("rlock_counter", result, workers=4, iterations=100_000) == [
        "No update was lost: the counter ended at the expected 0.",
        "The 400 000 updates took 250 ms, 0.63 µs each, the increments taking the lock twice (once in increment, "
        "once in nested_function).",
    ]
    assert judged("rlock_counter", result) == (
        True,
        "The RLock kept every update, taken twice by the same thread without deadlock: the counter ended at 0.",
    )


def test_an_rlock_counter_that_came_out_wrong_says_it_is_a_bug_in_the_lab():
    result = {"expected": 1_000_000, "actual": 999_999}
    wrong = "The counter ended at 999 999, not 1 000 000, even with the RLock: a bug in the lab."
    assert words("rlock_counter", result) == [wrong]
    assert judged("rlock_counter", result) == (False, wrong)


# -- a lock -----------------------------------------------------------------------------------


def test_a_lock_counter_says_the_count_was_kept_and_what_each_locked_update_cost():
    result = {"expected": 0, "actual": 0, "run_call_ms": 812.6}
    assert words("lock_counter", result, workers=4, iterations=100_000, window="none") == [
        "No update was lost: the counter ended at the expected 0, each of the 400 000 updates made while holding "
        "the lock (CPython 3.11, window=none).",
        "The 400 000 updates by 4 threads took 813 ms, 2.03 µs per update. Only one thread at a time can hold the "
        "lock: compare the cost per update at another workers value.",
    ]
    assert judged("lock_counter", result) == (True, "The lock kept every update: the counter ended at the expected 0.")
    assert len(words("lock_counter", {**result, "run_call_ms": 0})) == 1


def test_a_lock_counter_that_came_out_wrong_says_it_is_a_bug_in_the_lab():
    result = {"expected": 200_000, "actual": 199_998}
    assert words("lock_counter", result) == [
        "The counter ended at 199 998, not 200 000, even with the lock: that is a bug in the lab, not the lesson "
        "(please report it)."
    ]
    assert judged("lock_counter", result) == (
        False,
        "The counter ended at 199 998, not 200 000, even with the lock: a bug in the lab.",
    )


# -- threads: a subclass, a queue ---------------------------------------------------------------


def test_two_fetch_threads_done_after_about_the_longer_fetch_ran_at_the_same_time():
    result = {"total_ms": 4003.2, "longest_ms": 4000, "sum_ms": 6000}
    assert words("thread_subclass", result) == [
        "Both fetches were done after 4003 ms: about the longer one (4000 ms), not the sum (6000 ms): they ran at "
        "the same time."
    ]
    assert judged("thread_subclass", result) == (
        True,
        "The two threads ran at the same time: 4003 ms in all, not the 6000 ms of one after the other.",
    )


def test_fetches_overlapped_when_done_before_halfway_from_the_longer_to_the_sum_and_10_ms_apart():
    assert judged("thread_subclass", {"total_ms": 104.9, "longest_ms": 100, "sum_ms": 110})[0] is True
    assert judged("thread_subclass", {"total_ms": 105.0, "longest_ms": 100, "sum_ms": 110})[0] is None
    assert judged("thread_subclass", {"total_ms": 100.0, "longest_ms": 100, "sum_ms": 109})[0] is None


def test_a_fetch_too_short_for_the_overlap_to_show_is_said_so():
    result = {"total_ms": 4006.0, "longest_ms": 4000, "sum_ms": 4005}
    assert words("thread_subclass", result, duration1_ms=5, duration2_ms=4000) == [
        "Both fetches were done after 4006 ms, for fetches of 5 and 4000 ms: the shorter one is too short for the "
        "overlap to show (longest and sum are nearly the same)."
    ]
    assert judged("thread_subclass", result) == (
        None,
        "Done after 4006 ms: the shorter fetch is too short for the overlap to show.",
    )


def test_consumer_threads_left_blocked_on_the_queue_keep_the_program_from_ending():
    result = {"items": 10, "consumers_still_running": 3}
    assert words("queue_producer_consumer", result) == [
        'Queue.join returned: task_done() was called for each of the 10 items, so main printed "All tasks completed".',
        "3 consumers were still running then, blocked in Queue.get for items that will never come; they are not "
        "daemon threads, so the interpreter waits for them at exit, for ever: the run cannot end by itself.",
    ]
    assert judged("queue_producer_consumer", result) == (
        True,
        "Queue.join returned, but 3 consumers were still blocked in Queue.get: without a sentinel the program "
        "cannot end.",
    )
    assert words("queue_producer_consumer", {"items": 10, "consumers_still_running": 1})[1].startswith(
        "1 consumer was still running then"
    )


def test_consumer_threads_stopped_by_sentinels_let_the_program_end():
    result = {"items": 1, "consumers_still_running": 0}
    assert words("queue_producer_consumer", result, variant="fixed", workers=2) == [
        'Queue.join returned: task_done() was called for each of the 1 item, so main printed "All tasks completed".',
        "Every consumer (2) stopped at its None sentinel, so the program could end.",
    ]
    assert judged("queue_producer_consumer", result, variant="fixed") == (
        True,
        "Every consumer stopped at its sentinel after 1 item: the program could end.",
    )


# -- threads: start and join --------------------------------------------------------------------


def test_joined_threads_done_after_about_the_longest_task_overlapped():
    result = {"main_ms": 0.42, "total_ms": 3002.1, "run_call_ms": 3003.0}
    assert words("thread_start_join", result, join="yes", duration1_ms=1000, duration2_ms=3000) == [
        "Starting both threads took main 0.42 ms: start() does not wait for the tasks.",
        "Main's joins ended after 3002 ms: about the longest task (3000 ms), not the sum (4000 ms), so the two "
        "sleeps overlapped.",
    ]
    assert judged("thread_start_join", result, join="yes", duration1_ms=1000, duration2_ms=3000) == (
        True,
        "start() returned after 0.42 ms; the joins waited 3002 ms, less than the two sleeps added up: they overlapped.",
    )


def test_joins_that_took_nine_tenths_of_the_sum_or_more_cannot_tell_an_overlap():
    result = {"main_ms": 0.42, "total_ms": 3600.0}
    assert words("thread_start_join", result, join="yes", duration1_ms=1000, duration2_ms=3000)[1] == (
        "Main's joins ended after 3600 ms, for tasks of 1000 and 3000 ms: with a task this short, longest and sum "
        "are too close to show the overlap (give both tasks a second or more)."
    )
    assert judged("thread_start_join", result, join="yes", duration1_ms=1000, duration2_ms=3000) == (
        None,
        "start() returned after 0.42 ms; the joins waited 3600 ms: too short to tell overlapping from one after "
        "the other.",
    )
    short = {"main_ms": 0.42, "total_ms": 10.5}
    assert (
        "so the two sleeps overlapped"
        in words("thread_start_join", short, join="yes", duration1_ms=10, duration2_ms=10)[1]
    )
    assert "too close" in words("thread_start_join", short, join="yes", duration1_ms=9, duration2_ms=10)[1]


def test_daemon_threads_still_asleep_when_main_ended_were_cut_off():
    result = {"main_ms": 0.5, "run_call_ms": 0.8}
    assert words("thread_start_join", result, daemon="yes") == [
        "Starting both threads took main 0.50 ms: start() does not wait for the tasks.",
        "Main's code ended after 0.80 ms, while a task had 2000 ms to sleep: nothing waits for daemon threads, so "
        'the process exited and a task still asleep was cut off (dashed outline, no "Finished").',
    ]
    assert judged("thread_start_join", result, daemon="yes") == (
        True,
        "start() returned after 0.50 ms and main did not join: the daemon threads were cut off at exit.",
    )


def test_threads_not_joined_were_waited_for_by_the_interpreter_at_exit():
    result = {"main_ms": 0.5}
    assert words("thread_start_join", result, duration2_ms=3000)[1] == (
        "Main's code ended after 0.50 ms, while a task had 3000 ms to sleep: the interpreter waited for it at exit "
        '("Thread.join (interpreter exit)" on main).'
    )
    assert judged("thread_start_join", result) == (
        True,
        "start() returned after 0.50 ms and main did not join: the interpreter waited for them at exit.",
    )


def test_tasks_no_longer_than_main_took_cannot_show_main_ending_first():
    result = {"main_ms": 0.3, "run_call_ms": 1.0}
    assert words("thread_start_join", result, duration1_ms=0, duration2_ms=1)[1] == (
        "Main's code took 1.00 ms, no shorter than the tasks' sleeps (0 and 1 ms): they may have finished first; "
        "give them longer sleeps to see main end while they still sleep."
    )
    assert judged("thread_start_join", result, duration1_ms=0, duration2_ms=1) == (
        None,
        "Starting the threads took main 0.30 ms, as long as a task: too short a task to show that start() does not "
        "wait.",
    )
    assert judged("thread_start_join", {"main_ms": 1.0}, duration1_ms=1, duration2_ms=5)[0] is None
    assert judged("thread_start_join", {"main_ms": 0.99}, duration1_ms=1, duration2_ms=5)[0] is True


# -- threads: polling a shared list -------------------------------------------------------------


def test_tutorial_pollers_that_gave_up_say_what_was_left_and_the_looks_wasted_before_and_after():
    result = {"wasted_polls": 45, "wasted_after_producer_done": 12, "items_left": 4, "wasted_per_poller": {}}
    assert words("shared_list_polling", result) == [
        "4 of 10 items were never processed: the pollers gave up after give_up_ms=6000 before taking them (the "
        "producer sleeps 2000 ms first).",
        "45 looks at the list found it empty: 33 while the producer had not finished, 12 after it had appended "
        "every item, when none would ever come again.",
        "Those last ones are the polls the tutorial's `while True` would go on making forever; here they stopped at "
        "give_up_ms.",
    ]
    assert judged("shared_list_polling", result) == (
        True,
        "Polling lost work: 4 items were never processed, after 45 empty looks.",
    )
    one = {"wasted_polls": 1, "wasted_after_producer_done": 0, "items_left": 1}
    assert judged("shared_list_polling", one) == (
        True,
        "Polling lost work: 1 item was never processed, after 1 empty look.",
    )


def test_tutorial_pollers_that_took_every_item_say_only_the_looks_wasted():
    result = {"wasted_polls": 20, "wasted_after_producer_done": 0, "items_left": 0}
    assert words("shared_list_polling", result) == [
        "20 looks at the list found it empty: 20 while the producer had not finished, 0 after it had appended every "
        "item, when none would ever come again."
    ]
    assert judged("shared_list_polling", result) == (
        True,
        "Polling wasted 20 looks at an empty list; every item was processed.",
    )
    assert judged("shared_list_polling", {"wasted_polls": 0, "items_left": 0}) == (
        False,
        "No look was wasted this time: every poll found an item.",
    )


def test_fixed_pollers_stop_at_their_sentinels():
    result = {"wasted_polls": 21, "wasted_after_producer_done": 3, "items_left": 2}
    assert words("shared_list_polling", result, variant="fixed") == [
        "21 looks at the list found it empty: 18 while the producer had not finished, 3 after it had appended every "
        "item.",
        "The fixed pollers stopped at their sentinels, which main put after the producer was done: 3 looks came "
        "between the two.",
    ]


# -- threads: a semaphore -----------------------------------------------------------------------


def test_a_semaphore_whose_generator_took_permits_woke_crawlers_out_of_page_order():
    result = {
        "permits": 3,
        "max_concurrent": 3,
        "generator_took_permits": 10,
        "crawl_order": ["page0", "page2", "page1"],
    }
    assert words("semaphore_crawler", result) == [
        "The most permits in use at once: 3, of 3: the limit held.",
        "The URLGenerator took a permit 10 times, once per crawler it started.",
        "The crawlers got their permits out of page order: page0, page2, page1: the generator's releases woke "
        "waiting crawlers that then lost the permit to it.",
    ]
    assert judged("semaphore_crawler", result) == (
        True,
        "The semaphore never let more than 3 in at once (it has 3 permits).",
    )


def test_a_semaphore_says_in_what_order_pages_got_their_permits_counting_pages_as_numbers():
    result = {"permits": 3, "max_concurrent": 3, "generator_took_permits": 0, "crawl_order": ["page9", "page10"]}
    assert words("semaphore_crawler", result, variant="fixed")[1:] == ["The crawlers got their permits in page order."]
    result = {**result, "crawl_order": ["page1", "page0"]}
    assert words("semaphore_crawler", result, variant="fixed")[1:] == [
        "The crawlers got their permits out of page order: page1, page0: a released permit does not always go to "
        "the thread that waited longest."
    ]


def test_a_semaphore_not_used_to_its_limit_says_why():
    def unused(most: int, **params: Any) -> str:
        result = {"permits": params["permits"], "max_concurrent": most, "generator_took_permits": 0, "crawl_order": []}
        return words("semaphore_crawler", result, **params)[1]

    assert unused(1, variant="fixed", permits=10, urls=1, crawl_ms=50) == (
        "Not every permit was used: there were only 1 crawler."
    )
    assert unused(2, permits=5, urls=4, crawl_ms=0) == (
        "Not every permit was used: with crawl_ms=0 each crawler let go almost as soon as it got in."
    )
    assert unused(2, permits=6, urls=4, crawl_ms=0) == (
        "Not every permit was used: there were only 4 crawlers and the generator; with crawl_ms=0 each crawler let "
        "go almost as soon as it got in."
    )
    assert unused(2, variant="fixed", permits=5, urls=4) == "Not every permit was used: there were only 4 crawlers."
    assert unused(2, variant="fixed", permits=3, urls=10) == "Not every permit was used."


def test_a_semaphore_that_let_more_in_than_its_permits_is_a_bug_in_the_lab():
    result = {"permits": 3, "max_concurrent": 4, "generator_took_permits": 0, "crawl_order": []}
    assert words("semaphore_crawler", result)[0] == "4 permits were in use at once, more than 3: a bug in the lab."
    assert judged("semaphore_crawler", result) == (
        False,
        "4 threads held a permit at once, more than 3: a bug in the lab.",
    )


# -- a thread pool ------------------------------------------------------------------------------


def test_a_pools_results_collected_in_submit_order_say_which_sat_ready_behind_an_earlier_one():
    result = {
        "order": [0, 1, 2],
        "started_units": [0.0, 0.0, 1.0],
        "ready_units": [3.01, 1.0, 3.02],
        "received_units": [3.01, 3.01, 3.02],
    }
    assert words("thread_pool", result) == [
        "Main received the results in the order [0, 1, 2]; the fetches ended in the order [1, 0, 2] (at 1.00, 3.01, "
        "3.02 units).",
        "With 2 workers, task 2 started only when a thread was free (at 1.00 units).",
        "Ready before main took it: task 1 was ready at 1.00 units, received at 3.01, behind an earlier task in "
        "submit order.",
    ]
    assert judged("thread_pool", result) == (
        True,
        "Main got the results in the order [0, 1, 2], not the order they were ready in [1, 0, 2]: result waits in "
        "submit order.",
    )


def test_a_pools_results_taken_as_they_completed_on_one_worker():
    result = {
        "order": [0, 1, 2],
        "started_units": [0.0, 3.0, 4.0],
        "ready_units": [3.0, 4.0, 6.0],
        "received_units": [3.01, 4.01, 6.01],
    }
    assert words("thread_pool", result, workers=1, collect="as_completed") == [
        "Main received the results in the order [0, 1, 2]; the fetches ended in the order [0, 1, 2] (at 3.00, 4.00, "
        "6.00 units).",
        "With 1 worker, tasks 1, 2 started only when a thread was free (at 3.00, 4.00 units).",
        "Main received every result as soon as it was ready (within a tenth of a unit).",
    ]
    assert judged("thread_pool", result, workers=1, collect="as_completed") == (
        True,
        "Main got each result as it was ready, in the order [0, 1, 2].",
    )


def test_a_pool_with_a_thread_for_each_task_in_submit_order_says_that_order_was_also_completion_order():
    result = {"order": [0, 1, 2], "started_units": [0.0, 0.0, 0.0], "ready_units": [1.0, 2.0, 3.0]}
    result["received_units"] = [1.0, 2.0, 3.0]
    assert words("thread_pool", result, workers=3, collect="map", delays="1,2,3")[1:] == [
        "Main received every result as soon as it was ready (within a tenth of a unit): in this run submit order "
        "was also completion order."
    ]
    assert words("thread_pool", result, workers=2, collect="map", delays="1,2,3")[1:] == [
        "Main received every result as soon as it was ready (within a tenth of a unit): in this run submit order "
        "was also completion order."
    ]  # no task started late: every one started before the first was ready


def test_a_task_started_as_the_first_ended_waited_for_a_free_thread():
    def late(started: float) -> list[str]:
        result = {"order": [1, 0], "ready_units": [2.0, 1.0], "received_units": [2.0, 1.0]}
        return words("thread_pool", {**result, "started_units": [started, 0.0]}, workers=1, collect="as_completed")

    assert late(0.95)[1] == "With 1 worker, task 0 started only when a thread was free (at 0.95 units)."
    assert late(0.94)[1].startswith("Main received every result as soon as it was ready")


def test_a_result_counts_as_kept_waiting_past_a_tenth_of_a_unit_or_5_ms():
    result = {
        "order": [1, 2, 0],
        "started_units": [0.0, 0.0, 0.0],
        "ready_units": [3.0, 1.0, 2.0],
        "received_units": [3.0, 1.6, 2.4],
    }
    assert words("thread_pool", result, workers=3, collect="as_completed", delay_ms=10)[1] == (
        "Ready before main took it: task 1 was ready at 1.00 units, received at 1.60."  # 5 ms: half a unit here
    )
    assert words("thread_pool", result, workers=3, collect="as_completed", delay_ms=1000)[1] == (
        "Ready before main took it: task 1 was ready at 1.00 units, received at 1.60; task 2 was ready at 2.00 "
        "units, received at 2.40."
    )
    assert judged("thread_pool", result, collect="as_completed") == (
        True,
        "Main got each result as it was ready, in the order [1, 2, 0].",
    )


# -- a process pool's starmap -------------------------------------------------------------------

STARMAPPED = [f"Task {i} completed in {i % 2 + 1} seconds" for i in range(5)]


def test_starmap_results_in_task_order_and_its_time_against_the_best_schedule():
    result = {"results": STARMAPPED, "starmap_ms": 5123.4}
    assert words("process_pool_starmap", result) == [
        "Main got the results in task order, as starmap promises.",
        "Pool.starmap took 5.12 units (5123 ms) for 7 units of work: handing each task to the first free of 2 "
        "workers, they fit in 4 units; the other 1.12 went to starting the workers (spawn) and passing tasks and "
        "results between processes, which this run does not tell apart.",
    ]
    assert judged("process_pool_starmap", result) == (
        True,
        "The results came back in task order; starmap took 5.12 units, the tasks' best schedule 4.",
    )


def test_starmap_hands_tasks_out_in_chunks_of_a_quarter_per_worker_rounded_up():
    results = [f"Task {i} completed in {i % 2 + 1} seconds" for i in range(20)]
    said = words(
        "process_pool_starmap", {"results": results, "starmap_ms": 31_000.0}, workers=1, tasks=20, unit_ms=1000
    )
    assert said[1] == (
        "Pool.starmap took 31.00 units (31000 ms) for 30 units of work: handing the tasks out 5 at a time "
        "(starmap's chunksize: 20 tasks over 4 × 1 worker, rounded up), each chunk to the first free of 1 worker, "
        "they fit in 30 units; the other 1.00 went to starting the workers (spawn) and passing tasks and results "
        "between processes, which this run does not tell apart."
    )
    results = [f"Task {i} completed in {i % 2 + 1} seconds" for i in range(9)]
    said = words("process_pool_starmap", {"results": results, "starmap_ms": 700.0}, tasks=9, unit_ms=100)
    assert said[1].startswith(
        "Pool.starmap took 7.00 units (700 ms) for 13 units of work: handing the tasks out 2 at a time (starmap's "
        "chunksize: 9 tasks over 4 × 2 workers, rounded up), each chunk to the first free of 2 workers, they fit in "
        "7 units; the other 0.00 went"
    )
    assert judged("process_pool_starmap", {"results": results, "starmap_ms": 700.0}, tasks=9, unit_ms=100) == (
        True,
        "The results came back in task order; starmap took 7.00 units, the tasks' best schedule 7.",
    )


def test_starmap_results_out_of_task_order_are_named():
    result = {"results": [STARMAPPED[1], STARMAPPED[0], STARMAPPED[2]]}
    assert words("process_pool_starmap", result, tasks=3) == ["Main got the results in task order, no: [1, 0, 2]."]
    assert judged("process_pool_starmap", result, tasks=3) == (False, "The results came out of task order: [1, 0, 2].")
    assert judged("process_pool_starmap", {"results": STARMAPPED}) == (True, "The results came back in task order.")


# -- I/O on threads and processes (and experiments/harness/speedup.py, which it shares) --------------

IO_RUN = {
    "serial_ms": 10013.7,
    "thread_ms": 3005.2,
    "process_ms": 3248.6,
    "thread_speedup": 3.33,
    "process_speedup": 3.08,
    "ideal_speedup": 3.33,
}


def phases(**measured: Result) -> Result:
    """A run's CPU budget as findings() get it (app/model/findings.py cpu_data), with these phases' figures."""
    return {"cores": 2, "phases": {name.replace("_", " "): figures for name, figures in measured.items()}}


def test_io_pools_against_serial_and_the_process_pools_start_up_measured():
    cpu = phases(process_pool={"first_task_ms": 200.0, "others_busy_cores": 0.1, "resolution_cores": 0.05})
    assert words("io_threads_vs_processes", IO_RUN, cpu=cpu) == [
        "Serial on main: 10014 ms. Thread pool: 3005 ms, 3.33× as fast. Process pool: 3249 ms, 3.08× as fast (with "
        "start_method=spawn). At best 3.33×: 10 tasks in 3 rounds of up to 4.",
        "The threads reached 100% of the ideal: sleeping threads wait together.",
        "The process pool took 243 ms longer than the thread pool: its first task began only 200 ms into it, "
        "starting its processes (spawn), which threads need not do.",
        "Processes were 0.92× as fast as threads (process_speedup / thread_speedup), i.e. slower.",
    ]
    assert judged("io_threads_vs_processes", IO_RUN, cpu=cpu) == (
        True,
        "Threads were 3.33× as fast as serial (processes 3.08×): waiting on I/O, the GIL does not hold threads back.",
    )


def test_io_process_pool_slower_by_more_than_twice_its_start_up_cannot_say_why():
    late = phases(process_pool={"first_task_ms": 121.6})  # under half the 243.4 ms more it took
    assert words("io_threads_vs_processes", IO_RUN, cpu=late)[2] == (
        "The process pool took 243 ms longer than the thread pool (its first task began 122 ms into it): the run "
        "cannot tell how much of it was starting its processes."
    )
    even = {**IO_RUN, "thread_ms": 3000.0, "process_ms": 3243.0}  # 243 ms more: 121.5 is half of it
    assert (
        "its first task began only 122 ms into it"
        in words("io_threads_vs_processes", even, cpu=phases(process_pool={"first_task_ms": 121.5}))[2]
    )
    assert (
        "(its first task began 121 ms into it)"
        in words("io_threads_vs_processes", even, cpu=phases(process_pool={"first_task_ms": 121.4}))[2]
    )
    assert words("io_threads_vs_processes", IO_RUN)[2] == (
        "The process pool took 243 ms longer than the thread pool: the run cannot tell how much of it was starting "
        "its processes."
    )
    faster = words("io_threads_vs_processes", {**IO_RUN, "process_ms": 3005.2, "process_speedup": 3.33})
    assert faster[2] == "Processes were 1.00× as fast as threads (process_speedup / thread_speedup)."


def test_a_serial_run_too_short_for_a_speedup_compares_the_pools_by_their_times():
    """fib(15) in 0.1 ms: each speedup rounds to 0.00 (a CI run's findings divided by it and said nothing)."""
    tiny = {
        "serial_ms": 0.1,
        "thread_ms": 36.1,
        "process_ms": 27.5,
        "thread_speedup": 0.0,
        "process_speedup": 0.0,
        "ideal_speedup": 1,
    }
    said = words("cpu_threads_vs_processes", tiny, workers=1, tasks=1, first=15, start_method="fork")
    assert said[-1] == "Processes were 1.31× as fast as threads (the thread pool's time / the process pool's)."
    slower = words("cpu_threads_vs_processes", {**tiny, "process_ms": 40.0}, workers=1, tasks=1, start_method="fork")
    assert slower[-1] == (
        "Processes were 0.90× as fast as threads (the thread pool's time / the process pool's), i.e. slower."
    )


def test_io_threads_short_of_four_fifths_of_the_ideal_blame_starting_threads():
    said = words("io_threads_vs_processes", {**IO_RUN, "thread_speedup": 2.0}, duration_ms=50)
    assert said[1] == (
        "The threads reached only 60% of the ideal: with 50 ms sleeps, starting threads and handing back results is "
        "a visible share of the time."
    )
    assert words("io_threads_vs_processes", {**IO_RUN, "thread_speedup": 2.0, "ideal_speedup": 2.5})[1] == (
        "The threads reached 80% of the ideal: sleeping threads wait together."
    )
    assert words("io_threads_vs_processes", {**IO_RUN, "thread_speedup": 2.0, "ideal_speedup": 2})[0].endswith(
        "At best 2×: 10 tasks in 3 rounds of up to 4."
    )


def test_io_threads_not_faster_by_half_the_ideal_or_one_and_a_half_say_what_the_run_measured():
    why = "the run does not measure what did (starting the threads and handing back results are what else takes time)"
    slow = {**IO_RUN, "thread_speedup": 1.2}
    assert judged("io_threads_vs_processes", slow) == (
        False,
        "Threads were only 1.20× as fast as serial this time: what other programs took of the cores meanwhile was "
        "not measured, so the run cannot tell why.",
    )
    loaded = phases(thread_pool={"others_busy_cores": 0.8, "resolution_cores": 0.1})
    assert judged("io_threads_vs_processes", slow, cpu=loaded)[1].endswith(
        ": other programs used 0.8 cores while the thread pool ran."
    )
    idle = phases(thread_pool={"others_busy_cores": 0.2, "resolution_cores": 0.1})
    assert judged("io_threads_vs_processes", slow, cpu=idle)[1].endswith(
        f": other programs used only 0.2 cores meanwhile, so not they: {why}."
    )
    assert judged("io_threads_vs_processes", {**IO_RUN, "thread_speedup": 1.5})[0] is True
    assert judged("io_threads_vs_processes", {**IO_RUN, "thread_speedup": 1.0, "ideal_speedup": 2})[0] is True
    assert judged("io_threads_vs_processes", {**IO_RUN, "thread_speedup": 0.99, "ideal_speedup": 2})[0] is False


def test_io_with_one_task_says_neither_pool_could_overlap_and_what_the_run_can_tell():
    result = {
        "serial_ms": 10.2,
        "thread_ms": 12.8,
        "process_ms": 124.4,
        "thread_speedup": 0.8,
        "process_speedup": 0.08,
        "ideal_speedup": 1,
    }
    assert words("io_threads_vs_processes", result, workers=16, tasks=1, duration_ms=10) == [
        "Serial on main: 10.2 ms. Thread pool: 12.8 ms, 0.80× as fast. Process pool: 124 ms, 0.08× as fast (with "
        "start_method=spawn). At best 1×: 1 task in 1 round of up to 16.",
        "With one worker, or one task, neither pool can run two tasks at once; what other programs took was not "
        "measured for every phase, so the run cannot tell the pools' overhead from their load.",
        "Processes were 0.10× as fast as threads (process_speedup / thread_speedup), i.e. slower.",
    ]
    assert judged("io_threads_vs_processes", result) == (
        None,
        "With one worker, or one task, neither pool could wait for two tasks at once.",
    )


def test_one_at_a_time_pools_faster_than_serial_blame_the_serial_run():
    from experiments.harness.speedup import one_at_a_time

    start = "With one worker, or one task, neither pool can run two tasks at once, yet "
    assert one_at_a_time(1.2, 1.1, None) == (
        start + "both pools were faster than serial: the serial run itself was slower, and the run cannot tell why."
    )
    loaded = phases(serial={"others_busy_cores": 0.6, "resolution_cores": 0.1})
    assert one_at_a_time(1.2, 1.0, loaded) == (
        start + "the thread pool was faster than serial: other programs used 0.6 cores during the serial run, which "
        "slowed it."
    )
    assert one_at_a_time(1.05, 1.06, None).startswith(start + "the process pool was faster")


def test_one_at_a_time_pools_no_faster_than_serial_say_whether_load_or_overhead():
    from experiments.harness.speedup import one_at_a_time

    free = {"others_busy_cores": 0.1, "resolution_cores": 0.05}
    assert one_at_a_time(1.0, 1.05, phases(serial=free, thread_pool=free, process_pool=free)) == (
        "With one worker, or one task, neither pool can run two tasks at once, and other programs left the cores "
        "free: what the pools took beyond serial is their overhead."
    )
    loaded = phases(serial=free, thread_pool={"others_busy_cores": 0.5, "resolution_cores": 0.1}, process_pool=free)
    assert one_at_a_time(1.0, 0.9, loaded) == (
        "With one worker, or one task, neither pool can run two tasks at once; other programs loaded the cores "
        "during some phases, so the run cannot tell the pools' overhead from their load."
    )
    assert one_at_a_time(1.0, 0.9, phases(serial=free, thread_pool=free)).endswith(
        "what other programs took was not measured for every phase, so the run cannot tell the pools' overhead "
        "from their load."
    )


def test_other_programs_load_is_named_from_0_3_cores_and_beyond_what_the_ticks_can_tell():
    from experiments.harness.speedup import load_singled_out, others_during, phase_budget

    def load(others: float, resolution: float) -> float | None:
        return load_singled_out(phases(serial={"others_busy_cores": others, "resolution_cores": resolution}), "serial")

    assert load(0.3, 0.1) == 0.3 and load(0.29, 0.1) is None
    assert load(0.4, 0.4) == 0.4 and load(0.4, 0.45) is None  # measured, but no more than it may be off by
    assert others_during(phases(serial={"others_busy_cores": 1.0, "resolution_cores": 0.49}), "serial") == 1.0
    assert others_during(phases(serial={"others_busy_cores": 1.0, "resolution_cores": 0.5}), "serial") is None
    assert others_during(phases(serial={"others_busy_cores": 0.2}), "serial") == 0.2
    assert phase_budget(None, "serial") == {} and phase_budget({"phases": None}, "serial") == {}
    assert phase_budget(phases(serial={"first_task_ms": 3.0}), "serial") == {"first_task_ms": 3.0}
    assert phase_budget(phases(serial={"first_task_ms": 3.0}), "thread pool") == {}


def test_a_threads_vs_processes_report_gives_times_in_ms_and_speedups_over_serial():
    from experiments.harness.speedup import gil_enabled, report

    assert report(10.0, 2.5, 4.00004, 4) == {
        "serial_ms": 10000.0,
        "thread_ms": 2500.0,
        "process_ms": 4000.0,
        "thread_speedup": 4.0,
        "process_speedup": 2.5,
        "ideal_speedup": 4,
        "gil_enabled": gil_enabled(),
    }
    assert report(1.23456, 0.61728, 2.46912, 2)["serial_ms"] == 1234.6


def test_the_gil_is_on_unless_a_free_threaded_build_says_it_is_off():
    import sys

    from experiments.harness.speedup import gil_enabled

    is_enabled = getattr(sys, "_is_gil_enabled", None)
    assert gil_enabled() is (True if is_enabled is None else bool(is_enabled()))


# -- CPU-bound on threads and processes ---------------------------------------------------------

CPU_RUN = {
    "serial_ms": 3753.8,
    "thread_ms": 3800.2,
    "process_ms": 2100.4,
    "thread_speedup": 0.99,
    "process_speedup": 1.79,
    "ideal_speedup": 2,
    "gil_enabled": True,
}


def test_cpu_bound_threads_under_the_gil_no_faster_than_serial_and_processes_faster():
    assert words("cpu_threads_vs_processes", CPU_RUN) == [
        "Serial on main: 3754 ms. Thread pool: 3800 ms, 0.99× as fast. Process pool: 2100 ms, 1.79× as fast (with "
        "start_method=spawn). At best 2×: min(workers, cores, tasks) tasks at once.",
        "The threads were no faster than serial: the GIL let one run Python at a time.",
        "Processes were 1.81× as fast as threads (process_speedup / thread_speedup).",
    ]
    assert judged("cpu_threads_vs_processes", CPU_RUN) == (
        True,
        "Processes were 1.79× as fast as serial, threads 0.99×: the GIL held the threads back.",
    )


def test_cpu_bound_process_pool_short_of_three_quarters_of_the_ideal_says_why_as_far_as_measured():
    slower = words("cpu_threads_vs_processes", {**CPU_RUN, "process_ms": 4100.0, "process_speedup": 0.92})
    assert slower[2] == (
        "The process pool was slower than serial: 2223 ms beyond the ideal, other programs' use was not measured: "
        "neither accounts for it, and the run cannot tell what did (tasks of unequal length, each fib(n + 1) about "
        "1.6 times fib(n), may have left workers idle)."
    )
    short = words("cpu_threads_vs_processes", {**CPU_RUN, "process_speedup": 1.49})
    assert short[2].startswith("The process pool was faster than serial but short of the ideal: ")
    assert words("cpu_threads_vs_processes", {**CPU_RUN, "process_speedup": 1.0})[2].startswith(
        "The process pool was faster than serial but short of the ideal: "
    )
    assert len(words("cpu_threads_vs_processes", {**CPU_RUN, "process_speedup": 1.5})) == 3


def test_a_process_pool_whose_first_task_began_late_blames_starting_the_processes():
    from experiments.cpu_threads_vs_processes import process_pool_shortfall

    result = {"serial_ms": 4000.0, "process_ms": 3000.0, "ideal_speedup": 2}  # 1000 ms past the ideal 2000

    def why(process_pool: dict[str, float], cores: int = 2) -> str:
        return str(process_pool_shortfall(result, {"cores": cores, "phases": {"process pool": process_pool}}))

    free = {"others_busy_cores": 0.1, "resolution_cores": 0.05}
    assert why({"first_task_ms": 600.0, **free}) == (
        "its first task began only 600 ms into it, starting the processes: 60% of the 1000 ms it took beyond the ideal"
    )
    assert why({"first_task_ms": 500.0, **free}).startswith("its first task began only 500 ms into it")
    assert why({"first_task_ms": 1500.0, **free}).endswith(": 100% of the 1000 ms it took beyond the ideal")
    assert why({"first_task_ms": 600.0, "others_busy_cores": 0.8, "resolution_cores": 0.1}, 4) == (
        "its first task began only 600 ms into it, starting the processes: 60% of the 1000 ms it took beyond the "
        "ideal; and other programs used 0.8 of 4 cores while it ran"
    )
    assert why({"first_task_ms": 400.0, **free}) == (
        "1000 ms beyond the ideal, its first task began 400 ms into it, other programs used 0.1 cores meanwhile: "
        "neither accounts for it, and the run cannot tell what did (tasks of unequal length, each fib(n + 1) about "
        "1.6 times fib(n), may have left workers idle)"
    )
    assert why({"others_busy_cores": 0.5, "resolution_cores": 0.1}) == "other programs used 0.5 of 2 cores while it ran"
    assert str(process_pool_shortfall({**result, "process_ms": 1900.0}, None)).startswith(
        "-100.00 ms beyond the ideal, other programs' use was not measured"
    )


def test_threads_faster_than_one_gil_allows_blame_the_serial_run():
    from experiments.cpu_threads_vs_processes import _threads

    assert _threads(1.15, True, 0.3, {}) == (
        "The threads were 1.15× as fast as serial, more than one GIL allows: other programs used 0.3 cores during "
        "the serial run, which slowed it."
    )
    assert _threads(1.2, True, 0.29, {}) == (
        "The threads were 1.20× as fast as serial, more than one GIL allows; the serial run was slower than it should "
        "have been (other programs used 0.3 cores during it)."
    )
    assert _threads(1.2, True, None, {}) == (
        "The threads were 1.20× as fast as serial, more than one GIL allows; the serial run was slower than it should "
        "have been."
    )
    assert (
        _threads(1.14, True, 0.9, {}) == "The threads were no faster than serial: the GIL let one run Python at a time."
    )


def test_threads_without_a_gil_say_how_long_their_strips_ran_side_by_side():
    from experiments.cpu_threads_vs_processes import _threads

    pool = {"together_ms": 812.4, "start_ms": 100.0, "end_ms": 1100.0}
    assert _threads(1.8, False, None, pool) == (
        "The threads were 1.80× as fast as serial on this free-threaded build, running without a GIL: they ran "
        "Python side by side (by their on-CPU strips, two or more were on CPUs at once for at least 812 ms of the "
        "pool's 1000 ms)."
    )
    assert _threads(1.15, False, None, {}) == (
        "The threads were 1.15× as fast as serial on this free-threaded build, running without a GIL: they ran "
        "Python side by side."
    )
    assert _threads(1.1, False, None, {"together_ms": 0.0}) == (
        "The threads were 1.10× as fast as serial although this free-threaded build ran without a GIL (by their "
        "on-CPU strips, two or more were on CPUs at once for at least 0 ms): the run cannot tell what kept them from "
        "running Python side by side."
    )
    assert _threads(1.1, False, None, {"together_ms": 10.0, "end_ms": 500.0}).endswith(
        "at least 10 ms of the pool's 500 ms): the run cannot tell what kept them from running Python side by side."
    )
    assert _threads(1.1, False, None, {"together_ms": 10.0, "start_ms": 500.0}).endswith(
        "at least 10 ms): the run cannot tell what kept them from running Python side by side."
    )


def test_cpu_bound_verdicts_at_their_bounds():
    assert judged("cpu_threads_vs_processes", {**CPU_RUN, "ideal_speedup": 1}) == (
        None,
        "With one worker, or one task, neither pool could run two tasks at once.",
    )
    free_threaded = {**CPU_RUN, "gil_enabled": False, "thread_speedup": 1.15, "process_speedup": 1.7}
    assert judged("cpu_threads_vs_processes", free_threaded) == (
        True,
        "Without a GIL, threads were 1.15× as fast as serial, processes 1.70×.",
    )
    assert judged("cpu_threads_vs_processes", {**free_threaded, "thread_speedup": 1.14})[0] is False
    assert judged("cpu_threads_vs_processes", {**CPU_RUN, "process_speedup": 1.15, "thread_speedup": 1.0})[0] is True
    assert judged("cpu_threads_vs_processes", {**CPU_RUN, "process_speedup": 1.14, "thread_speedup": 0.5})[0] is False
    close = {**CPU_RUN, "process_ms": 2100.0, "process_speedup": 1.2, "thread_speedup": 1.1}
    assert judged("cpu_threads_vs_processes", close) == (
        False,
        "Processes were not faster this time (1.20× serial, threads 1.10×): 223 ms beyond the ideal, other "
        "programs' use was not measured: neither accounts for it, and the run cannot tell what did (tasks of "
        "unequal length, each fib(n + 1) about 1.6 times fib(n), may have left workers idle).",
    )


# -- CPU-bound on subinterpreters ---------------------------------------------------------------

INTERPRETERS_RUN = {
    "serial_ms": 800.0,
    "thread_ms": 790.0,
    "interpreter_ms": 470.0,
    "process_ms": 520.0,
    "thread_speedup": 1.01,
    "interpreter_speedup": 1.7,
    "process_speedup": 1.54,
    "ideal_speedup": 2,
    "interpreters": 2,
    "interpreter_pool": "backport",
    "gil_enabled": True,
}


def test_subinterpreters_ran_python_side_by_side_where_threads_could_not():
    cpu = phases(
        interpreter_pool={"together_ms": 401.2, "start_ms": 1600.0, "end_ms": 2070.0, "first_task_ms": 35.0},
        process_pool={"first_task_ms": 180.0},
    )
    assert words("interpreters_cpu", INTERPRETERS_RUN, cpu=cpu) == [
        "Serial on main: 800 ms. Thread pool: 790 ms, 1.01× as fast. Interpreter pool: 470 ms, 1.70× as fast (2 "
        "subinterpreters ran its tasks, InterpreterPoolExecutor of the interpreters-pep-734 backport). Process pool: "
        "520 ms, 1.54× as fast (with start_method=spawn). At best 2×: min(workers, cores, tasks) tasks at once.",
        "The interpreter pool was 1.70× as fast as serial where the threads, under one GIL, were no faster than "
        "serial: each subinterpreter has its own GIL, so their threads ran Python side by side (by their on-CPU "
        "strips, two or more were on CPUs at once for at least 401 ms of the pool's 470 ms), in one process.",
        "The interpreter pool's first task began 35.0 ms into it, the process pool's 180 ms (with spawn): an "
        "interpreter started sooner than a process.",
    ]
    assert judged("interpreters_cpu", INTERPRETERS_RUN, cpu=cpu) == (
        True,
        "Subinterpreters were 1.70× as fast as serial, threads 1.01×: one GIL per interpreter let them run Python "
        "side by side.",
    )
    same = phases(interpreter_pool={"first_task_ms": 180.0}, process_pool={"first_task_ms": 180.0})
    assert words("interpreters_cpu", INTERPRETERS_RUN, cpu=same)[2].endswith(
        "(with spawn): this time the interpreters were not quicker to start than the processes."
    )
    assert len(words("interpreters_cpu", INTERPRETERS_RUN, cpu=phases(interpreter_pool={"first_task_ms": 1.0}))) == 2


def test_subinterpreters_no_faster_than_serial_say_what_the_run_measured():
    slow = {**INTERPRETERS_RUN, "interpreter_ms": 850.0, "interpreter_speedup": 0.94}
    assert words("interpreters_cpu", slow)[1] == (
        "The interpreter pool was 0.94× as fast as serial, and the threads, under one GIL, were no faster than "
        "serial: what other programs took of the cores meanwhile was not measured, so the run cannot tell why."
    )
    assert judged("interpreters_cpu", slow) == (
        False,
        "Subinterpreters were not faster this time (0.94× serial, threads 1.01×): what other programs took of the "
        "cores meanwhile was not measured, so the run cannot tell why.",
    )
    idle = phases(interpreter_pool={"others_busy_cores": 0.1, "resolution_cores": 0.05, "together_ms": 3.0})
    assert words("interpreters_cpu", slow, cpu=idle)[1] == (
        "The interpreter pool was 0.94× as fast as serial, and the threads, under one GIL, were no faster than serial "
        "(by their on-CPU strips, two or more were on CPUs at once for at least 3 ms): other programs used only 0.1 "
        "cores meanwhile, so not they: starting each interpreter and importing the task's module in it takes time, "
        "more than short tasks can pay back."
    )
    assert judged("interpreters_cpu", slow, cpu=idle)[1].endswith(
        "so not they: starting the interpreters may have cost more than the tasks gained."
    )
    fast_threads = {**INTERPRETERS_RUN, "thread_speedup": 1.6}
    assert words("interpreters_cpu", fast_threads)[1].startswith(
        "The interpreter pool was 1.70× as fast as serial, and the threads were 1.60×: "
    )


def test_subinterpreters_and_threads_on_a_build_without_a_gil():
    free = {**INTERPRETERS_RUN, "gil_enabled": False, "thread_speedup": 1.6}
    assert words("interpreters_cpu", free)[1] == (
        "The interpreter pool was 1.70× as fast as serial where the threads were 1.60×, on this build without a GIL: "
        "each subinterpreter has its own GIL, so their threads ran Python side by side, in one process."
    )
    assert judged("interpreters_cpu", free) == (
        True,
        "Without a GIL, threads were 1.60× as fast as serial, subinterpreters 1.70×.",
    )
    assert judged("interpreters_cpu", {**free, "interpreter_speedup": 1.14})[0] is False
    assert words("interpreters_cpu", {**free, "thread_speedup": 1.0})[1].startswith(
        "The interpreter pool was 1.70× as fast as serial where the threads were 1.00×, on this build without a GIL"
    )


def test_subinterpreter_verdicts_at_their_bounds():
    assert judged("interpreters_cpu", {**INTERPRETERS_RUN, "interpreter_speedup": 1.15, "thread_speedup": 1.0})[0]
    assert not judged("interpreters_cpu", {**INTERPRETERS_RUN, "interpreter_speedup": 1.15, "thread_speedup": 1.05})[0]
    assert not judged("interpreters_cpu", {**INTERPRETERS_RUN, "interpreter_speedup": 1.14, "thread_speedup": 0.5})[0]
    assert words("interpreters_cpu", {**INTERPRETERS_RUN, "interpreter_speedup": 1.15, "thread_speedup": 1.05})[
        1
    ].startswith("The interpreter pool was 1.15× as fast as serial, and the threads, under one GIL, were no faster")


def test_one_subinterpreter_of_the_standard_library_with_one_task():
    one = {
        **INTERPRETERS_RUN,
        "ideal_speedup": 1,
        "interpreters": 1,
        "interpreter_pool": "stdlib",
        "thread_speedup": 0.9,
        "interpreter_speedup": 1.2,
        "process_speedup": 1.0,
    }
    said = words("interpreters_cpu", one, tasks=1)
    assert "(1 subinterpreter ran its tasks, InterpreterPoolExecutor of the standard library)" in said[0]
    assert "At best 1×" in said[0]
    assert said[1:] == [
        "With one worker, or one task, neither pool can run two tasks at once, yet the thread pool was faster than "
        "serial: the serial run itself was slower, and the run cannot tell why."
    ]
    assert judged("interpreters_cpu", one) == (
        None,
        "With one worker, or one task, no pool could run two tasks at once.",
    )


# -- a race on a counter ------------------------------------------------------------------------

LOST = "Updates were lost: the counter ended at 1 234, not 0, so at least 1 234 of the 2 000 000 updates were lost."
RIGHT = "No update was lost this time: the counter ended at the expected 0."
AGAIN = (
    ", but this run ended right: either no switch landed there, or lost increments and lost decrements cancelled out. "
    "Run it again, or with more iterations."
)


def test_a_race_that_lost_updates_says_how_many_and_where_the_switch_landed():
    lost = {"expected": 0, "actual": 1234, "together_ms": 80.0, "gil_enabled": True}
    assert words("race_counter", lost) == [
        LOST,
        "A thread switched out at the call to pause(), between reading the counter and writing it back, overwrote "
        "what the others had written meanwhile.",
    ]
    assert words("race_counter", lost, python="3.9.18", window="none")[1] == (
        "CPython 3.9 can switch threads between any two bytecodes, so also inside `counter += 1`, between its load "
        "and its store."
    )
    assert words("race_counter", lost, window="none")[1] == (
        "Even CPython 3.11, which switches threads only at calls and backward jumps, switched inside `counter += 1` "
        "in this run."
    )
    assert words("race_counter", lost, python="", window="none")[1].startswith("Even this interpreter, which")
    assert judged("race_counter", lost) == (
        True,
        "The race lost updates: the counter ended at 1 234, not 0 (at least 1 234 lost).",
    )


def test_a_race_below_the_expected_value_counts_the_loss_as_positive():
    result = {"expected": 0, "actual": -500}
    assert words("race_counter", result, workers=4, iterations=1000)[0] == (
        "Updates were lost: the counter ended at -500, not 0, so at least 500 of the 4 000 updates were lost."
    )
    assert (
        judged("race_counter", result)[1]
        == "The race lost updates: the counter ended at -500, not 0 (at least 500 lost)."
    )


def test_a_race_without_a_gil_blames_threads_on_cpus_together():
    lost = {"expected": 0, "actual": 1234, "gil_enabled": False}
    cpu = {"parallel": {"together_ms": 84.0, "span_ms": 175.0}}
    assert words("race_counter", lost, python="3.13.5", cpu=cpu, window="none")[1] == (
        "This build ran without a GIL, so nothing kept a thread's read and write together: its threads were on CPUs "
        "at the same time for at least 84.0 of the 175.0 ms they ran, by their on-CPU strips. A write by one landed "
        "inside `counter += 1` in another, which then overwrote it."
    )
    right = {"expected": 0, "actual": 0, "gil_enabled": False, "together_ms": 12.0}
    assert words("race_counter", right, python="3.13.5") == [
        RIGHT,
        "This build ran without a GIL, so nothing kept a read and its write together: this run's on-CPU strips were "
        "not measured, so it cannot tell how long its threads ran side by side. This run ended right by chance, or "
        "lost increments and lost decrements cancelled out. Run it again, or with more iterations.",
    ]


def test_a_race_that_ended_right_says_why_it_may_have():
    right = {"expected": 0, "actual": 0, "together_ms": 80.0, "gil_enabled": True}
    assert words("race_counter", {**right, "together_ms": 0}) == [
        RIGHT,
        "The threads never ran at the same time: each had finished its loop before the next began (thread start-up "
        "took longer than the loop), so there was nothing to race. Run it with more iterations.",
    ]
    assert words("race_counter", right, window="none")[1] == (
        "CPython 3.11 only switches threads at calls and backward jumps, so `counter += 1` ran whole; the race is "
        "still a bug: window=call shows it here, and CPython 3.9 shows it with this very code."
    )
    assert words("race_counter", right, python="3.9.18", window="none")[1] == (
        "CPython 3.9 can switch threads inside `counter += 1`" + AGAIN
    )
    assert words("race_counter", right)[1] == "A switch at the call to pause() loses updates" + AGAIN
    assert words("race_counter", {"expected": 0, "actual": 0}, python="3.9.18")[1] == (
        "A switch at the call to pause() loses updates" + AGAIN
    )
    assert judged("race_counter", right) == (
        False,
        "No update was lost this time on CPython 3.11 (window=call): the race is there, this run did not hit it.",
    )


# -- bounds and figures the sentences above leave open -----------------------------------------------


def test_one_consumer_left_blocked_is_named_in_the_singular():
    assert judged("queue_producer_consumer", {"items": 10, "consumers_still_running": 1}) == (
        True,
        "Queue.join returned, but 1 consumer was still blocked in Queue.get: without a sentinel the program cannot "
        "end.",
    )


def test_a_locked_updates_cost_is_given_to_the_hundredth_of_a_microsecond():
    result = {"expected": 0, "actual": 0, "run_call_ms": 4000.0}
    assert words("rlock_counter", result, workers=4, iterations=100_000)[1].startswith(
        "The 400 000 updates took 4000 ms, 10.00 µs each"
    )
    assert words("lock_counter", result, workers=4, iterations=100_000)[1].startswith(
        "The 400 000 updates by 4 threads took 4000 ms, 10.00 µs per update."
    )


def test_a_pool_with_a_worker_per_task_names_no_task_as_started_late():
    result = {
        "order": [0, 1, 2],
        "started_units": [0.0, 0.0, 1.0],
        "ready_units": [1.0, 2.0, 3.0],
        "received_units": [1.0, 2.0, 3.0],
    }
    assert words("thread_pool", result, workers=3)[1:] == [
        "Main received every result as soon as it was ready (within a tenth of a unit): in this run submit order "
        "was also completion order."
    ]


def test_a_result_kept_waiting_exactly_5_ms_is_not_named():
    def kept(received: float, collect: str = "as_completed") -> list[str]:
        result = {"order": [0], "started_units": [0.0], "ready_units": [1.0], "received_units": [received]}
        return words("thread_pool", result, workers=1, collect=collect, delay_ms=40)  # 5 ms: 0.125 units

    assert kept(1.125)[1].startswith("Main received every result as soon as it was ready")
    assert kept(1.14)[1] == "Ready before main took it: task 0 was ready at 1.00 units, received at 1.14."
    assert kept(1.14, "map")[1] == (
        "Ready before main took it: task 0 was ready at 1.00 units, received at 1.14, behind an earlier task in "
        "submit order."
    )


def test_io_one_task_with_every_phase_measured_free_calls_the_rest_overhead():
    free = {"others_busy_cores": 0.1, "resolution_cores": 0.05}
    cpu = phases(serial=free, thread_pool=free, process_pool=free)
    result = {**IO_RUN, "thread_speedup": 0.8, "process_speedup": 0.08, "ideal_speedup": 1}
    assert words("io_threads_vs_processes", result, cpu=cpu, tasks=1)[1] == (
        "With one worker, or one task, neither pool can run two tasks at once, and other programs left the cores "
        "free: what the pools took beyond serial is their overhead."
    )


def test_io_pools_compared_from_an_ideal_of_one_and_a_half():
    said = words("io_threads_vs_processes", {**IO_RUN, "thread_speedup": 1.5, "ideal_speedup": 1.5}, tasks=3, workers=2)
    assert said[0].endswith("At best 1.50×: 3 tasks in 2 rounds of up to 2.")
    assert said[1] == "The threads reached 100% of the ideal: sleeping threads wait together."


def test_io_process_pool_no_slower_than_the_thread_pool_says_nothing_of_its_start_up():
    cpu = phases(process_pool={"first_task_ms": 150.0})
    same = words("io_threads_vs_processes", {**IO_RUN, "process_ms": 3005.2}, cpu=cpu)
    assert len(same) == 3 and same[2].startswith("Processes were")
    assert words("io_threads_vs_processes", {**IO_RUN, "process_ms": 3006.0})[2] == (
        "The process pool took 1 ms longer than the thread pool: the run cannot tell how much of it was starting its "
        "processes."
    )


def test_a_race_without_a_gil_in_the_call_window_says_the_write_landed_between_the_read_and_the_write():
    lost = {"expected": 0, "actual": 1234, "gil_enabled": False}
    said = words("race_counter", lost, python="3.13.5", cpu={"parallel": {"together_ms": 0.0, "span_ms": 175.0}})
    assert said[1] == (
        "This build ran without a GIL, so nothing kept a thread's read and write together: its on-CPU strips show no "
        "moment with two threads on CPUs at once in the 175.0 ms they ran (a strip can miss time, and without a GIL "
        "the OS may switch a thread out between any two instructions). A write by one landed between the read and "
        "the write in another, which then overwrote it."
    )
    right = {"expected": 0, "actual": 0, "gil_enabled": False, "together_ms": 12.0}
    cpu = {"parallel": {"together_ms": 84.0, "span_ms": 175.0}}
    assert (
        "its threads were on CPUs at the same time for at least 84.0 of the 175.0 ms they ran"
        in (words("race_counter", right, python="3.13.5", cpu=cpu)[1])
    )


def test_a_race_verdict_counts_the_loss_from_the_expected_value():
    assert judged("race_counter", {"expected": 100_000, "actual": 12_686}, workers=3)[1] == (
        "The race lost updates: the counter ended at 12 686, not 100 000 (at least 87 314 lost)."
    )


def test_managers_dict_names_every_key_with_another_value():
    expected = {"w0": 0, "w1": 1, "w2": 4}
    result = {"expected": expected, "actual": {"w0": 5, "w1": 6, "w2": 4}}
    assert words("manager_dict", result) == ["3 of 3 keys reached the manager's dict; with other values: w0, w1."]


def test_starmap_best_schedule_of_one_task_per_worker_is_the_longest_task():
    from experiments.process_pool_starmap import best_schedule_units

    assert best_schedule_units(4, 4) == 2  # chunks of one: each worker one task, the longest 2 units


def test_cpu_bound_one_worker_says_nothing_of_threads_against_the_gil():
    result = {**CPU_RUN, "ideal_speedup": 1, "thread_speedup": 0.98, "process_speedup": 0.9}
    said = words("cpu_threads_vs_processes", result, workers=1)
    assert len(said) == 3 and said[1].startswith("With one worker, or one task, neither pool can run two tasks")


def test_processes_faster_by_exactly_a_tenth_more_than_threads_are_not_enough():
    assert judged("cpu_threads_vs_processes", {**CPU_RUN, "thread_speedup": 1.2, "process_speedup": 1.32})[0] is False
    assert judged("cpu_threads_vs_processes", {**CPU_RUN, "thread_speedup": 1.2, "process_speedup": 1.33})[0] is True
    subinterpreters = {**INTERPRETERS_RUN, "thread_speedup": 1.2, "interpreter_speedup": 1.32}
    assert judged("interpreters_cpu", subinterpreters)[0] is False
    assert words("interpreters_cpu", subinterpreters)[1].startswith(
        "The interpreter pool was 1.32× as fast as serial, and"
    )


def test_a_pools_strips_over_a_phase_of_one_ms_name_its_length():
    from experiments.cpu_threads_vs_processes import _threads

    assert _threads(1.2, False, None, {"together_ms": 1.0, "start_ms": 10.0, "end_ms": 11.0}).endswith(
        "(by their on-CPU strips, two or more were on CPUs at once for at least 1 ms of the pool's 1 ms)."
    )
    one_ms = phases(interpreter_pool={"together_ms": 1.0, "start_ms": 10.0, "end_ms": 11.0})
    assert (
        "at least 1 ms of the pool's 1 ms), in one process."
        in words("interpreters_cpu", INTERPRETERS_RUN, cpu=one_ms)[1]
    )
    from_zero = phases(interpreter_pool={"together_ms": 10.0, "end_ms": 500.0})
    assert "at least 10 ms of the pool's 500 ms)" in words("interpreters_cpu", INTERPRETERS_RUN, cpu=from_zero)[1]


def test_a_process_pool_just_past_its_ideal_time_is_measured_against_it():
    from experiments.cpu_threads_vs_processes import process_pool_shortfall

    on_time = {"serial_ms": 4000.0, "process_ms": 2000.0, "ideal_speedup": 2}
    started = {"cores": 2, "phases": {"process pool": {"first_task_ms": 50.0}}}
    assert str(process_pool_shortfall(on_time, started)).startswith("0.00 ms beyond the ideal, its first task began")
    just_past = {**on_time, "process_ms": 2000.5}
    assert str(process_pool_shortfall(just_past, started)) == (
        "its first task began only 50.0 ms into it, starting the processes: 100% of the 0.50 ms it took beyond the "
        "ideal"
    )


def test_io_process_pool_under_a_ms_slower_whose_start_up_accounts_for_it():
    cpu = phases(process_pool={"first_task_ms": 0.5})
    said = words("io_threads_vs_processes", {**IO_RUN, "process_ms": 3006.0}, cpu=cpu)
    assert said[2].startswith("The process pool took 1 ms longer than the thread pool: its first task began only 0 ms")


def test_subinterpreters_and_threads_at_the_bounds_of_their_sentences():
    assert words("interpreters_cpu", {**INTERPRETERS_RUN, "thread_speedup": 1.15, "interpreter_speedup": 1.7})[
        1
    ].startswith("The interpreter pool was 1.70× as fast as serial where the threads were 1.15×: each subinterpreter")
    assert words("interpreters_cpu", {**INTERPRETERS_RUN, "thread_speedup": 1.0, "interpreter_speedup": 1.15})[
        1
    ].startswith("The interpreter pool was 1.15× as fast as serial where the threads, under one GIL,")
    free = {**INTERPRETERS_RUN, "gil_enabled": False, "thread_speedup": 1.6, "interpreter_speedup": 1.15}
    assert judged("interpreters_cpu", free)[0] is True
    unsaid = {k: v for k, v in INTERPRETERS_RUN.items() if k != "gil_enabled"}  # a run from before it was recorded
    assert words("interpreters_cpu", {**unsaid, "thread_speedup": 1.3, "interpreter_speedup": 1.7})[1].startswith(
        "The interpreter pool was 1.70× as fast as serial where the threads were 1.30×: each subinterpreter"
    )


def test_one_subinterpreter_task_faster_than_a_loaded_serial_run_blames_the_load():
    one = {**INTERPRETERS_RUN, "ideal_speedup": 1, "thread_speedup": 0.9, "interpreter_speedup": 1.2}
    loaded = phases(serial={"others_busy_cores": 0.7, "resolution_cores": 0.1})
    assert words("interpreters_cpu", one, cpu=loaded)[1].endswith(
        "other programs used 0.7 cores during the serial run, which slowed it."
    )


def test_one_at_a_time_pools_at_the_bound_of_faster():
    from experiments.harness.speedup import one_at_a_time

    assert one_at_a_time(1.05, 1.0, None).startswith(
        "With one worker, or one task, neither pool can run two tasks at once;"
    )
    assert one_at_a_time(1.2, 1.05, None).startswith(
        "With one worker, or one task, neither pool can run two tasks at once, yet the thread pool was faster"
    )
    free = {"others_busy_cores": 0.1, "resolution_cores": 0.05}
    busy = {"others_busy_cores": 0.9, "resolution_cores": 0.05}
    for loaded in ("serial", "process_pool"):
        cpu = phases(**{"serial": free, "thread_pool": free, "process_pool": free, loaded: busy})
        assert "other programs loaded the cores during some phases" in one_at_a_time(1.0, 1.0, cpu)


def test_a_report_rounds_times_to_a_tenth_of_a_ms_and_speedups_to_a_hundredth():
    from experiments.harness.speedup import gil_enabled, report

    assert report(1.23456, 0.61728, 0.9, 2) == {
        "serial_ms": 1234.6,
        "thread_ms": 617.3,
        "process_ms": 900.0,
        "thread_speedup": 2.0,
        "process_speedup": 1.37,
        "ideal_speedup": 2,
        "gil_enabled": gil_enabled(),
    }
    assert report(1.23456, 0.7, 0.33333, 2)["thread_speedup"] == 1.76
    assert report(1.23456, 0.7, 0.33333, 2)["process_ms"] == 333.3


def test_a_free_threaded_build_running_without_its_gil_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from experiments.harness.speedup import gil_enabled

    monkeypatch.setattr(sys, "_is_gil_enabled", lambda: False, raising=False)
    assert gil_enabled() is False
    monkeypatch.setattr(sys, "_is_gil_enabled", lambda: 1, raising=False)
    assert gil_enabled() is True


def test_the_cores_a_run_may_use_are_those_of_its_affinity(monkeypatch: pytest.MonkeyPatch) -> None:
    """A container or taskset may leave a run fewer CPUs than the machine has: those are what it may use."""
    import os

    from experiments.harness.speedup import usable_cores

    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0} if pid == 0 else set(), raising=False)
    assert usable_cores() == 1
    monkeypatch.delattr(os, "sched_getaffinity")  # no affinity to ask (macOS): every CPU
    assert usable_cores() == 4
    monkeypatch.setattr(os, "cpu_count", lambda: None)  # not even that known: one
    assert usable_cores() == 1
