"""Concurrency experiments: one module each, stdlib only, runnable on CPython 3.9+.

Each module exposes ID, TITLE, SUMMARY, KIND ("threads" or "processes"), NOTICE (what to
look for), PARAMS (experiments.params specs, `workers` among them) and `run(params, rec)`,
which returns the result values. This package never imports the server (`app`).
"""
from __future__ import annotations

MODULES = (  # in the tutorial's order
    "experiments.race_counter",
    "experiments.thread_start_join",
    "experiments.thread_subclass",
    "experiments.shared_list_polling",
    "experiments.queue_producer_consumer",
    "experiments.lock_counter",
    "experiments.rlock_counter",
    "experiments.condition_dialogue",
    "experiments.semaphore_crawler",
    "experiments.thread_pool",
    "experiments.cpu_threads_vs_processes",
    "experiments.io_threads_vs_processes",
    "experiments.fork",
    "experiments.process_pool_starmap",
    "experiments.mp_queue",
    "experiments.mp_pipe",
    "experiments.manager_dict",
)
