"""The tutorial's fetch_page on a ThreadPoolExecutor, its results collected four ways.

The four ways are the tutorial's four examples: future.result() in submit order,
as_completed(), executor.map(), and wait(FIRST_COMPLETED) followed by as_completed().
"""
from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, as_completed, wait

from experiments.harness.blocking import waited
from experiments.harness.params import Choice, Int
from experiments.harness.recorder import traced

ID = "thread-pool"
TITLE = "Thread pool: collecting results"
SUMMARY = "The same three page fetches on a ThreadPoolExecutor; how you collect decides when main sees each result."
KIND = "threads"
NOTICE = (
    "The worker lanes are the pool's threads: with fewer workers than fetches, a fetch starts "
    "only when a thread is free. The result marks on main are the moments main received each "
    "result: compare each with the end of its fetch on a worker lane. collect=result and "
    "collect=map hand results back in submit order, so a result that is ready early waits "
    "until every earlier one is in; collect=as_completed hands each back as it is ready; "
    "collect=wait_first blocks in wait(FIRST_COMPLETED) until one fetch is done, then takes "
    "them all as they complete. Whether the orders differ depends on when the fetches end: "
    "try delays 3,1,2 and 1,2,3, and workers 1."
)
# Its tasks sleep (the fetches): its ideal_speedup, over one worker, needs no core per task (app/drawing/sweeps.py).
TASKS_WAIT = True
EXPECTED = (
    "result and map: order [0, 1, 2], each result received no earlier than those before it; as_completed and "
    "wait_first: completion order (with delays 3,1,2 and 2 or more workers, task 1 first, after 1 unit)."
)
PARAMS = (
    Int("workers", 2, 1, 8, "max_workers of the pool"),
    Choice("collect", "result", ("result", "as_completed", "map", "wait_first"),
           "how main collects the results"),
    Choice("delays", "3,1,2", ("3,1,2", "1,2,3"), "each fetch's delay, in units (the tutorial's seconds)"),
    Int("delay_ms", 1000, 10, 2000, "length of one delay unit in milliseconds (the tutorial: 1000)"),
)


def fetch_page(url, delay):
    time.sleep(delay)
    return f"Fetched: {url} in {delay} seconds"


# Each collector is one of the tutorial's examples, yielding (task index, result) where the
# tutorial prints the result, so run() can mark the moment main got it. The `fetch_page`
# they are given is the traced one: each call is drawn on the pool thread that runs it.

def collect_result(rec, executor, fetch_page, urls, delays):
    # Submit tasks
    futures = [executor.submit(fetch_page, url, delay)
               for url, delay in zip(urls, delays)]

    # Check task completion
    for index, future in enumerate(futures):
        with rec.activity("Future.result", "wait"):
            result = future.result()
        yield index, result


def collect_as_completed(rec, executor, fetch_page, urls, delays):
    futures = [executor.submit(fetch_page, url, delay)
               for url, delay in zip(urls, delays)]

    # Results will be returned in completion order
    for future in waited(rec, "as_completed", as_completed(futures)):
        yield futures.index(future), future.result()


def collect_map(rec, executor, fetch_page, urls, delays):
    # Results will be returned in input order
    results = executor.map(lambda args: fetch_page(*args),
                           list(zip(urls, delays)))
    for index, result in enumerate(waited(rec, "Executor.map", results)):
        yield index, result


def collect_wait_first(rec, executor, fetch_page, urls, delays):
    futures = [executor.submit(fetch_page, url, delay)
               for url, delay in zip(urls, delays)]

    # Wait for first task to complete
    with rec.activity("wait(FIRST_COMPLETED)", "wait"):
        wait(futures, return_when=FIRST_COMPLETED)
    print("First task completed")

    # Process remaining results
    for future in waited(rec, "as_completed", as_completed(futures)):
        yield futures.index(future), future.result()


