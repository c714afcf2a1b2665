"""The tutorial's fibonacci run serially, then on a ThreadPoolExecutor, then on a ProcessPoolExecutor."""
from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

from experiments.harness import speedup
from experiments.harness.params import Choice, Int
from experiments.harness.recorder import traced

ID = "cpu-threads-vs-processes"
TITLE = "CPU-bound work: threads vs processes"
SUMMARY = "fibonacci on a thread pool, then on a process pool: under the GIL only processes run in parallel."
KIND = "processes"
# Its result is a speedup: measured only when nothing else competes for the cores.
MEASURES_TIME = True
NOTICE = (
    "First main computes every task itself: that serial run is the yardstick. In the "
    "thread pool the worker lanes take turns: the GIL lets one thread run Python at a "
    "time, so more threads do not compute faster (a free-threaded build, 3.13t and later, has "
    "no GIL: there they can; try the python param). In the process pool each worker is its "
    "own interpreter with its own GIL, and the tasks can overlap, as many at once as there "
    "are workers, cores or tasks, whichever is fewest: that is the ideal speedup, an upper "
    "bound. Process workers start later (see where their lanes begin): creating them costs "
    "time, more with spawn, and with small tasks that cost can outweigh the gain. Tasks of "
    "unequal length leave a worker idle at the end, which also keeps the speedup below the ideal."
)
# A run on a free-threaded build with the GIL off (3.13t) is shown this instead.
NOTICE_WITHOUT_GIL = (
    "First main computes every task itself: that serial run is the yardstick. This build has "
    "no GIL, so in the thread pool the worker lanes can compute at the same time, each on its "
    "own CPU (look for their on-CPU strips side by side), as the process pool's workers do. "
    "Either pool runs as many tasks at once as there are workers, cores or tasks, whichever "
    "is fewest: that is the ideal speedup, an upper bound. Process workers start later (see "
    "where their lanes begin): creating them costs time, more with spawn. Tasks of unequal "
    "length leave a worker idle at the end, which also keeps the speedup below the ideal."
)
EXPECTED = ("thread_speedup about 1 or below under the GIL (up to the ideal on a free-threaded build); "
            "process_speedup above 1 when the tasks are long enough to pay for starting the processes, at most "
            "ideal_speedup = min(workers, cores, tasks).")
PARAMS = (
    Int("workers", 2, 1, 8, "max_workers of each pool"),
    Int("first", 30, 15, 34, "the first task is fibonacci(first)"),
    Int("tasks", 5, 1, 10, "tasks: fibonacci(first), fibonacci(first + 1), ..."),
    Choice("start_method", "spawn", ("spawn", "fork", "forkserver"), "how the process pool starts its workers"),
)


def fibonacci(n):
    if n <= 1:
        return n
    return fibonacci(n - 1) + fibonacci(n - 2)


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

    # Process pool execution
    context = multiprocessing.get_context(params["start_method"])
    with rec.activity("process pool", "phase"):
        start_time = time.time()
        with ProcessPoolExecutor(max_workers=params["workers"], mp_context=context) as executor:
            results = list(executor.map(task, numbers))
        process_time = time.time() - start_time

    # More workers than cores, or than tasks, cannot run more at once.
    ideal = min(params["workers"], speedup.usable_cores(), len(numbers))
    return {"results": results, **speedup.report(serial_time, thread_time, process_time, ideal)}


def findings(params, result, python, cpu=None):
    """What this run showed: each pool's speedup over the serial run, against what was possible, and
    where it fell short, what the lab measured meanwhile (`cpu`: the run's CPU budget, app/model/findings.py)."""
    said = speedup.findings(params, result, "min(workers, cores, tasks) tasks at once", cpu)
    t, p, ideal = result["thread_speedup"], result["process_speedup"], result["ideal_speedup"]
    gil = result.get("gil_enabled", True)
    if ideal > 1:
        said.insert(1, _threads(t, gil, speedup.others_during(cpu, "serial"), speedup.phase_budget(cpu, "thread pool")))
        if p < ideal * 0.75:
            head = ("The process pool was slower than serial" if p < 1 else
                    "The process pool was faster than serial but short of the ideal")
            said.insert(2, f"{head}: {process_pool_shortfall(result, cpu)}.")
    return said


