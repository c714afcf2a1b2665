"""The tutorial's producer and consumer processes talking through a multiprocessing.Queue."""
from __future__ import annotations

import multiprocessing

from experiments.harness import ipc
from experiments.harness.blocking import sleep
from experiments.harness.params import Choice, Int

ID = "mp-queue"
TITLE = "Process Queue: producer and consumer"
SUMMARY = "Two processes share no memory; a multiprocessing.Queue carries items from one to the other."
KIND = "processes"
NOTICE = (
    "The producer and the consumer are separate processes (their lanes show their own "
    "pids). Each arrow goes from a put to the get it wakes up: the consumer spends its "
    "time blocked in Queue.get, waiting for the producer's next item. The consumer cannot "
    "know the producer is done, so main puts None once the producer has finished: that "
    "sentinel is the last arrow, and the consumer's loop stops on it."
)
EXPECTED = "The consumer prints every item in order, then stops on the None sentinel put by main."
PARAMS = (
    Int("items", 5, 1, 50, "how many items the producer puts (the tutorial: 5)"),
    Int("interval_ms", 500, 10, 2000, "how long the producer sleeps after each put (the tutorial: 500)"),
    Choice("start_method", "spawn", ("spawn", "fork", "forkserver"), "how the processes are started"),
)


def producer(queue, rec, items, interval):
    for i in range(items):
        queue.put(f"Item-{i}")
        sleep(rec, interval)
    print("Producer finished")


def consumer(queue):
    while True:
        item = queue.get()
        if item is None:  # Sentinel value to stop
            break
        print(f"Consumed: {item}")
    print("Consumer finished")


def run(params, rec):
    context = multiprocessing.get_context(params["start_method"])
    queue = ipc.Queue(rec, context)

    prod = context.Process(target=producer, args=(queue, rec, params["items"], params["interval_ms"] / 1000),
                           name="producer")
    cons = context.Process(target=consumer, args=(queue,), name="consumer")

    prod.start()
    cons.start()

    with rec.activity("Process.join", "wait"):
        prod.join()
    queue.put(None)  # Send sentinel value
    with rec.activity("Process.join", "wait"):
        cons.join()
    return {"items": params["items"], "producer_exitcode": prod.exitcode, "consumer_exitcode": cons.exitcode}


def findings(params, result, python):
    """What this run showed: both processes ended, and how."""
    from experiments.harness.wording import plural

    p, c = result["producer_exitcode"], result["consumer_exitcode"]
    if p == 0 and c == 0:  # what the consumer got is in its prints (the Output): not counted here
        return [f"The producer put {plural(result['items'], 'item')} and exited; the consumer left its loop, which "
                "only main's None sentinel ends, and exited: both with exit code 0. The Output lists what it got."]
    return [f"Exit codes: producer {p}, consumer {c}: a process failed (see its lane and the output)."]


def verdict(params, result, python):
    """The lesson, judged by how both processes ended."""
    p, c = result["producer_exitcode"], result["consumer_exitcode"]
    if p == 0 and c == 0:
        return True, ("Both processes ended with exit code 0: the consumer left its loop on main's None sentinel "
                      "(the Output lists each item it got).")
    return False, f"A process failed: producer exit code {p}, consumer {c}."
