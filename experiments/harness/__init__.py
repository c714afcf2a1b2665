"""The harness: what runs an experiment and records it, beside the experiments it runs (experiments/).

Stdlib only, runnable on CPython 3.9+ (it runs inside every interpreter a run may pick), and it never
imports the server (`app`). An experiment imports from it what it records with (its params' specs, the
recorder, the recorded primitives, the wording of its findings); the server starts `python -m
experiments.harness.runner` and reads what it writes. Its modules:

- runner: runs one experiment in its own process group and streams its events to fd 1 (JSON lines).
- recorder: the cheap calls an experiment makes to say what each worker is doing, written to the pipe.
- sampler: when the kernel had each thread on a CPU, read from outside the run (switch records or /proc).
- perf_events: asks the kernel for a record of every context switch of the run (perf_event_open).
- switch_records: the kernel's context-switch records, ring-buffer bytes in, on-CPU turns out (pure).
- lifeline: the runner's process group dies with the server.
- rlimits: a run's resource limits, applied by the runner to itself before the experiment loads.
- params: the parameter specs of an experiment and their validation (the server checks with them too).
- sync: threading's primitives recorded (Lock, RLock, Condition, Semaphore, Queue, join).
- blocking: recorded blocking calls that are not inter-process communication (sleep, waiting on results).
- ipc: multiprocessing's Queue, Pipe and Manager dict recorded.
- intervals: how long several things went on at once, on a run's own clock (pure).
- speedup: the times and speedups the threads-vs-processes experiments report.
- wording: measured figures in words, for the experiments' findings() (pure).
- stepper: the race stepper's controller, an experiment's threads one bytecode instruction at a time.
- baton: the stepper's threads, parked before each instruction until handed the baton.
- preemption: the stepper's "Find one for me", the schedule with the fewest forced switches that loses an update.
"""
