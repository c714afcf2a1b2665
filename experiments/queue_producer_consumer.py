"""The tutorial's Queue example: one producer, consumers blocked in get() until items come."""
from __future__ import annotations

import threading

from experiments.harness.blocking import sleep
from experiments.harness.params import Choice, Int
from experiments.harness.sync import Queue, join

ID = "queue-producer-consumer"
TITLE = "Producer and consumers on a Queue"
SUMMARY = "Consumers block in Queue.get() instead of polling; task_done() and join() tell main when all is processed."
KIND = "threads"
NOTICE = (
    "While the producer sleeps, the consumers wait in Queue.get without using any CPU: no "
    "polling ticks. Each item put wakes one of them; the depth series under the lanes goes up "
    "when the producer puts and down as consumers take. With a small maxsize the producer "
    "itself can have to wait in Queue.put until there is room. Main's Queue.join ends once task_done() "
    "has been called for every item, and it prints \"All tasks completed\". But the tutorial's "
    "consumers loop forever: after the last item they block in Queue.get again and never come "
    "back, and as they are not daemon threads the program can never exit: with "
    "variant=tutorial the run hangs, every consumer blocked on Queue.get. variant=fixed puts "
    "one None sentinel per consumer after join(); a consumer that gets None stops, so the "
    "program ends. (Daemon consumers would also let it exit, by killing them mid-get: fine "
    "here, but a daemon killed in the middle of an item loses it.)"
)
EXPECTED = (
    "tutorial: \"All tasks completed\", then the run hangs, every consumer in Queue.get and main in "
    "Thread.join (interpreter exit); fixed: done, consumers_still_running 0."
)
PARAMS = (
    Choice("variant", "tutorial", ("tutorial", "fixed"), "tutorial: consumers loop forever; fixed: a None sentinel stops each"),
    Int("workers", 3, 1, 8, "consumer threads (the tutorial: 3)"),
    Int("items", 10, 1, 50, "items the producer puts (the tutorial: 10)"),
    Int("maxsize", 20, 1, 50, "Queue(maxsize): put() blocks while the queue is full (the tutorial: 20)"),
    Int("produce_delay_ms", 2000, 0, 10_000, "the producer sleeps this long before putting (the tutorial: 2 s)"),
    Int("process_ms", 500, 0, 5_000, "time to process one item (the tutorial: 0.5 s)"),
)
# What fixes the tutorial's code, to compare with a run of it ("Run the fixed variant" on the run page).
FIXED_VARIANT = {"params": {"variant": "fixed"}}


def process_data(rec, queue, process_s):
    while True:
        item = queue.get()  # Blocks if queue is empty
        print(f"Processing: {item}")
        sleep(rec, process_s)
        queue.task_done()


def process_data_fixed(rec, queue, process_s):
    while True:
        item = queue.get()
        if item is None:  # the sentinel: no more items will come
            break
        print(f"Processing: {item}")
        sleep(rec, process_s)
        queue.task_done()


def generate_data(rec, queue, delay_s, items):
    print("Generating data...")
    sleep(rec, delay_s)
    for i in range(items):
        queue.put(f"Item-{i}")
    print("Data generation complete")


def run(params, rec):
    fixed = params["variant"] == "fixed"
    process_s = params["process_ms"] / 1000
    data_queue = Queue(rec, maxsize=params["maxsize"])

    producer = threading.Thread(target=generate_data, args=(rec, data_queue, params["produce_delay_ms"] / 1000, params["items"]), name="producer")
    producer.start()

    consumers = []
    for i in range(params["workers"]):
        consumer = threading.Thread(target=process_data_fixed if fixed else process_data, args=(rec, data_queue, process_s), name=f"consumer-{i + 1}")
        consumer.start()
        consumers.append(consumer)

    join(rec, producer)
    data_queue.join()  # Wait for all items to be processed
    print("All tasks completed")

    if fixed:
        for _ in consumers:
            data_queue.put(None)
        join(rec, *consumers)
    # variant=tutorial: run() returns, and the runner, like the interpreter at exit, waits for
    # the consumers, which are blocked in Queue.get for good.
    return {"items": params["items"], "consumers_still_running": sum(c.is_alive() for c in consumers)}


def findings(params, result, python):
    """What this run showed: every item processed, and whether the consumers could stop."""
    from experiments.harness.wording import plural

    still = result["consumers_still_running"]
    said = [f"Queue.join returned: task_done() was called for each of the {plural(result['items'], 'item')}, so "
            "main printed "
            "\"All tasks completed\"."]
    if still:
        said.append(f"{plural(still, 'consumer was', 'consumers were')} still running then, blocked in Queue.get for "
                    "items that will never come; they are not daemon threads, so the interpreter waits for them at "
                    "exit, for ever: the run cannot end by itself.")
    else:
        said.append(f"Every consumer ({params['workers']}) stopped at its None sentinel, so the program could end.")
    return said


def verdict(params, result, python):
    """The lesson, judged by this run: Queue.join returns, but can the consumers stop?"""
    from experiments.harness.wording import plural

    still = result["consumers_still_running"]
    if still:
        return True, (f"Queue.join returned, but {plural(still, 'consumer was', 'consumers were')} still blocked in "
                      "Queue.get: without a sentinel the program cannot end.")
    return True, f"Every consumer stopped at its sentinel after {plural(result['items'], 'item')}: the program could end."
