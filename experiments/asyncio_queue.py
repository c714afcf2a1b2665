"""The asyncio twin of the tutorial's Queue example: one producer task, consumer tasks awaiting get()."""
from __future__ import annotations

import asyncio

from experiments.harness.params import Choice, Int

ID = "asyncio-queue"
TITLE = "Producer and consumers on an asyncio.Queue"
SUMMARY = "The Queue example with tasks instead of threads: consumers await Queue.get on one thread; join() waits for task_done()."
KIND = "threads"
NOTICE = (
    "The same story as queue-producer-consumer, with tasks on one thread instead of threads. "
    "While the producer awaits its sleep, the consumers wait in `await Queue.get`: no run spans, and "
    "the loop's thread is off the CPU. Each item put lets one consumer take a step. Main's "
    "`await queue.join()` returns once task_done() was called for every item. Then the difference "
    "from threads: with variant=tutorial the consumers still loop forever, awaiting Queue.get, but a "
    "task waiting on an await can be cancelled, and asyncio.run cancels every task left when main "
    "returns, so the program ends (their waits end in a cancel). variant=fixed stops each with a None sentinel."
)
EXPECTED = ("tutorial: \"All tasks completed\", the consumers cancelled by asyncio.run's end; fixed: every "
            "consumer stopped at its sentinel.")
PARAMS = (
    Choice("variant", "tutorial", ("tutorial", "fixed"), "tutorial: consumers loop forever; fixed: a None sentinel stops each"),
    Int("workers", 3, 1, 8, "consumer tasks (the tutorial: 3)"),
    Int("items", 10, 1, 50, "items the producer puts (the tutorial: 10)"),
    Int("maxsize", 20, 1, 50, "Queue(maxsize): put() waits while the queue is full (the tutorial: 20)"),
    Int("produce_delay_ms", 2000, 0, 10_000, "the producer sleeps this long before putting (the tutorial: 2 s)"),
    Int("process_ms", 500, 0, 5_000, "time to process one item (the tutorial: 0.5 s)"),
)
FIXED_VARIANT = {"params": {"variant": "fixed"}}


async def process_data(rec, queue, process_s):
    while True:
        item = await queue.get()  # Waits if queue is empty
        rec.counter("queue depth", queue.qsize())
        print(f"Processing: {item}")
        await asyncio.sleep(process_s)
        queue.task_done()


async def process_data_fixed(rec, queue, process_s):
    while True:
        item = await queue.get()
        rec.counter("queue depth", queue.qsize())
        if item is None:  # the sentinel: no more items will come
            break
        print(f"Processing: {item}")
        await asyncio.sleep(process_s)
        queue.task_done()


async def generate_data(rec, queue, delay_s, items):
    print("Generating data...")
    await asyncio.sleep(delay_s)
    for i in range(items):
        await queue.put(f"Item-{i}")
        rec.counter("queue depth", queue.qsize())
    print("Data generation complete")


async def main(rec, params, consumers):
    fixed = params["variant"] == "fixed"
    process_s = params["process_ms"] / 1000
    data_queue: asyncio.Queue = asyncio.Queue(maxsize=params["maxsize"])

    producer = asyncio.create_task(generate_data(rec, data_queue, params["produce_delay_ms"] / 1000, params["items"]),
                                   name="producer")
    for i in range(params["workers"]):
        consume = process_data_fixed if fixed else process_data
        consumers.append(asyncio.create_task(consume(rec, data_queue, process_s), name=f"consumer-{i + 1}"))

    await producer
    await data_queue.join()  # Wait for all items to be processed
    print("All tasks completed")

    if fixed:
        for _ in consumers:
            await data_queue.put(None)
        await asyncio.gather(*consumers)
    return sum(not c.done() for c in consumers)


def run(params, rec):
    consumers: list[asyncio.Task] = []
    still_running = rec.asyncio_run(main(rec, params, consumers))
    # variant=tutorial: main returned with the consumers awaiting Queue.get; asyncio.run cancelled them.
    return {"items": params["items"], "consumers_still_running": still_running,
            "consumers_cancelled": sum(c.cancelled() for c in consumers)}


def findings(params, result, python):
    """What this run showed: every item processed, and how the consumers ended."""
    from experiments.harness.wording import plural

    said = [f"queue.join() returned: task_done() was called for each of the {plural(result['items'], 'item')}, so "
            "main printed \"All tasks completed\"."]
    still, cancelled = result["consumers_still_running"], result["consumers_cancelled"]
    if still:
        said.append(f"{plural(still, 'consumer was', 'consumers were')} still awaiting Queue.get when main returned; "
                    f"asyncio.run cancelled {plural(cancelled, 'task')} as it ended, so the program could end "
                    "anyway: unlike a thread blocked in Queue.get, a task waiting on an await can be cancelled.")
    else:
        said.append(f"Every consumer ({params['workers']}) stopped at its None sentinel before main returned.")
    return said


def verdict(params, result, python):
    """The lesson, judged by this run: queue.join returns, and how the consumers stopped."""
    from experiments.harness.wording import plural

    still, cancelled = result["consumers_still_running"], result["consumers_cancelled"]
    if still:
        return True, (f"queue.join() returned with {plural(still, 'consumer')} still awaiting Queue.get: "
                      f"asyncio.run cancelled {plural(cancelled, 'task')}, and the program ended.")
    return True, f"Every consumer stopped at its sentinel after {plural(result['items'], 'item')}."
