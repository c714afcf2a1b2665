"""Admission control, pure: FIFO, timing runs alone, positions, removal."""

from __future__ import annotations

from collections import deque

from redis.asyncio import Redis

from app.model.runs import ordinal
from app.running.admission import Admission
from app.running.execute_here import ExecuteHere
from app.running.execute_on_nodes import ExecuteOnNodes
from app.storage.redis_formats import InFlight
from app.storage.redis_store import RedisRunStore
from tests.helpers import make_settings


def test_runs_that_do_not_measure_time_share_up_to_the_limit():
    a: Admission[str] = Admission(max_concurrent=2)
    for key in "abc":
        a.enqueue(key, measures_time=False)
    assert a.admit() == ["a", "b"]
    assert a.position("c") == 1 and a.position("a") is None
    a.finish("a")
    assert a.admit() == ["c"]


def test_a_timing_run_waits_for_an_empty_cpu_and_then_runs_alone():
    a: Admission[str] = Admission(max_concurrent=3)
    a.enqueue("x", False)
    a.enqueue("t", True)
    a.enqueue("y", False)
    assert a.admit() == ["x"]  # t waits for x; y may not overtake t (strict FIFO)
    assert a.position("t") == 1 and a.position("y") == 2
    a.finish("x")
    assert a.admit() == ["t"]
    assert a.admit() == []  # y never runs beside t
    a.finish("t")
    assert a.admit() == ["y"]


def test_a_timing_run_alone_even_with_a_limit_of_one_other():
    a: Admission[str] = Admission(max_concurrent=1)
    a.enqueue("t1", True)
    a.enqueue("t2", True)
    assert a.admit() == ["t1"]
    a.finish("t1")
    assert a.admit() == ["t2"]


def test_removing_a_queued_run_moves_the_ones_behind_it_up():
    a: Admission[str] = Admission(max_concurrent=1)
    for key in "abcd":
        a.enqueue(key, False)
    a.admit()
    a.remove("b")
    a.remove("a")  # executing, not queued: no effect on the queue
    assert [a.position(k) for k in "cd"] == [1, 2]
    assert a.queued == 2
    a.finish("a")
    assert a.admit() == ["c"]


def test_removing_the_blocking_head_lets_the_next_one_start():
    a: Admission[str] = Admission(max_concurrent=2)
    a.enqueue("x", False)
    a.enqueue("t", True)
    a.enqueue("y", False)
    a.admit()
    a.remove("t")
    assert a.admit() == ["y"]


def test_place_in_words_says_what_a_queued_run_waits_for_where_it_executes():
    here = ExecuteHere(make_settings())
    assert here.place(3, 2).words == "3rd in line, 2 runs ahead of it executing"
    assert here.place(1, 1).words == "1st in line, 1 run ahead of it executing"
    store = RedisRunStore(Redis(), {})  # a client made without a server: nothing here connects
    nodes = ExecuteOnNodes(store, node_ttl_s=3, name="web-test")
    store.in_flight = InFlight(nodes=2)
    assert nodes.place(1, 0).words == "1st in line, 0 runs ahead of it executing"
    store.in_flight = InFlight(nodes=0)
    assert nodes.place(2, 0).words == "2nd in line, and no runner node is up: it starts once one is"
    assert nodes.place(2, 0).position == 2
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == [
        "1st",
        "2nd",
        "3rd",
        "4th",
        "11th",
        "12th",
        "13th",
        "21st",
        "22nd",
        "101st",
        "111th",
    ]


def test_how_many_of_a_sweep_s_runs_would_wait():
    a: Admission[str] = Admission(max_concurrent=2)
    assert a.would_queue(4, measures_time=True) == 3  # the first starts; the others run alone after it
    assert a.would_queue(4, measures_time=False) == 2  # two start beside each other
    a.enqueue("x", False)
    a.admit()
    assert a.would_queue(3, measures_time=False) == 2
    assert a.would_queue(3, measures_time=True) == 3
    assert a.queue == deque() and list(a.executing) == ["x"]  # asking changes nothing


def test_a_run_may_start_at_once_only_with_nobody_waiting_and_room_beside_what_executes():
    a: Admission[str] = Admission(max_concurrent=2)
    assert not a.would_wait(measures_time=True)  # nothing executes: even a timing run starts at once
    a.enqueue("x", False)
    assert a.would_wait(measures_time=False)  # x is in line first (strict FIFO)
    a.admit()
    assert not a.would_wait(measures_time=False) and a.would_wait(measures_time=True)  # a timing run waits for x
    a.enqueue("y", False)
    a.admit()
    assert a.would_wait(measures_time=False)  # both slots taken


def test_finishing_a_run_that_never_started_changes_nothing():
    a: Admission[str] = Admission(max_concurrent=1)
    a.enqueue("x", False)
    a.finish("nobody")
    a.finish("x")  # queued, not executing: its cancel takes it out of the queue (remove)
    assert a.queued == 1 and a.admit() == ["x"]


def test_a_sweep_behind_runs_already_waiting_counts_every_one_of_its_runs():
    a: Admission[str] = Admission(max_concurrent=1)
    for key in "xy":
        a.enqueue(key, False)
    a.admit()  # x executes, y waits
    assert a.would_queue(2, measures_time=False) == 2
    assert [a.position(k) for k in "y"] == [1] and a.queued == 1


def test_ordinals_past_a_hundred():
    assert [ordinal(n) for n in (110, 112, 113, 120, 121, 122, 123, 1011)] == [
        "110th",
        "112th",
        "113th",
        "120th",
        "121st",
        "122nd",
        "123rd",
        "1011th",
    ]