COLLECTORS = {
    "result": collect_result,
    "as_completed": collect_as_completed,
    "map": collect_map,
    "wait_first": collect_wait_first,
}


def run(params, rec):
    urls = ["https://example.com", "https://example.org", "https://example.net"]
    delays = [int(units) * params["delay_ms"] / 1000 for units in params["delays"].split(",")]
    task = traced(fetch_page, rec, "fetch_page({0}, {1})", "sleep")
    collect = COLLECTORS[params["collect"]]
    unit, started, ready = params["delay_ms"] / 1000, {}, {}

    def fetch(url, delay):  # the traced fetch_page, noting when each fetch started and was ready
        index = urls.index(url)
        started[index] = time.monotonic()
        result = task(url, delay)
        ready[index] = time.monotonic()
        return result

    order, results, received = [], [], []
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=params["workers"]) as executor:
        for index, result in collect(rec, executor, fetch, urls, delays):
            received.append(time.monotonic())
            rec.instant(f"got task {index}: {result}", "result")
            order.append(index)
            results.append(result)

    def units(t):  # seconds since the first submit, in delay units
        return round((t - start) / unit, 2)

    return {
        "order": order, "results": results,
        # by task index: when its fetch started and ended, and when main received its result
        "started_units": [units(started[i]) for i in range(len(urls))],
        "ready_units": [units(ready[i]) for i in range(len(urls))],
        "received_units": [units(received[order.index(i)]) for i in range(len(urls))],
        # The fetches' best time on one worker over theirs on these workers: they sleep, so no core bounds it.
        "ideal_speedup": round(makespan_units(delays, 1) / makespan_units(delays, params["workers"]), 2),
    }


def makespan_units(delays, workers):
    """How long the fetches take if each goes, in submit order, to the first free of `workers` threads."""
    free = [0.0] * workers
    for delay in delays:
        at = free.index(min(free))
        free[at] += delay
    return max(free)


def findings(params, result, python):
    """What this run showed: in which order main got the results, and how long each sat ready."""
    order, ready, received = result["order"], result["ready_units"], result["received_units"]
    started, workers = result["started_units"], params["workers"]
    done_order = sorted(range(len(ready)), key=lambda i: ready[i])
    said = [f"Main received the results in the order {order}; the fetches ended in the order {done_order} "
            f"(at {', '.join(f'{ready[i]:.2f}' for i in done_order)} units)."]
    late = [i for i in range(len(order)) if started[i] >= min(ready) - 0.05]  # waited for a free thread
    if workers < len(order) and late:
        said.append(f"With {workers} worker{'s' if workers != 1 else ''}, task{'s' if len(late) > 1 else ''} "
                    f"{', '.join(map(str, late))} started only when a thread was free "
                    f"(at {', '.join(f'{started[i]:.2f}' for i in late)} units).")
    # A result that sat ready for more than a tenth of a unit (and 5 ms) before main took it.
    waited = [i for i in order if received[i] - ready[i] > max(0.1, 5 / params["delay_ms"])]
    if waited:
        said.append("Ready before main took it: " + "; ".join(
            f"task {i} was ready at {ready[i]:.2f} units, received at {received[i]:.2f}" for i in waited)
            + (", behind an earlier task in submit order." if params["collect"] in ("result", "map") else "."))
    else:
        said.append("Main received every result as soon as it was ready (within a tenth of a unit)"
                    + (": in this run submit order was also completion order." if params["collect"] in ("result", "map")
                       and order == done_order else "."))
    return said


def verdict(params, result, python):
    """The lesson, judged by the order main got the results in against the order they were ready."""
    order, ready = result["order"], result["ready_units"]
    done_order = sorted(range(len(ready)), key=lambda i: ready[i])
    if order == done_order:
        return True, f"Main got each result as it was ready, in the order {order}."
    return True, (f"Main got the results in the order {order}, not the order they were ready in "
                  f"{done_order}: {params['collect']} waits in submit order.")
