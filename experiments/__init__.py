"""Concurrency experiments: one module each, stdlib only, runnable on CPython 3.9+.

Each module exposes ID, TITLE, SUMMARY, KIND ("threads" or "processes"), NOTICE (what to
look for), PARAMS (experiments.harness.params specs, `workers` among them) and `run(params, rec)`,
which returns the result values. This package never imports the server (`app`). What runs an
experiment and records it (the runner, the recorder, the params' specs, the recorded primitives the
experiments import) is its subpackage, experiments/harness/; experiments/fibonacci.py stays beside the
experiments, as subinterpreters import it by its name.

FIXED_VARIANT (optional), {"experiment": ID, "params": {...}}, names the run that fixes the bug
the tutorial's code shows: another experiment (default: the same one) with these params changed,
the rest carried over. The run page offers it ("Run the fixed variant") and compares the two.

MEASURES_TIME = True marks an experiment whose lesson is a timing (a speedup, the cost of a
lock, when threads switch): the server then runs it alone, with nothing else executing beside
it. The others (default False) teach an order of events or a blocking behaviour that holds
whatever the load: waits on sleeps, queues, conditions, pipes and joins come out the same
beside another run, so they may share the CPU up to LAB_MAX_CONCURRENT_RUNS.

NEEDS (optional) names what the experiment needs of its interpreter beyond Python 3.9, e.g.
("interpreter_pool",): InterpreterPoolExecutor. The lab offers it only on the interpreters that have it
(app/running/pythons.py), and says of the others why not.

TASKS_WAIT = True marks an experiment whose tasks wait (sleep) rather than compute, and whose result's
`ideal_speedup` is therefore not bounded by the cores: a sweep draws that as its ideal (app/drawing/sweeps.py).

A teacher's own experiments keep the same contract, in a directory of theirs (LAB_EXPERIMENTS_DIR), imported
as `experiments.own.NAME` (experiments/own/__init__.py; docs/experiments.md has the contract for them).
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
    "experiments.asyncio_gather",
    "experiments.asyncio_blocked_loop",
    "experiments.asyncio_queue",
    "experiments.interpreters_cpu",
)
# The tutorial's sections, in its order, each with its experiments: the home page groups them so.
SECTIONS = (
    ("Global Interpreter Lock", ("experiments.race_counter",)),
    ("Thread programming", ("experiments.thread_start_join", "experiments.thread_subclass")),
    ("Thread communication", ("experiments.shared_list_polling", "experiments.queue_producer_consumer")),
    ("Thread synchronization", ("experiments.lock_counter", "experiments.rlock_counter",
                                "experiments.condition_dialogue", "experiments.semaphore_crawler")),
    ("Thread pools", ("experiments.thread_pool",)),
    ("Comparing threads and processes", ("experiments.cpu_threads_vs_processes", "experiments.io_threads_vs_processes")),
    ("Process programming", ("experiments.fork", "experiments.process_pool_starmap")),
    ("Process communication", ("experiments.mp_queue", "experiments.mp_pipe", "experiments.manager_dict")),
    ("Beyond the tutorial: asyncio", ("experiments.asyncio_gather", "experiments.asyncio_blocked_loop",
                                      "experiments.asyncio_queue")),
    ("Beyond the tutorial: subinterpreters", ("experiments.interpreters_cpu",)),
)
