"""The tutorial's fetch_page on a ThreadPoolExecutor, its results collected four ways.

The four ways are the tutorial's four examples: future.result() in submit order,
as_completed(), executor.map(), and wait(FIRST_COMPLETED) followed by as_completed().
"""
from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, as_completed, wait

from experiments.blocking import waited
from experiments.params import Choice, Int
from experiments.recorder import traced

ID = "thread-pool"
TITLE = "Thread pool: collecting results"
SUMMARY = "The same three page fetches on a ThreadPoolExecutor; how you collect decides when main sees each result."
KIND = "threads"
NOTICE = (
    "The worker lanes are the pool's threads: with max_workers=2 the third fetch starts only "
    "when a thread is free. The result marks on main are the moments main received each result. "
    "collect=result and collect=map hand results back in submit order, so main waits for "
    "the slow first fetch and then gets the others at once, although they were ready long "
    "before. collect=as_completed hands each result back as soon as it is ready. "
    "collect=wait_first blocks in wait(FIRST_COMPLETED) until the first fetch is done, "
    "then takes them all as they complete. With delays 1,2,3 (the tutorial's first "
    "example) the tasks finish in submit order, so every way gives the same order."
)
EXPECTED = (
    "With delays 3,1,2: result and map give order [0, 1, 2] at about 3 units; as_completed "
    "and wait_first give task 1 first, after 1 unit."
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

    order, results = [], []
    with ThreadPoolExecutor(max_workers=params["workers"]) as executor:
        for index, result in collect(rec, executor, task, urls, delays):
            rec.instant(f"got task {index}: {result}", "result")
            order.append(index)
            results.append(result)
    return {"order": order, "results": results}
