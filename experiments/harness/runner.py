"""Run one experiment and stream its events to fd 1: `python -m experiments.harness.runner MODULE PARAMS_JSON`.

MODULE is an experiment module name (e.g. experiments.race_counter); PARAMS_JSON its params.
Without arguments the runner starts, then waits for its job: one JSON line on stdin,
{"module": MODULE, "params": PARAMS_JSON, "limits": {...}} (experiments/harness/rlimits.py). That is
how the server starts it, ahead of the run (app/running/runners.py), in its own process group, and
reads fd 1. Exit status: 0 done (or stdin closed with no job), 1 the experiment raised (an "F"
event says what), 2 bad invocation, 143 terminated (after flushing what was recorded).
"""
from __future__ import annotations

# Spawned children of an experiment import this module again (it is their __main__): what only
# the runner itself uses (dis, platform, traceback) is imported where it is used, so that every
# child process starts as fast as the tutorial's would.
import importlib
import io
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from types import ModuleType

from experiments.harness import lifeline, rlimits, sampler
from experiments.harness import params as params_module
from experiments.harness.recorder import FORMAT, Recorder, attach

ONCPU_ENV = "LAB_ONCPU"  # "0": no on-CPU sampling (the runner started with its job on the command line)


def _terminate(signum: int, frame: object) -> None:
    # Cancel and timeout send SIGTERM to the whole group first: keep what was recorded.
    # The signal may interrupt this very thread inside a flush: never wait long for its lock.
    rec = attach()
    rec.instant("terminated", "end")
    rec.flush(timeout=0.2)
    os._exit(128 + signum)


def _default_sigterm() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def main(argv: list[str]) -> int:
    import platform  # here, not at the top: see the imports
    import sysconfig
    import traceback

    if len(argv) not in (0, 2):
        print("usage: python -m experiments.harness.runner [MODULE PARAMS_JSON]", file=sys.stderr)
        return 2
    # The sampler is forked now, before any thread of ours or the experiment's exists; it opens the
    # kernel's switch records on us before fork() returns, so every thread started later is covered.
    oncpu_off = sampler.unavailable()
    oncpu_fd = _own_pipe()
    sampler_pid, sampler_control, oncpu_source = (
        sampler.fork(oncpu_fd) if oncpu_off is None else (0, None, {}))
    if oncpu_fd != 1:
        os.close(oncpu_fd)  # the sampler's alone: the server sees its end when the sampler exits
    if argv:
        (module_name, params_json), limits = argv, rlimits.from_env()
        wants_oncpu = os.environ.get(ONCPU_ENV, "1") != "0"
    else:
        import dis  # noqa: F401  (while waiting: the header's disassembly needs it)

        job = _wait_for_job()
        if job is None:  # the server stopped before it had a run for us
            return 0
        module_name, params_json, limits = job["module"], job["params"], job.get("limits")
        wants_oncpu = job.get("oncpu", True)
    if limits:
        rlimits.apply(limits)  # before the experiment is even imported
    module = importlib.import_module(module_name)
    # Our first thread starts only now, after the experiment is compiled, as in the tutorial's script. A
    # free-threaded 3.13 makes code immortal when a second thread starts, except code compiled once one
    # runs: threads calling such code fight over its reference count and do not run side by side.
    lifeline.hold()  # if the server dies without stopping this run, its process group dies too
    try:
        params = params_module.validate(module.PARAMS, json.loads(params_json))
    except (ValueError, params_module.ParamError) as exc:
        print(f"bad params: {exc}", file=sys.stderr)
        return 2

    oncpu_late = ""  # why the sampler may have missed the run's first threads and processes
    if sampler_pid and wants_oncpu:
        assert sampler_control is not None  # sampler.fork() gave both
        oncpu_late = sampler.start(sampler_control)
        if oncpu_late == sampler.ENDED:  # it died: no strips at all, and nothing to wait for at the end
            sampler.stop(sampler_pid, sampler_control)
            sampler_pid, oncpu_off, oncpu_late = 0, f"the on-CPU sampler {sampler.ENDED}", ""
    elif sampler_pid:
        assert sampler_control is not None
        sampler.stop(sampler_pid, sampler_control)
        sampler_pid, oncpu_off = 0, f"turned off ({ONCPU_ENV})"
    rec = attach(fd=1)
    if os.getpid() == rec.root_pid:  # only the runner itself, not children that import this module
        signal.signal(signal.SIGTERM, _terminate)
        # Not in a child it forks: a Python handler runs only between bytecodes, and a SIGTERM that came just
        # before a blocking call (a Pool worker's wait for its next task, as Pool.terminate() sends it) was
        # never handled: the worker waited forever, the pool's exit with it (6 runs in 1 000 under load). A
        # spawned child starts with the default, which kills; a forked one now too.
        os.register_at_fork(after_in_child=_default_sigterm)
    rec.header({
        "format": FORMAT,
        "experiment": module.ID,
        "params": params,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),  # PEP 703's build
        "gil_enabled": getattr(sys, "_is_gil_enabled", lambda: True)(),  # such a build may turn it on
        "executable": sys.executable,
        "pid": os.getpid(),
        "start_method": multiprocessing.get_start_method(),
        "cpus": os.cpu_count(),
        "loadavg": os.getloadavg()[0],
        "bytecode": _disassemble(module, params),
        "oncpu": ({"sampler_pid": sampler_pid, **oncpu_source, **({"late": oncpu_late} if oncpu_late else {})}
                  if sampler_pid else {"unavailable": oncpu_off}),
    })
    rec.flush()  # now, not at the flusher's next turn: the page draws the first lane from it
    started = time.monotonic_ns()
    try:
        result = module.run(params, rec)
    except BaseException as exc:
        rec.failure({
            "type": type(exc).__name__,
            "message": str(exc),
            "traceback": traceback.format_exc(),
        })
        _stop_sampler(sampler_pid, sampler_control)
        rec.close()
        return 1
    result = dict(result or {})
    if "expected" in result and "actual" in result:
        result["correct"] = result["expected"] == result["actual"]
    # How long run() took: main's code, up to the result. Not the whole run: the interpreter-exit
    # wait for non-daemon threads comes after it (and may never end), so the result is sent first.
    result["run_call_ms"] = round((time.monotonic_ns() - started) / 1e6, 3)
    rec.result(result)
    _wait_like_interpreter_exit(rec)
    _stop_sampler(sampler_pid, sampler_control)
    rec.close()
    return 0