def process_pool_shortfall(result, cpu):
    """Why the process pool fell short of the ideal, as far as this run's measurements single a cause out:
    starting processes (its first task began late), other programs (the phase's budget), or neither."""
    from experiments.harness.wording import ms

    measured = speedup.phase_budget(cpu, "process pool")
    beyond = result["process_ms"] - result["serial_ms"] / result["ideal_speedup"]  # past the ideal time
    startup, others = measured.get("first_task_ms"), speedup.others_during(cpu, "process pool")
    load = speedup.load_singled_out(cpu, "process pool")
    causes = []
    if startup is not None and beyond > 0 and startup >= beyond / 2:
        causes.append(f"its first task began only {ms(startup)} into it, starting the processes: "
                      f"{min(1.0, startup / beyond):.0%} of the {ms(beyond)} it took beyond the ideal")
    if load is not None:
        causes.append(f"other programs used {load:.1f} of {cpu['cores']} cores while it ran")
    if causes:
        return "; and ".join(causes)
    figures = [f"{ms(beyond)} beyond the ideal"]
    if startup is not None:
        figures.append(f"its first task began {ms(startup)} into it")
    figures.append("other programs' use was not measured" if others is None
                   else f"other programs used {others:.1f} cores meanwhile")
    return (", ".join(figures) + ": neither accounts for it, and the run cannot tell what did (tasks of unequal "
            "length, each fib(n + 1) about 1.6 times fib(n), may have left workers idle)")


def _threads(t, gil, serial_others, pool):
    together, phase_ms = pool.get("together_ms"), (pool.get("end_ms") or 0) - (pool.get("start_ms") or 0)
    strips = ("" if together is None else
              f" (by their on-CPU strips, two or more were on CPUs at once for at least {together:.0f} ms"
              + (f" of the pool's {phase_ms:.0f} ms)" if phase_ms > 0 else ")"))
    if not gil and t >= 1.15:
        return (f"The threads were {t:.2f}× as fast as serial on this free-threaded build, running without a GIL: "
                f"they ran Python side by side{strips}.")
    if not gil:
        return (f"The threads were {t:.2f}× as fast as serial although this free-threaded build ran without a GIL"
                f"{strips}: the run cannot tell what kept them from running Python side by side.")
    if t < 1.15:
        return "The threads were no faster than serial: the GIL let one run Python at a time."
    if serial_others is not None and serial_others >= 0.3:
        return (f"The threads were {t:.2f}× as fast as serial, more than one GIL allows: other programs used "
                f"{serial_others:.1f} cores during the serial run, which slowed it.")
    measured = "" if serial_others is None else f" (other programs used {serial_others:.1f} cores during it)"
    return (f"The threads were {t:.2f}× as fast as serial, more than one GIL allows; the serial run was slower "
            f"than it should have been{measured}.")


def verdict(params, result, python, cpu=None):
    """The lesson, judged by this run's speedups: under the GIL, only processes run Python side by side."""
    t, p, ideal = result["thread_speedup"], result["process_speedup"], result["ideal_speedup"]
    if ideal <= 1:
        return None, "With one worker, or one task, neither pool could run two tasks at once."
    if not result.get("gil_enabled", True):
        return t >= 1.15, f"Without a GIL, threads were {t:.2f}× as fast as serial, processes {p:.2f}×."
    if p >= 1.15 and p > t * 1.1:
        return True, f"Processes were {p:.2f}× as fast as serial, threads {t:.2f}×: the GIL held the threads back."
    return False, (f"Processes were not faster this time ({p:.2f}× serial, threads {t:.2f}×): "
                   f"{process_pool_shortfall(result, cpu)}.")
