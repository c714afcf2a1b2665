"""Test-only experiment: a producer hands items to a consumer through a Condition.

It exercises what the server draws beyond spans: notify → woken arrows, a counter series
("items waiting"), and a daemon thread whose sleep is cut off when the interpreter exits.
"""

from __future__ import annotations

import threading
import time

from experiments.harness.params import Int

ID = "handoff"
TITLE = "Hand-off through a Condition (test only)"
SUMMARY = "A producer notifies, a consumer wakes up and takes the item."
KIND = "threads"
NOTICE = "Each notify on the producer's lane ends a wait on the consumer's: an arrow joins them."
PARAMS = (
    Int("items", 4, 1, 100, "items handed over"),
    Int("consume_ms", 0, 0, 100, "how long the consumer works on each item: longer, and items pile up"),
)

items: list[int] = []


def producer(rec, condition, count):
    for i in range(count):
        with rec.activity("sleep(0.02)", "sleep"):
            time.sleep(0.02)
        with condition:
            items.append(i)
            rec.counter("items waiting", len(items))
            rec.instant("notify", "notify")
            condition.notify()


def consumer(rec, condition, count, seconds):
    for _ in range(count):
        with condition:
            while not items:
                with rec.activity("Condition.wait", "wait"):
                    condition.wait()
                rec.instant("woken", "woken")
            items.pop(0)
            rec.counter("items waiting", len(items))
        if seconds:
            with rec.activity(f"sleep({seconds:g})", "sleep"):
                time.sleep(seconds)


def heartbeat(rec):
    with rec.activity("sleep(3600)", "sleep"):
        time.sleep(3600)


def run(params, rec):
    items.clear()
    condition = threading.Condition()
    count = params["items"]
    threading.Thread(target=heartbeat, args=(rec,), name="heartbeat", daemon=True).start()
    threads = [
        threading.Thread(target=consumer, args=(rec, condition, count, params["consume_ms"] / 1000), name="consumer"),
        threading.Thread(target=producer, args=(rec, condition, count), name="producer"),
    ]
    for thread in threads:
        thread.start()
    with rec.activity("Thread.join", "wait"):
        for thread in threads:
            thread.join()
    return {"handed_over": count}
