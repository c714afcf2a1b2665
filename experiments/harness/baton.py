"""Threads parked before every instruction of their function, each let through one instruction at a time.

The stepper's batons (experiments/harness/stepper.py): a worker thread runs its function under a tracer that,
before each instruction of that function, parks it until the controller hands it the baton for exactly
that one instruction. On Python < 3.12 the tracer is `sys.settrace` with opcode events; on >= 3.12 it is
`sys.monitoring` INSTRUCTION events (settrace is unsafe on free-threaded builds), which are
process-wide: the callback parks only the threads these batons started. Stdlib only: it runs inside
every interpreter the lab offers.
"""
from __future__ import annotations

import sys
import threading
from typing import Any, Callable, Dict, List, Optional, Tuple

# A step is one instruction: far less than this. A step that takes longer blocked where nothing should.
STEP_TIMEOUT_S = 5.0


class Stuck(Exception):
    """A thread did not reach its next instruction in time: the controller gives up instead of hanging."""


class Worker:
    def __init__(self, index: int, function: Callable[..., Any], args: Tuple[Any, ...]):
        self.index = index
        self.function = function
        self.code = function.__code__
        self.args = args
        self.at: Optional[int] = None  # the offset of the instruction it executes next; None once done
        self.arrived = False  # parked before `at`, or done
        self.go = False  # the baton: may execute one instruction
        self.done = False
        self.error: Optional[str] = None
        self.thread: Optional[threading.Thread] = None


_MONITORING_TOOL: Optional[int] = None
_MONITORED: Dict[int, "Threads"] = {}  # thread id -> the Threads that parks it (monitoring is process-wide)


def _monitoring() -> Any:
    return getattr(sys, "monitoring")  # noqa: B009 (3.12+ only: mypy checks this module as 3.11)


def _on_instruction(code: Any, offset: int) -> Any:
    owner = _MONITORED.get(threading.get_ident())
    if owner is not None:  # another thread running this code (none here, but monitoring is process-wide)
        owner.arrive(code, offset)
    return None  # never DISABLE: that would turn the event off at this offset for every thread


class Threads:
    """The experiment's threads, each parked before every instruction of its function until stepped."""

    def __init__(self, workers: List[Worker]):
        self.workers = workers
        # One lock; a Condition for the controller and one per worker (the baton), so a step wakes only
        # the worker stepped and then the controller, never every parked thread.
        lock = threading.Lock()
        self.cv = threading.Condition(lock)
        self.batons = [threading.Condition(lock) for _ in workers]
        self.aborting = False
        self.by_ident: Dict[int, Worker] = {}
        self.codes = {w.code for w in workers}

    def start(self) -> None:
        global _MONITORING_TOOL
        if sys.version_info >= (3, 12):
            mon = _monitoring()
            if _MONITORING_TOOL is None:
                tool = next(t for t in range(6) if mon.get_tool(t) is None)
                mon.use_tool_id(tool, "concurrency-lab stepper")
                mon.register_callback(tool, mon.events.INSTRUCTION, _on_instruction)
                _MONITORING_TOOL = tool
            for code in self.codes:
                mon.set_local_events(_MONITORING_TOOL, code, mon.events.INSTRUCTION)
        for w in self.workers:
            w.thread = threading.Thread(target=self._body, args=(w,), name=f"thread {w.index + 1}", daemon=True)
            w.thread.start()
        with self.cv:
            if not self.cv.wait_for(lambda: all(w.arrived for w in self.workers), STEP_TIMEOUT_S):
                raise Stuck("the threads did not reach their first instruction")

    def _body(self, w: Worker) -> None:
        ident = threading.get_ident()
        self.by_ident[ident] = w
        if sys.version_info >= (3, 12):
            _MONITORED[ident] = self
        else:
            sys.settrace(self._trace_calls)
        try:
            w.function(*w.args)
        except BaseException as exc:  # reported with the state: the page says the thread failed and how
            w.error = f"{type(exc).__name__}: {exc}"
        finally:
            sys.settrace(None)
            _MONITORED.pop(ident, None)
            with self.cv:
                w.done, w.at, w.arrived = True, None, True
                self.cv.notify_all()

    def _trace_calls(self, frame: Any, event: str, arg: Any) -> Any:
        if event == "call" and frame.f_code in self.codes:
            frame.f_trace_opcodes = True
            frame.f_trace_lines = False
            return self._trace_opcodes
        return None  # pause() and the rest run untraced, inside the step that calls them

    def _trace_opcodes(self, frame: Any, event: str, arg: Any) -> Any:
        if event == "opcode":
            self.arrive(frame.f_code, frame.f_lasti)
        return self._trace_opcodes

    def arrive(self, code: Any, offset: int) -> None:
        """Called in a worker before each of its instructions: park until given the baton."""
        w = self.by_ident.get(threading.get_ident())
        if w is None or code is not w.code:
            return
        with self.cv:
            if self.aborting:
                return
            w.at, w.arrived = offset, True
            self.cv.notify()
            baton = self.batons[w.index]
            while not w.go and not self.aborting:
                baton.wait()
            w.go = False

    def step(self, index: int) -> None:
        """Let one worker execute exactly its next instruction; return once it is parked before the following one."""
        w = self.workers[index]
        with self.cv:
            w.arrived, w.go = False, True
            self.batons[index].notify()
            if not self.cv.wait_for(lambda: w.arrived, STEP_TIMEOUT_S):
                raise Stuck(f"thread {index + 1} did not finish its instruction in {STEP_TIMEOUT_S:.0f} s")

    def stop(self) -> None:
        """Let every worker run freely to its end (no longer parked) and wait for them."""
        with self.cv:
            self.aborting = True
            for baton in self.batons:
                baton.notify_all()
        for w in self.workers:
            if w.thread is not None:
                w.thread.join(STEP_TIMEOUT_S)
        if sys.version_info >= (3, 12) and _MONITORING_TOOL is not None:
            for code in self.codes:
                _monitoring().set_local_events(_MONITORING_TOOL, code, 0)
