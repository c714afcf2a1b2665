"""The tutorial's process_task on a multiprocessing.Pool, handed out with starmap."""
from __future__ import annotations

import multiprocessing
import time

from experiments.harness.params import Choice, Int
from experiments.harness.recorder import traced

ID = "process-pool-starmap"
TITLE = "Process pool: Pool.starmap"
SUMMARY = "Pool(processes=2).starmap hands (task_id, duration) tuples to two worker processes and returns results in task order."
KIND = "processes"
NOTICE = (
    "Each worker lane is a separate process (its own pid). A worker takes the next task "
    "as soon as it is free, so short and long tasks interleave: with 2 workers the five "
    "tasks of 1 or 2 units can be done in 4 units, not 7, plus what starting the workers "
    "costs. With many tasks starmap hands them out in chunks (tasks over 4 × workers, "
    "rounded up): a worker runs a whole chunk before it takes the next. Main is blocked in Pool.starmap until the last task is done, and then prints "
    "every result at once, in task order, whichever worker ran it and whenever it finished. "
    "Leaving the `with` block terminates the workers."
)
# Its tasks sleep: its ideal_speedup, over one worker, needs no core per task (app/drawing/sweeps.py).
TASKS_WAIT = True
EXPECTED = ("Results in task order; tasks spread over the workers; Pool.starmap takes about the tasks' best schedule "
            "on the workers (4 units for the defaults) plus the workers' start-up.")
PARAMS = (
    Int("workers", 2, 1, 8, "processes in the pool (the tutorial: 2)"),
    Int("tasks", 5, 1, 20, "tasks (i, i % 2 + 1) for i in range(tasks) (the tutorial: 5)"),
    Int("unit_ms", 1000, 10, 2000, "length of one duration unit in milliseconds (the tutorial: 1000)"),
    Choice("start_method", "spawn", ("spawn", "fork", "forkserver"), "how the pool starts its workers"),
)


def process_task(task_id, duration):
    time.sleep(duration)
    return f"Task {task_id} completed in {duration} seconds"


def run(params, rec):
    unit = params["unit_ms"] / 1000
    tasks = [(i, (i % 2 + 1) * unit) for i in range(params["tasks"])]  # (task_id, duration)
    task = traced(process_task, rec, "process_task({0}, {1})", "sleep")
    context = multiprocessing.get_context(params["start_method"])

    with context.Pool(processes=params["workers"]) as pool:
        # Process tasks asynchronously
        with rec.activity("Pool.starmap", "wait"):
            started = time.monotonic()
            results = pool.starmap(task, tasks)
            starmap_s = time.monotonic() - started

        for result in results:
            print(result)
    # The tasks' best schedule on one worker over theirs on these workers: they sleep, so no core bounds it.
    ideal = best_schedule_units(1, params["tasks"]) / best_schedule_units(params["workers"], params["tasks"])
    return {"results": results, "starmap_ms": round(starmap_s * 1000, 1), "ideal_speedup": round(ideal, 2)}


def starmap_chunksize(workers, tasks):
    """The chunksize Pool.starmap uses when given none: tasks over four times the workers, rounded up
    (multiprocessing.pool.Pool._map_async)."""
    chunksize, extra = divmod(tasks, workers * 4)
    return chunksize + 1 if extra else chunksize


def best_schedule_units(workers, tasks):
    """How long the tasks take, in units, as starmap hands them out (no start-up): in chunks of
    starmap_chunksize tasks, each chunk to the first free worker, in task order."""
    size = max(1, starmap_chunksize(workers, tasks))
    free = [0] * workers
    for first in range(0, tasks, size):
        at = min(range(workers), key=free.__getitem__)
        free[at] += sum(i % 2 + 1 for i in range(first, min(first + size, tasks)))
    return max(free)


def findings(params, result, python):
    """What this run showed: results in task order, and Pool.starmap's time against the tasks' best schedule."""
    results, unit_ms = result["results"], params["unit_ms"]
    ids = [int(text.split()[1]) for text in results]
    work = sum(i % 2 + 1 for i in range(params["tasks"]))
    best = best_schedule_units(params["workers"], params["tasks"])
    took = result.get("starmap_ms")
    from experiments.harness.wording import plural

    said = ["Main got the results in task order, " + ("as starmap promises." if ids == sorted(ids) else
            f"no: {ids}.")]
    size = starmap_chunksize(params["workers"], params["tasks"])
    handed = ("handing each task" if size == 1 else
              f"handing the tasks out {size} at a time (starmap's chunksize: {params['tasks']} tasks over "
              f"4 × {plural(params['workers'], 'worker')}, rounded up), each chunk")
    if took is not None:
        said.append(f"Pool.starmap took {took / unit_ms:.2f} units ({took:.0f} ms) for {plural(work, 'unit')} of work: "
                    f"{handed} to the first free of {plural(params['workers'], 'worker')}, they fit in "
                    f"{plural(best, 'unit')}; the other {max(took / unit_ms - best, 0):.2f} went to starting the "
                    f"workers ({params['start_method']}) and passing tasks and results between processes, which this "
                    "run does not tell apart.")
    return said


def verdict(params, result, python):
    """The lesson, judged by the order the results came in and starmap's time against the best schedule."""
    ids = [int(text.split()[1]) for text in result["results"]]
    if ids != sorted(ids):
        return False, f"The results came out of task order: {ids}."
    best = best_schedule_units(params["workers"], params["tasks"])
    took = result.get("starmap_ms")
    if took is None:
        return True, "The results came back in task order."
    return True, (f"The results came back in task order; starmap took {took / params['unit_ms']:.2f} units, "
                  f"the tasks' best schedule {best}.")