def _stop_sampler(pid: int, control: sampler.Control | None) -> None:
    """The run is over: the sampler writes its last intervals before the runner exits."""
    if pid:
        assert control is not None  # a sampler's pid comes with its control (sampler.fork)
        sampler.stop(pid, control)


def _own_pipe() -> int:
    """The pipe the server reads the sampler's events from, apart from ours (fd 1): a write of the
    experiment's longer than PIPE_BUF cannot tear the sampler's lines, nor theirs. fd 1 without one."""
    value = os.environ.pop(sampler.OUT_FD_ENV, "")  # not for the processes the experiment starts
    return int(value) if value.isdigit() else 1


def _wait_for_job() -> dict | None:
    """The job line on stdin, or None at EOF. Then stdin is /dev/null, as for a runner started with its job."""
    line = sys.stdin.buffer.readline()
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    return json.loads(line) if line else None


def _disassemble(module: ModuleType, params: dict) -> dict | None:
    """`dis` of the functions the experiment's workers will run, by this interpreter, if it names them.

    An experiment opts in with `bytecode(params)`, returning those functions.
    """
    import dis  # here, not at the top: see the imports

    functions = getattr(module, "bytecode", None)
    if functions is None:
        return None
    listings: dict[str, str] = {}
    for function in functions(params):
        text = io.StringIO()  # not sys.stdout: fd 1 is the event pipe and prints become events
        dis.dis(function, file=text)
        listings[function.__name__] = text.getvalue()
    return listings


def _wait_like_interpreter_exit(rec: Recorder) -> None:
    """Join non-daemon threads, as the interpreter does at exit, with the wait drawn on main.

    Daemon threads are not waited for: whatever they still have open is cut off at exit.
    """
    others = [t for t in threading.enumerate() if t is not threading.current_thread() and not t.daemon]
    if others:
        with rec.activity("Thread.join (interpreter exit)", "wait"):
            for thread in others:
                thread.join()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
