"""The tutorial's simulate_io run serially, then on a ThreadPoolExecutor, then on a ProcessPoolExecutor."""
from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

from experiments.harness import speedup
from experiments.harness.params import Choice, Int
from experiments.harness.recorder import traced

ID = "io-threads-vs-processes"
TITLE = "I/O-bound work: threads vs processes"
SUMMARY = "Ten sleeps on a thread pool, then on a process pool: both overlap the waiting; threads start cheaper."
KIND = "processes"
# Its result is a speedup (and threads starting cheaper than processes): executes alone.
MEASURES_TIME = True
# Its tasks sleep: they need no core, so its own ideal_speedup (tasks over rounds) is not bounded by cores.
TASKS_WAIT = True
NOTICE = (
    "First main waits for every task itself: that serial run is the yardstick. A sleeping "
    "thread does not hold the GIL, so in the thread pool all its workers wait at once, just "
    "as the process pool's workers do. The tasks go in rounds of `workers`: the ideal speedup "
    "is tasks over the number of rounds (10 tasks on 4 workers: 3 rounds, 3.33). The process "
    "pool also has to start its worker processes first (see where its lanes begin), which "
    "threads do not: with short sleeps that start-up is most of its time."
)
# A run on a free-threaded build with the GIL off (3.13t) is shown this instead.
NOTICE_WITHOUT_GIL = (
    "First main waits for every task itself: that serial run is the yardstick. A sleeping "
    "thread needs no CPU (and this build has no GIL to hold anyway), so in the thread pool all "
    "its workers wait at once, just as the process pool's workers do. The tasks go in rounds of "
    "`workers`: the ideal speedup is tasks over the number of rounds (10 tasks on 4 workers: 3 "
    "rounds, 3.33). The process pool also has to start its worker processes first (see where "
    "its lanes begin), which threads do not: with short sleeps that start-up is most of its time."
)
EXPECTED = ("thread_speedup near ideal_speedup = tasks / rounds of `workers`; process_speedup below it by the "
            "processes' start-up, which short tasks do not pay for.")
PARAMS = (
    Int("workers", 4, 1, 16, "max_workers of each pool"),
    Int("tasks", 10, 1, 40, "how many simulated I/O operations"),
    Int("duration_ms", 1000, 10, 3000, "how long each one sleeps (the tutorial: 1000)"),
    Choice("start_method", "spawn", ("spawn", "fork", "forkserver"), "how the process pool starts its workers"),
)


def simulate_io(duration):
    time.sleep(duration)
    return duration


def rounds(workers, tasks):
    """Equal tasks on a pool of `workers` go in this many rounds."""
    return -(-tasks // workers)


def ideal_speedup(workers, tasks):
    """The best a pool can do with equal tasks: the serial time over its rounds' time (10 on 4: 3.33)."""
    return round(tasks / rounds(workers, tasks), 2)


def run(params, rec):
    durations = [params["duration_ms"] / 1000] * params["tasks"]  # Simulate I/O operations (the tutorial: 10)
    task = traced(simulate_io, rec, "simulate_io({})", "sleep")

    # Serial execution, on main: the yardstick
    with rec.activity("serial", "phase"):
        start_time = time.time()
        results = list(map(task, durations))
        serial_time = time.time() - start_time

    # Thread pool execution
    with rec.activity("thread pool", "phase"):
        start_time = time.time()
        with ThreadPoolExecutor(max_workers=params["workers"]) as executor:
            results = list(executor.map(task, durations))
        thread_time = time.time() - start_time

    # Process pool execution
    context = multiprocessing.get_context(params["start_method"])
    with rec.activity("process pool", "phase"):
        start_time = time.time()
        with ProcessPoolExecutor(max_workers=params["workers"], mp_context=context) as executor:
            results = list(executor.map(task, durations))
        process_time = time.time() - start_time

    ideal = ideal_speedup(params["workers"], len(durations))
    return {"results": results, **speedup.report(serial_time, thread_time, process_time, ideal)}


def findings(params, result, python, cpu=None):
    """What this run showed: each pool's speedup over the serial run, against the rounds the tasks needed
    (`cpu`: the run's CPU budget, app/model/findings.py, for what the run measured of each phase)."""
    from experiments.harness.wording import plural

    tasks, workers = params["tasks"], params["workers"]
    said = speedup.findings(params, result, f"{plural(tasks, 'task')} in {plural(rounds(workers, tasks), 'round')} "
                            f"of up to {workers}", cpu)
    t, ideal = result["thread_speedup"], result["ideal_speedup"]
    if ideal > 1:
        said.insert(1, f"The threads reached {t / ideal:.0%} of the ideal: sleeping threads wait together."
                    if t >= ideal * 0.8 else
                    f"The threads reached only {t / ideal:.0%} of the ideal: with {params['duration_ms']} ms sleeps, "
                    "starting threads and handing back results is a visible share of the time.")
        extra = result["process_ms"] - result["thread_ms"]
        startup = speedup.phase_budget(cpu, "process pool").get("first_task_ms")
        if extra > 0 and startup is not None and startup >= extra / 2:
            said.insert(2, f"The process pool took {extra:.0f} ms longer than the thread pool: its first task began "
                        f"only {startup:.0f} ms into it, starting its processes ({params['start_method']}), which "
                        "threads need not do.")
        elif extra > 0:
            began = "" if startup is None else f" (its first task began {startup:.0f} ms into it)"
            said.insert(2, f"The process pool took {extra:.0f} ms longer than the thread pool{began}: the run "
                        "cannot tell how much of it was starting its processes.")
    return said


def verdict(params, result, python, cpu=None):
    """The lesson, judged by this run's speedups: sleeping (I/O) threads wait together."""
    t, p, ideal = result["thread_speedup"], result["process_speedup"], result["ideal_speedup"]
    if ideal <= 1:
        return None, "With one worker, or one task, neither pool could wait for two tasks at once."
    if t >= min(ideal * 0.5, 1.5):
        return True, (f"Threads were {t:.2f}× as fast as serial (processes {p:.2f}×): waiting on I/O, the GIL "
                      "does not hold threads back.")
    why = speedup.shortfall(cpu, "thread pool", "the run does not measure what did (starting the threads and "
                                                "handing back results are what else takes time)")
    return False, f"Threads were only {t:.2f}× as fast as serial this time: {why}."
