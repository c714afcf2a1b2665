"""Concurrency experiments: one module each, stdlib only, runnable on CPython 3.9+.

Each module exposes ID, TITLE, SUMMARY, KIND ("threads" or "processes"), NOTICE (what to
look for), PARAMS (experiments.params specs, `workers` among them) and `run(params, rec)`,
which returns the result values. This package never imports the server (`app`).
"""
from __future__ import annotations

MODULES = (
    "experiments.race_counter",
    "experiments.lock_counter",
    "experiments.cpu_threads_vs_processes",
    "experiments.thread_start_join",
    "experiments.thread_subclass",
    "experiments.shared_list_polling",
    "experiments.queue_producer_consumer",
    "experiments.rlock_counter",
    "experiments.condition_dialogue",
    "experiments.semaphore_crawler",
)
