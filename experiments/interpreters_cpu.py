"""cpu-threads-vs-processes' fibonacci on an InterpreterPoolExecutor too: subinterpreters, one GIL each, in one process."""
from __future__ import annotations

import multiprocessing
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed

# fibonacci(n), and timed_fibonacci(n) -> (fibonacci(n), start_ns, end_ns, native thread id): a module of its own,
# as each subinterpreter imports the module of the function it runs (experiments/fibonacci.py).
from experiments.fibonacci import fibonacci, timed_fibonacci
from experiments.harness import speedup
from experiments.harness.params import Choice, Int
from experiments.harness.recorder import traced

try:
    from concurrent.futures import InterpreterPoolExecutor  # type: ignore[attr-defined]  # CPython 3.14 and later
except ImportError:
    try:  # CPython 3.13: PEP 734's backport from PyPI, interpreters-pep-734 (experiments/backports.txt)
        from interpreters_backport.concurrent.futures import InterpreterPoolExecutor  # type: ignore[import-not-found]
    except ImportError:  # older: the lab does not offer this experiment there (NEEDS)
        InterpreterPoolExecutor = None

ID = "interpreters-cpu"
TITLE = "CPU-bound work: threads vs subinterpreters vs processes"
SUMMARY = ("fibonacci on a thread pool, an interpreter pool and a process pool: each subinterpreter has its own GIL, "
           "so its thread runs Python beside the others in one process.")
KIND = "processes"  # it starts a process pool too, as cpu-threads-vs-processes
MEASURES_TIME = True
# What the lab checks of an interpreter before it offers this experiment on it (app/running/pythons.py).
NEEDS = ("interpreter_pool",)
NOTICE = (
    "First main computes every task itself: that serial run is the yardstick. In the thread pool "
    "the worker lanes take turns: the GIL lets one thread run Python at a time. In the interpreter "
    "pool each worker thread runs its own subinterpreter, with its own modules and its own GIL: "
    "look for their on-CPU strips side by side, as the process pool's are, though all of them are "
    "threads of one process. A subinterpreter shares no objects with main: its task comes in "
    "pickled, and so does its result; its spans are timed inside it and drawn by main when the "
    "result arrives (the recorder cannot cross into another interpreter). Starting an interpreter "
    "and importing the task's module there costs time (so the task lives in a small module of its "
    "own), less than starting a process."
)
NOTICE_WITHOUT_GIL = (
    "First main computes every task itself: that serial run is the yardstick. This build has no "
    "GIL, so the thread pool's lanes can compute at the same time already; the interpreter pool's "
    "threads run side by side too, each in its own subinterpreter, and the process pool's workers "
    "in their own processes. Starting an interpreter, or a process, costs time: see where each "
    "pool's first task begins."
)
EXPECTED = ("thread_speedup about 1 or below under the GIL; interpreter_speedup and process_speedup above 1 when the "
            "tasks are long enough to pay for starting the interpreters or processes, at most "
            "ideal_speedup = min(workers, cores, tasks).")
PARAMS = (
    Int("workers", 2, 1, 8, "max_workers of each pool"),
    Int("first", 30, 15, 34, "the first task is fibonacci(first)"),
    Int("tasks", 4, 1, 10, "tasks: fibonacci(first), fibonacci(first + 1), ..."),
    Choice("start_method", "spawn", ("spawn", "fork", "forkserver"), "how the process pool starts its workers"),
)


def run(params, rec):
    numbers = [params["first"] + i for i in range(params["tasks"])]
    task = traced(fibonacci, rec, "fib({})", "cpu")

    # Serial execution, on main: the yardstick
    with rec.activity("serial", "phase"):
        start_time = time.time()
        results = list(map(task, numbers))
        serial_time = time.time() - start_time

    # Thread pool execution
    with rec.activity("thread pool", "phase"):
        start_time = time.time()
        with ThreadPoolExecutor(max_workers=params["workers"]) as executor:
            results = list(executor.map(task, numbers))
        thread_time = time.time() - start_time

    # Interpreter pool execution: each worker thread runs its own subinterpreter
    lanes: dict[int, str] = {}  # a worker thread's native id: its lane
    with rec.activity("interpreter pool", "phase"):
        start_time = time.time()
        with InterpreterPoolExecutor(max_workers=params["workers"], thread_name_prefix="interpreter") as executor:
            futures = {executor.submit(timed_fibonacci, n): i for i, n in enumerate(numbers)}
            for future in as_completed(futures):
                value, started, ended, tid = future.result()
                results[futures[future]] = value
                draw_span(rec, lanes, tid, f"fib({numbers[futures[future]]})", started, ended)
        interpreter_time = time.time() - start_time

    # Process pool execution
    context = multiprocessing.get_context(params["start_method"])
    with rec.activity("process pool", "phase"):
        start_time = time.time()
        with ProcessPoolExecutor(max_workers=params["workers"], mp_context=context) as executor:
            results = list(executor.map(task, numbers))
        process_time = time.time() - start_time

    # More workers than cores, or than tasks, cannot run more at once.
    ideal = min(params["workers"], speedup.usable_cores(), len(numbers))
    return {
        "results": results,
        **speedup.report(serial_time, thread_time, process_time, ideal),
        "interpreter_ms": round(interpreter_time * 1000, 1),
        "interpreter_speedup": round(serial_time / interpreter_time, 2),
        "interpreters": len(lanes),
        "interpreter_pool": "stdlib" if InterpreterPoolExecutor.__module__.startswith("concurrent.") else "backport",
    }


