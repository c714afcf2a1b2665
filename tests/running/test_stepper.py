"""The race stepper through its real child process (experiments/harness/stepper.py), on every interpreter the lab offers.

Each test asks the controller as the server does (app/running/stepping.py: a fresh child of that interpreter
per request) and checks what a student relies on: the schedule "thread 1 reads, thread 2 runs a whole
iteration, thread 1 writes" loses one update on race-counter and cannot be entered on lock-counter, replay is
exact, "find one for me" finds a one-switch schedule (race) or says none exists (lock), and the switch marks
agree with what real runs of the interpreter do.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from app import ROOT
from app.drawing.stepping import page
from app.model.schedules import Move, StepAnswer, StepRequest
from app.running import pythons
from app.running.limits import Client
from app.running.runners import runner_env
from app.running.stepping import Stepping

OFFERED = pythons.offered(sys.executable, [])
KEYS = [i.key for i in OFFERED]
GIL_CHECKS = [i.key for i in OFFERED if (3, 10) <= tuple(map(int, i.version.split(".")[:2])) and i.gil_enabled]
PY39 = [i.key for i in OFFERED if i.version.startswith("3.9.")]


async def _no_limit(client: Client, admin: bool) -> None:
    return None


def ask(
    python: str,
    experiment: str = "race-counter",
    window: str = "none",
    schedule: tuple[int, ...] = (),
    then: tuple[int, Move] | None = None,
    find: bool = False,
    threads: int = 2,
    iterations: int = 2,
) -> StepAnswer:
    """The controller's answer, from a real child of `python`, as the server gets it."""
    stepping = Stepping(OFFERED, 1, _no_limit)
    request = StepRequest(experiment, window, threads, iterations, python, schedule, then, find)
    answer = asyncio.run(stepping.answer(request, Client("test", "127.0.0.1"), counts=False))
    assert isinstance(answer, dict), answer
    return answer


def steps_of(answer: StepAnswer, thread: int, role: str) -> int:
    """How many steps of `thread`, alone from the start, up to and including its first instruction of `role`."""
    roles = {i["offset"]: i["role"] for i in answer["functions"][thread % 2]["instructions"]}
    for k, state in enumerate(answer["states"][1:], start=1):
        did = state["did"]
        assert did is not None and did["thread"] == thread
        if roles[did["offset"]] == role:
            return k
    raise AssertionError(f"thread {thread + 1} never executed a {role}")


def losing_schedule(python: str, experiment: str, window: str) -> tuple[int, ...]:
    """Thread 1 up to its read of the counter, thread 2 through one whole iteration (its write), thread 1 to
    its write: built from each thread's own run alone, with this interpreter's bytecode."""
    alone_1 = ask(python, experiment, window, then=(0, "end"))
    alone_2 = ask(python, experiment, window, then=(1, "end"))
    read_1, wrote_1 = steps_of(alone_1, 0, "load"), steps_of(alone_1, 0, "store")
    wrote_2 = steps_of(alone_2, 1, "store")
    return (0,) * read_1 + (1,) * wrote_2 + (0,) * (wrote_1 - read_1)


@pytest.mark.parametrize("window", ["none", "call"])
@pytest.mark.parametrize("python", KEYS)
def test_thread_1_reads_thread_2_runs_an_iteration_thread_1_writes_loses_one_update(python, window):
    schedule = losing_schedule(python, "race-counter", window)
    answer = ask(python, "race-counter", window, schedule)
    assert answer["refused"] is None
    assert answer["schedule"] == list(schedule)
    *_, before_store, after_store = answer["states"]
    assert before_store["lost"] == 0
    assert after_store["lost"] == 1
    # Thread 1 read 0, thread 2 wrote -1, thread 1 wrote 1 over it: what the page says at that step.
    assert after_store["counter"] == 1
    drawn = page(answer)
    assert drawn.last == ("thread 1 wrote 1 over thread 2's -1: one decrement lost",)
    assert drawn.lost == 1
    assert page(answer, len(schedule) - 1).columns[0].holds == "thread 1 read 0 and has not written it back yet."


@pytest.mark.parametrize("python", KEYS)
def test_lock_counter_cannot_enter_that_schedule_thread_2_waits_on_the_lock(python):
    alone_1 = ask(python, "lock-counter", "call", then=(0, "end"))
    read_1 = steps_of(alone_1, 0, "load")
    # Thread 1 has taken the lock and read the counter; thread 2 runs as far as it can: to `with lock:`.
    answer = ask(python, "lock-counter", "call", (0,) * read_1, then=(1, "end"))
    last = answer["states"][-1]
    assert last["owner"] == 0
    assert last["threads"][1]["status"] == "waiting" and last["threads"][1]["waits_for"] == 0
    assert last["lost"] == 0
    drawn = page(answer)
    assert drawn.columns[1].says.startswith("thread 2 waits for the lock, which thread 1 holds")
    assert not drawn.columns[1].can_step
    # One more step of thread 2 is refused, not taken (and the controller does not hang on the lock).
    further = ask(python, "lock-counter", "call", tuple(answer["schedule"]) + (1,))
    assert further["refused"] is not None and further["refused"]["at"] == len(answer["schedule"])
    assert "thread 2 waits for the lock, which thread 1 holds" in page(further).refused
    assert further["states"][-1] == last


