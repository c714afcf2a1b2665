"""The tutorial's processes writing into a Manager().dict()."""
from __future__ import annotations

import multiprocessing

from experiments.harness import ipc
from experiments.harness.params import Choice, Int

ID = "manager-dict"
TITLE = "Manager dict: shared data in a server process"
SUMMARY = "A Manager().dict() lives in the manager's own process; the other processes send it every read and write."
KIND = "processes"
NOTICE = (
    "Processes share no memory, so the dict is not in any of them: it lives in the "
    "manager, a server process started by Manager(). The workers and main hold proxies. "
    "Each `shared_dict[key] = value` is a request to the manager (the worker's "
    "DictProxy.__setitem__ wait span) and the manager doing it (__setitem__ on the "
    "manager's lanes, at the same moment). The manager answers each client process on a "
    "thread of its own, named after that client: \"manager · <client>\". Printing the dict "
    "in main is one more request (__repr__)."
)
EXPECTED = "Every worker's key is in the dict at the end (actual equals expected)."
PARAMS = (
    Int("workers", 5, 1, 16, "processes writing one key each (the tutorial: 5)"),
    Choice("start_method", "spawn", ("spawn", "fork", "forkserver"), "how the manager and the workers are started"),
)


def update_shared_data(shared_dict, key, value):
    shared_dict[key] = value


def main(rec, context, workers):
    manager = ipc.Manager(rec, context)
    shared_dict = manager.dict()

    processes = []
    for i in range(workers):
        p = context.Process(
            target=update_shared_data,
            args=(shared_dict, f"Key-{i}", f"Value-{i}"),
            name=f"writer-{i}",
        )
        processes.append(p)
        p.start()

    with rec.activity("Process.join", "wait"):
        for p in processes:
            p.join()

    print("Shared data:", shared_dict)
    return shared_dict.copy()


def run(params, rec):
    context = multiprocessing.get_context(params["start_method"])
    shared = main(rec, context, params["workers"])
    expected = {f"Key-{i}": f"Value-{i}" for i in range(params["workers"])}
    return {"expected": expected, "actual": shared}


def findings(params, result, python):
    """What this run showed: which keys reached the manager's dict."""
    from experiments.harness.wording import plural

    expected, actual = result["expected"], result["actual"]
    missing = [k for k in expected if k not in actual]
    if not missing and actual == expected:
        return [f"All {plural(len(expected), 'key')} reached the dict in the manager process: each worker's write was a "
                "request to it, and it did them all."]
    wrong = [k for k in expected if k in actual and actual[k] != expected[k]]
    return [f"{len(expected) - len(missing)} of {plural(len(expected), 'key')} reached the manager's dict"
            + (f"; missing: {', '.join(missing)}" if missing else "")
            + (f"; with other values: {', '.join(wrong)}" if wrong else "") + "."]


def verdict(params, result, python):
    """The lesson, judged by which keys reached the manager's dict."""
    expected, actual = result["expected"], result["actual"]
    arrived = sum(1 for k in expected if k in actual and actual[k] == expected[k])
    if arrived == len(expected):
        return True, f"All {arrived} workers' writes reached the one dict in the manager process."
    return False, f"Only {arrived} of {len(expected)} writes reached the manager's dict."
