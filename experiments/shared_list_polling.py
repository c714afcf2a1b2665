"""The tutorial's "shared variables" example: pollers check a plain list over and over."""
from __future__ import annotations

import threading
import time

from experiments.harness.blocking import sleep
from experiments.harness.params import Choice, Int
from experiments.harness.sync import join

ID = "shared-list-polling"
TITLE = "Polling a shared list"
SUMMARY = "Pollers that find the list empty sleep and look again: most of their looks are wasted, and they never stop."
KIND = "threads"
NOTICE = (
    "Every tick on a poller's lane is a look at the list that found it empty: a wasted wake-up. "
    "See where they fall: while the producer sleeps, and after the last item is gone. The "
    "tutorial's pollers loop `while True`, so its program never ends; to let the run end and "
    "count the ticks, variant=tutorial makes them give up after give_up_ms (the only change to "
    "its code): the ticks after the producer is done are the ones that would go on forever. "
    "The tutorial's `if len(data_queue): data_queue.pop(0)` is also a race: two pollers can "
    "both see one item, and the second pop then fails with IndexError. variant=fixed pops in "
    "one step (no check-then-act) and gives each poller a None sentinel after the last item, "
    "so they stop when the work is done. They still waste polls while they wait: the real fix "
    "is a Queue, whose get() sleeps until there is an item (see queue-producer-consumer)."
)
EXPECTED = (
    "tutorial: items_left 0 and empty-poll ticks until give_up_ms, long after the last item (if the producer "
    "is done before give_up_ms); fixed: the pollers stop after the last item, wasting polls only while they "
    "waited for items or for their sentinel."
)
PARAMS = (
    Choice("variant", "tutorial", ("tutorial", "fixed"), "tutorial: the code as written; fixed: atomic pop and sentinels"),
    Int("workers", 3, 1, 8, "poller threads (the tutorial: 3)"),
    Int("items", 10, 1, 50, "items the producer appends (the tutorial: 10)"),
    Int("produce_delay_ms", 2000, 0, 10_000, "the producer sleeps this long before appending (the tutorial: 2 s)"),
    Int("process_ms", 500, 0, 5_000, "time to process one item (the tutorial: 0.5 s)"),
    Int("poll_ms", 100, 20, 1_000, "sleep after an empty poll (the tutorial: 0.1 s)"),
    Int("give_up_ms", 6000, 500, 20_000, "variant=tutorial: pollers stop polling after this long (the tutorial: never)"),
)
# What fixes the tutorial's code, to compare with a run of it ("Run the fixed variant" on the run page).
FIXED_VARIANT = {"params": {"variant": "fixed"}}

data_queue: list[str | None] = []  # the items, then a None per poller
empty_polls: list[str] = []  # one entry per wasted poll (list.append is atomic, so no lock is needed)
polls_after_producer: list[str] = []  # the wasted polls that came after the producer had appended every item
producer: threading.Thread | None = None  # the generate_data thread: once it has ended, no item will ever come again


def empty_poll(rec):
    rec.instant("empty poll", "mark")
    empty_polls.append(threading.current_thread().name)
    assert producer is not None  # run() sets it before any poller starts
    if not producer.is_alive():
        polls_after_producer.append(threading.current_thread().name)


def process_data(rec, process_s, poll_s, give_up_at):
    while time.monotonic() < give_up_at:  # the tutorial: `while True` (see NOTICE)
        if len(data_queue):
            item = data_queue.pop(0)
            print(f"Processing item: {item}")
            sleep(rec, process_s)
        else:
            empty_poll(rec)
            time.sleep(poll_s)


def process_data_fixed(rec, process_s, poll_s):
    while True:
        try:
            item = data_queue.pop(0)  # look and take in one step: no other poller can come between
        except IndexError:
            empty_poll(rec)
            time.sleep(poll_s)
            continue
        if item is None:  # the sentinel: there will be no more items
            break
        print(f"Processing item: {item}")
        sleep(rec, process_s)


def generate_data(rec, delay_s, items):
    print("Generating data...")
    sleep(rec, delay_s)
    for i in range(items):
        data_queue.append(f"Item-{i}")
    print("Data generation complete")


def run(params, rec):
    global producer
    data_queue.clear()
    empty_polls.clear()
    polls_after_producer.clear()
    process_s, poll_s = params["process_ms"] / 1000, params["poll_ms"] / 1000
    fixed = params["variant"] == "fixed"

    data_thread = threading.Thread(target=generate_data, args=(rec, params["produce_delay_ms"] / 1000, params["items"]), name="generate_data")
    producer = data_thread
    data_thread.start()

    processors = []
    give_up_at = time.monotonic() + params["give_up_ms"] / 1000
    for i in range(params["workers"]):
        args = (rec, process_s, poll_s) if fixed else (rec, process_s, poll_s, give_up_at)
        processor = threading.Thread(target=process_data_fixed if fixed else process_data, args=args, name=f"process_data-{i + 1}")
        processor.start()
        processors.append(processor)

    if fixed:
        join(rec, data_thread)
        for _ in processors:
            data_queue.append(None)  # one sentinel per poller, after the last item
        join(rec, *processors)
    else:
        # The tutorial's main ends after starting the threads; joining them lets the result count the polls.
        join(rec, data_thread, *processors)
    return {
        "wasted_polls": len(empty_polls),
        "wasted_per_poller": {p.name: empty_polls.count(p.name) for p in processors},
        "wasted_after_producer_done": len(polls_after_producer),
        "items_left": len(data_queue),
    }


def findings(params, result, python):
    """What this run showed: how many looks were wasted, before and after the last item came."""
    from experiments.harness.wording import count, plural

    wasted, after = result["wasted_polls"], result["wasted_after_producer_done"]
    before = wasted - after
    said = []
    left = result["items_left"]
    if params["variant"] == "tutorial" and left:
        said.append(f"{count(left)} of {count(params['items'])} items were never processed: the pollers gave up "
                    f"after give_up_ms={params['give_up_ms']} before taking them (the producer sleeps "
                    f"{params['produce_delay_ms']} ms first).")
    said.append(f"{plural(wasted, 'look')} at the list found it empty: {count(before)} while the producer had not "
                f"finished, {count(after)} after it had appended every item"
                + (", when none would ever come again." if params["variant"] == "tutorial" else "."))
    if params["variant"] == "tutorial":
        if after:
            said.append("Those last ones are the polls the tutorial's `while True` would go on making forever; "
                        "here they stopped at give_up_ms.")
    else:
        said.append(f"The fixed pollers stopped at their sentinels, which main put after the producer was done: "
                    f"{plural(after, 'look')} came between the two.")
    return said


def verdict(params, result, python):
    """The lesson, judged by this run's polls: polling a shared list wastes looks."""
    from experiments.harness.wording import plural

    wasted, left = result["wasted_polls"], result["items_left"]
    if left:
        return True, f"Polling lost work: {plural(left, 'item was', 'items were')} never processed, after {plural(wasted, 'empty look')}."
    if wasted:
        return True, f"Polling wasted {plural(wasted, 'look')} at an empty list; every item was processed."
    return False, "No look was wasted this time: every poll found an item."