def draw_span(rec, lanes, tid, label, started, ended):
    """A task's span on the lane of the thread that ran its interpreter (declared at its first task), by its
    native id, which ties the kernel's on-CPU record of that thread to the lane."""
    if tid not in lanes:
        thread = next((t.name for t in threading.enumerate() if t.native_id == tid), "interpreter")
        lanes[tid] = rec.thread_lane(f"{thread} (subinterpreter)", tid, thread, started)
    rec.span(lanes[tid], label, "cpu", started, ended)


def bytecode(params):
    return [fibonacci]


def findings(params, result, python, cpu=None):
    """What this run showed: each pool's speedup over the serial run, against what was possible, and what the
    interpreter pool's own GILs changed against the threads' one (`cpu`: the run's CPU budget)."""
    from experiments.harness.wording import ms, plural, ratio

    t, i, p, ideal = (result["thread_speedup"], result["interpreter_speedup"], result["process_speedup"],
                      result["ideal_speedup"])
    library = "the standard library" if result["interpreter_pool"] == "stdlib" else "the interpreters-pep-734 backport"
    ran = plural(result["interpreters"], "subinterpreter")
    said = [f"Serial on main: {ms(result['serial_ms'])}. Thread pool: {ms(result['thread_ms'])}, {ratio(t)}× as "
            f"fast. Interpreter pool: {ms(result['interpreter_ms'])}, {ratio(i)}× as fast ({ran} ran its tasks, "
            f"InterpreterPoolExecutor of {library}). "
            f"Process pool: {ms(result['process_ms'])}, {ratio(p)}× as fast (with start_method="
            f"{params['start_method']}). At best {int(ideal)}×: min(workers, cores, tasks) tasks at once."]
    if ideal <= 1:
        said.append(speedup.one_at_a_time(max(t, i), p, cpu))
        return said
    said.append(_interpreters(t, i, result.get("gil_enabled", True), cpu))
    first = speedup.phase_budget(cpu, "interpreter pool").get("first_task_ms")
    first_process = speedup.phase_budget(cpu, "process pool").get("first_task_ms")
    if first is not None and first_process is not None:
        said.append(f"The interpreter pool's first task began {ms(first)} into it, the process pool's "
                    f"{ms(first_process)} (with {params['start_method']}): "
                    + ("an interpreter started sooner than a process." if first < first_process else
                       "this time the interpreters were not quicker to start than the processes."))
    return said


def _interpreters(t, i, gil, cpu):
    pool = speedup.phase_budget(cpu, "interpreter pool")
    together, phase_ms = pool.get("together_ms"), (pool.get("end_ms") or 0) - (pool.get("start_ms") or 0)
    strips = ("" if together is None else
              f" (by their on-CPU strips, two or more were on CPUs at once for at least {together:.0f} ms"
              + (f" of the pool's {phase_ms:.0f} ms)" if phase_ms > 0 else ")"))
    threads = ("the threads, under one GIL, were no faster than serial" if t < 1.15 and gil else
               f"the threads were {t:.2f}×" + ("" if gil else ", on this build without a GIL"))
    if i >= 1.15 and (i > t * 1.1 or not gil):
        return (f"The interpreter pool was {i:.2f}× as fast as serial where {threads}: each subinterpreter has its "
                f"own GIL, so their threads ran Python side by side{strips}, in one process.")
    why = speedup.shortfall(cpu, "interpreter pool", "starting each interpreter and importing the task's module in it "
                            "takes time, more than short tasks can pay back")
    return f"The interpreter pool was {i:.2f}× as fast as serial, and {threads}{strips}: {why}."


def verdict(params, result, python, cpu=None):
    """The lesson, judged by this run's speedups: subinterpreters run Python side by side where threads cannot."""
    t, i, ideal = result["thread_speedup"], result["interpreter_speedup"], result["ideal_speedup"]
    if ideal <= 1:
        return None, "With one worker, or one task, no pool could run two tasks at once."
    if not result.get("gil_enabled", True):
        return i >= 1.15, f"Without a GIL, threads were {t:.2f}× as fast as serial, subinterpreters {i:.2f}×."
    if i >= 1.15 and i > t * 1.1:
        return True, (f"Subinterpreters were {i:.2f}× as fast as serial, threads {t:.2f}×: one GIL per interpreter "
                      f"let them run Python side by side.")
    why = speedup.shortfall(cpu, "interpreter pool", "starting the interpreters may have cost more than the tasks gained")
    return False, f"Subinterpreters were not faster this time ({i:.2f}× serial, threads {t:.2f}×): {why}."
