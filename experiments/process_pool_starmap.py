"""The tutorial's process_task on a multiprocessing.Pool, handed out with starmap."""
from __future__ import annotations

import multiprocessing
import time

from experiments.params import Choice, Int
from experiments.recorder import traced

ID = "process-pool-starmap"
TITLE = "Process pool: Pool.starmap"
SUMMARY = "Pool(processes=2).starmap hands (task_id, duration) tuples to two worker processes and returns results in task order."
KIND = "processes"
NOTICE = (
    "Each worker lane is a separate process (its own pid). A worker takes the next task "
    "as soon as it is free, so short and long tasks interleave: with 2 workers the five "
    "tasks of 1 or 2 units take about 4 units, not 7. Main is blocked in Pool.starmap "
    "until the last task is done, and then prints every result at once, in task order, "
    "whichever worker ran it and whenever it finished. Leaving the `with` block "
    "terminates the workers."
)
EXPECTED = "Results in task order; tasks spread over the workers; total about half the sum of the durations with 2 workers."
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
            results = pool.starmap(task, tasks)

        for result in results:
            print(result)
    return {"results": results}