@pytest.mark.parametrize("python", KEYS)
def test_replay_is_exact_undo_then_redo_gives_the_same_state(python):
    schedule = losing_schedule(python, "race-counter", "call")
    whole = ask(python, "race-counter", "call", schedule)
    for cut in (len(schedule) - 1, len(schedule) // 2, 1):
        undone = ask(python, "race-counter", "call", schedule[:cut])
        assert undone["states"] == whole["states"][: cut + 1]
    redone = ask(python, "race-counter", "call", schedule)
    assert redone["states"] == whole["states"]
    assert [c.rows for c in page(redone).columns] == [c.rows for c in page(whole).columns]


@pytest.mark.parametrize("python", KEYS)
def test_find_one_returns_a_one_switch_schedule_that_loses_an_update(python):
    answer = ask(python, "race-counter", "none", find=True)
    found = answer["found"]
    assert found is not None and found["found"] and found["preemptions"] == 1
    assert answer["schedule"] == found["found"]
    assert answer["states"][-1]["lost"] >= 1 and answer["states"][-2]["lost"] == 0  # it ends at the loss
    forced = [s["did"]["switch"] for s in answer["states"][1:] if s["did"] and s["did"]["switch"]]
    assert len(forced) == 1
    # Where the interpreter cannot switch between the read and the write, the search says so.
    assert found["never"] == (python in GIL_CHECKS)
    assert ("never makes" in page(answer).found_says) == (python in GIL_CHECKS)


@pytest.mark.parametrize("python", KEYS)
def test_find_one_says_none_exists_for_lock_counter(python):
    answer = ask(python, "lock-counter", "call", find=True)
    found = answer["found"]
    assert found is not None and found["found"] is None and found["complete"] and found["bound"] == 2
    assert found["tried"] > 2
    assert page(answer).found_says.startswith("None exists: no schedule with at most two forced switches")


@pytest.mark.parametrize("python", GIL_CHECKS)
def test_with_the_gil_the_window_call_switch_is_one_the_interpreter_makes_and_counter_plus_one_has_none(python):
    """3.10+ with the GIL: the marks are the calls, the entry and the jump back, so inside `counter += 1`
    nothing is marked and in the call window only the call is."""
    for window, marked_in_window in (("none", []), ("call", ["CALL"])):
        answer = ask(python, "race-counter", window)
        for function in answer["functions"]:
            ins = function["instructions"]
            load = next(k for k, i in enumerate(ins) if i["role"] == "load")
            store = next(k for k, i in enumerate(ins) if i["role"] == "store")
            inside = [i["opname"].split("_")[0] for i in ins[load:store] if i["switch"]]
            assert inside == marked_in_window, (function["name"], inside)
            # The loop's jump back is marked; no plain load, store or arithmetic is.
            assert any(i["switch"] and "JUMP" in i["opname"] for i in ins[store:])
            assert not any(i["switch"] for i in ins if i["opname"].startswith(("LOAD_", "STORE_", "BINARY", "INPLACE")))


@pytest.mark.parametrize("python", PY39)
def test_on_3_9_every_instruction_is_a_switch_point(python):
    answer = ask(python, "race-counter", "none")
    assert answer["python"]["rule"] == "any"
    assert all(i["switch"] for f in answer["functions"] for i in f["instructions"])


REAL_RUN = """
import sys, threading
sys.setswitchinterval(1e-6)  # the minimum: the interpreter asks for a switch as often as it can
from experiments import race_counter as m
fs = m.thread_functions(sys.argv[1])
threads = [threading.Thread(target=fs[i % 2], args=(200_000,)) for i in range(2)]
for t in threads: t.start()
for t in threads: t.join()
print(m.counter)
"""


def real_run_counter(python: str, window: str) -> int:
    path = pythons.path_of(OFFERED, {"python": python})
    done = subprocess.run(
        [path, "-c", REAL_RUN, window],
        cwd=ROOT,
        env=runner_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return int(done.stdout)


@pytest.mark.parametrize("python", PY39)
def test_the_marks_agree_with_a_real_3_9_run_which_loses_updates_inside_counter_plus_one(python):
    # Every instruction is marked on 3.9: a real run of window=none, switching as often as it can, loses
    # updates inside `counter += 1` (three tries: each is a real, unsteered run).
    assert any(real_run_counter(python, "none") != 0 for _ in range(3))


@pytest.mark.parametrize("python", GIL_CHECKS)
def test_the_marks_agree_with_real_runs_with_the_gil(python):
    # No mark between the read and the write of `counter += 1`: however often a switch is asked for, a real
    # run never loses an update there; the call in window=call is marked, and a real run loses updates.
    assert real_run_counter(python, "none") == 0
    assert any(real_run_counter(python, "call") != 0 for _ in range(3))
