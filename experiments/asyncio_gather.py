"""I/O-bound tasks overlapping on one thread with asyncio.gather, against the same work on a thread pool."""
from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

from experiments.harness.params import Choice, Int
from experiments.harness.recorder import traced

ID = "asyncio-gather"
TITLE = "I/O-bound tasks: asyncio.gather vs a thread pool"
SUMMARY = "Ten waits as asyncio tasks on one thread, then on a thread pool: the tasks all wait at once, no thread each."
KIND = "threads"
# Its result is a time against the sum of the waits: executes alone.
MEASURES_TIME = True
# Its tasks sleep: they need no core, so the ideal speedup (tasks over rounds) is not bounded by cores.
TASKS_WAIT = True
NOTICE = (
    "Each task has its own lane, but they all run on one thread: main's, the event loop's, whose "
    "on-CPU strip is under the task lanes. A task's short run spans are the steps the loop gives it; "
    "between them it waits in `await sleep`, and while every task waits the loop's thread is off the "
    "CPU. So the waits overlap without a thread each: the tasks end together, after about one sleep. "
    "The thread pool does the same work with one thread per worker, in rounds of `workers`."
)
EXPECTED = ("asyncio_speedup near the number of tasks (all wait at once on one thread); thread_speedup near "
            "tasks over rounds of `workers`.")
PARAMS = (
    Int("tasks", 10, 1, 40, "how many simulated I/O operations"),
    Int("duration_ms", 1000, 10, 3000, "how long each one waits (the tutorial: 1000)"),
    Int("workers", 4, 1, 16, "max_workers of the thread pool"),
    Choice("eager", "no", ("no", "yes"), "yes: tasks start eagerly, their first step when created (Python 3.12+)"),
)


async def simulate_io(duration):
    await asyncio.sleep(duration)  # a network call would await here too
    return duration


async def main(durations):
    return await asyncio.gather(*(simulate_io(d) for d in durations))


def simulate_io_blocking(duration):
    time.sleep(duration)
    return duration


def run(params, rec):
    durations = [params["duration_ms"] / 1000] * params["tasks"]

    # asyncio: one thread, one task per operation
    with rec.activity("asyncio.gather", "phase"):
        start_time = time.perf_counter()
        results = rec.asyncio_run(main(durations), eager=params["eager"] == "yes")
        asyncio_time = time.perf_counter() - start_time

    # Thread pool: one thread per worker
    task = traced(simulate_io_blocking, rec, "simulate_io({})", "sleep")
    with rec.activity("thread pool", "phase"):
        start_time = time.perf_counter()
        with ThreadPoolExecutor(max_workers=params["workers"]) as executor:
            results = list(executor.map(task, durations))
        thread_time = time.perf_counter() - start_time

    waits = sum(durations)
    return {"results": len(results), "waits_ms": round(waits * 1000, 1),
            "asyncio_ms": round(asyncio_time * 1000, 1), "thread_ms": round(thread_time * 1000, 1),
            "asyncio_speedup": round(waits / asyncio_time, 2), "thread_speedup": round(waits / thread_time, 2),
            "rounds": -(-len(durations) // params["workers"])}


def findings(params, result, python):
    """What this run showed: how much of the waiting overlapped, on one thread and on a pool."""
    from experiments.harness.wording import ms, plural

    tasks, workers = params["tasks"], params["workers"]
    a, t = result["asyncio_speedup"], result["thread_speedup"]
    said = [f"The {plural(tasks, 'task')} waited {ms(result['waits_ms'])} in all; as asyncio tasks on one thread "
            f"they took {ms(result['asyncio_ms'])}, {a:.2f}× faster than one wait after the other "
            f"(at best {tasks}×, all at once)."]
    said.append(f"The thread pool of {plural(workers, 'worker')} took {ms(result['thread_ms'])}, {t:.2f}× "
                f"(at best {tasks / result['rounds']:.2f}×: {plural(result['rounds'], 'round')} of up to {workers}).")
    if a > t * 1.1:
        said.append(f"asyncio was {a / t:.2f}× as fast as the pool here: every task waited at once, "
                    f"with no thread of its own, while the pool could wait only {workers} at a time.")
    elif t > a * 1.1:
        said.append(f"The pool was {t / a:.2f}× as fast as asyncio here: the loop's thread must have been held up.")
    else:
        said.append("asyncio and the pool took about as long: the pool had enough workers for the waits.")
    return said


def verdict(params, result, python):
    """The lesson, judged by this run: tasks that await overlap their waits on one thread."""
    tasks, a = params["tasks"], result["asyncio_speedup"]
    if tasks == 1:
        return None, "With one task there was nothing to overlap."
    if a >= min(tasks * 0.5, 1.5):
        return True, (f"{tasks} asyncio tasks on one thread finished {a:.2f}× faster than their waits one after "
                      "the other: awaiting, they waited together.")
    return False, f"The asyncio tasks were only {a:.2f}× faster than their waits in a row this time."
