"""The recorder: cheap calls an experiment makes to say what each worker is doing.

Every event is stamped with `time.monotonic_ns()`, which on Linux is one clock for the whole
machine, so timestamps from threads and from child processes line up on one timeline.

Recording an event costs the experiment one tuple appended to a lock-free deque (append is
atomic under the GIL): (kind, monotonic_ns, lane, fields...). Encoding and writing happen in
batches, off the hot path: a small flusher thread drains the deque every FLUSH_INTERVAL_S, the
end of each traced task flushes, and a thread that lets HIGH_WATER events pile up (faster than
the flusher drains them) flushes them itself, which bounds memory. The wire format is versioned
JSON lines, written to a file descriptor (the runner's event pipe, fd 1): each line is a JSON
array of events, each event an array whose first item is its kind (see FORMAT below). Each
write is at most PIPE_BUF bytes of whole lines, which the kernel writes atomically, so lines
from several processes sharing the pipe never interleave.

Fork safety: the flusher thread is stopped before any fork and restarted after it in the
parent, so a child is never forked while our thread holds a lock; the child drops the parent's
unwritten events (the parent still writes them) and starts its own flusher. Spawned children
get the recorder by pickling: it travels as (fd, root pid) and re-attaches to the inherited fd.

Stdlib only, Python 3.9+: this module runs inside every interpreter under test.
"""
from __future__ import annotations

import collections
import collections.abc
import io
import json
import multiprocessing.util
import os
import sys
import threading
import time
import weakref
from contextlib import contextmanager
from itertools import repeat, starmap
from typing import Any, Callable, Iterator

FORMAT = 1
# Event kinds on the wire (arrays, to keep encoding and parsing cheap):
#   ["H", ts, lane, info]                  header: python, pid, experiment, params
#   ["L", ts, lane, info]                  a lane (worker) appears: pid, tid, thread name; an asyncio task's
#                                          lane has no tid (its loop's thread is on the CPU for it), but
#                                          "task": its name and "loop": the lane of its loop's thread
#   ["B", ts, lane, name, category]        a span begins on the lane
#   ["E", ts, lane]                        the lane's innermost open span ends
#   ["I", ts, lane, name, category]        an instant (a print, a notify, a result received)
#   ["I", ts, lane, name, category, key]   a notify, or the woken it caused, and what it handed over:
#                                          the server pairs the woken with the notify of the same key
#   ["C", ts, lane, name, value]           a counter sample (queue depth, permits in use)
#   ["R", ts, lane, values]                the experiment's result
#   ["F", ts, lane, info]                  the experiment failed: error type, message, traceback
#   ["S", ts, "", info]                    a thread of ours, not a worker (the flusher): pid, tid, role
# (The on-CPU sampler, experiments/harness/sampler.py, writes "T", "U", "G", "X" and "M" events to the same pipe,
# or to a pipe of its own.)

PIPE_BUF = 4096  # pipe writes up to this size are atomic on Linux
FLUSH_INTERVAL_S = 0.02  # how often the flusher thread writes what was recorded
HIGH_WATER = 65_536  # queued events past which the recording thread flushes them itself
MIN_WAIT_NS = 50_000  # shorter lock waits are not drawn: too many to see, too short to matter
# A Lock wait shorter than this is drawn once it is over; a longer one is drawn open while it lasts.
# Not shorter: each time the first, timed try runs out, the waiter has to take the GIL back to draw,
# which makes the holder switch out, maybe with the lock held (sync.RLock uses the same threshold).
LOCK_QUICK_S = 0.05
MAX_TEXT = 300  # longest print or task label we record (a print of a huge string should not flood the pipe)

now = time.monotonic_ns
# One encoder for every batch: json.dumps would build a new one per call. Tuples encode as arrays;
# a value JSON cannot encode (a set in a result) is sent as its repr.
_encode = json.JSONEncoder(separators=(",", ":"), default=repr).encode
_live: "weakref.WeakSet[Recorder]" = weakref.WeakSet()
_process_recorder: "Recorder | None" = None


def gil_enabled() -> bool:
    """Whether this interpreter runs one thread's bytecode at a time: False on a free-threaded build
    with the GIL off (3.13t), where threads run Python side by side."""
    is_enabled = getattr(sys, "_is_gil_enabled", None)
    return True if is_enabled is None else bool(is_enabled())


class Recorder:
    def __init__(self, fd: int = 1, root_pid: int | None = None, flush_interval_s: float = FLUSH_INTERVAL_S,
                 high_water: int = HIGH_WATER):
        self.fd = fd
        self.root_pid = root_pid or os.getpid()
        self._interval = flush_interval_s
        self._high_water = high_water
        self._broken = False
        self._per_line = 32  # events encoded per line, adapted to their size to fill lines up to PIPE_BUF
        self._fresh_process_state()
        _live.add(self)
        # Flush when a multiprocessing process exits: now for this process (and spawned ones),
        # and again in each forked child, whose finalizers multiprocessing clears at start.
        self._flush_at_process_exit()
        multiprocessing.util.register_after_fork(self, Recorder._flush_at_process_exit)
        self._start_flusher()

    def _fresh_process_state(self) -> None:
        self._queue: collections.deque = collections.deque()
        self._flush_lock = threading.Lock()
        self._local = threading.local()
        self._labels: set[str] = set()
        self._labels_lock = threading.Lock()  # two threads naming their lanes at once get two labels
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None

    def __reduce__(self):
        # A spawned child gets the recorder as (fd, root pid) and attaches to the inherited fd.
        return (attach, (self.fd, self.root_pid))

    # -- lanes --------------------------------------------------------------------------------

    def lane(self) -> str:
        """The lane of the calling thread, declared on first use."""
        try:
            lane: str = self._local.lane
            return lane
        except AttributeError:
            return self.name_lane(None)

    def name_lane(self, label: str | None) -> str:
        """Give the calling thread its own lane, labelled `label` (or after its thread/process)."""
        thread = threading.current_thread()
        base = label or self._default_label(thread)
        label, n = base, 2
        with self._labels_lock:
            while label in self._labels:
                label, n = f"{base} #{n}", n + 1
            self._labels.add(label)
        self._local.lane = label
        # The process's name tells a multiprocessing.Pool worker (its lost task is a hang, app/model/hangs.py).
        info = {"pid": os.getpid(), "tid": threading.get_native_id(), "thread": thread.name,
                "process": multiprocessing.current_process().name}
        self._emit(("L", now(), label, info))
        return label

    def _default_label(self, thread: threading.Thread) -> str:
        is_main = thread is threading.main_thread()
        thread_part = "main" if is_main else thread.name
        if os.getpid() == self.root_pid:
            return thread_part
        process = multiprocessing.current_process().name
        if process == "MainProcess":  # a child made by os.fork() keeps its parent's name
            process = f"pid {os.getpid()}"
        return process if is_main else f"{process} · {thread_part}"

    # -- events -------------------------------------------------------------------------------
    # Each recording call is written out in full (no shared helper) because it is the hot path:
    # a Python call more per event would cost as much as the rest of the call. Only a tuple is
    # built here; encoding waits for the next flush. Names are taken as given: the ones that
    # can be huge (prints, task labels formatted with their arguments) are cut where they are made.

    def begin(self, name: str, category: str = "run", at_ns: int | None = None) -> None:
        """Open a span now, or at `at_ns` (a wait drawn only once it has proved long enough)."""
        try:
            lane = self._local.lane
        except AttributeError:
            lane = self.name_lane(None)
        queue = self._queue
        queue.append(("B", at_ns or now(), lane, name, category))
        if len(queue) > self._high_water:
            self.flush()

    def end(self) -> None:
        try:
            lane = self._local.lane
        except AttributeError:
            lane = self.name_lane(None)
        queue = self._queue
        queue.append(("E", now(), lane))
        if len(queue) > self._high_water:
            self.flush()

    @contextmanager
    def activity(self, name: str, category: str = "run") -> Iterator[None]:
        """A span around a block: `with rec.activity("join", "wait"): t.join()`."""
        self.begin(name, category)
        try:
            yield
        finally:
            self.end()

    def instant(self, name: str, category: str = "mark") -> None:
        try:
            lane = self._local.lane
        except AttributeError:
            lane = self.name_lane(None)
        queue = self._queue
        queue.append(("I", now(), lane, name, category))
        if len(queue) > self._high_water:
            self.flush()

    def handoff(self, name: str, category: str, key: str) -> None:
        """A `notify` or `woken` instant naming what was handed over (an item's identity), so the
        server joins a woken to the notify of the same key, whichever of the two reaches it first:
        events of two processes arrive in the order their recorders flush, not as they happened."""
        self._emit(("I", now(), self.lane(), name, category, key))

    def counter(self, name: str, value: float) -> None:
        try:
            lane = self._local.lane
        except AttributeError:
            lane = self.name_lane(None)
        queue = self._queue
        queue.append(("C", now(), lane, name, value))
        if len(queue) > self._high_water:
            self.flush()

    def result(self, values: dict[str, Any]) -> None:
        self._emit(("R", now(), self.lane(), values))

    def failure(self, info: dict[str, Any]) -> None:
        self._emit(("F", now(), self.lane(), info))

    def header(self, info: dict[str, Any]) -> None:
        self._emit(("H", now(), self.lane(), info))

    def reaped(self, pid: int, returncode: int) -> None:
        """A child process this process has just reaped, and how it ended (as Popen.returncode says it)."""
        signal, status = (-returncode, 0) if returncode < 0 else (0, returncode)
        self._emit(("X", now(), "", {"pid": pid, "signal": signal, "status": status, "known": True}))

    def Lock(self, name: str = "lock") -> Any:
        """A threading.Lock whose contended acquisitions are drawn as "Lock.acquire <name>" wait spans.

        `with lock:` must cost what it costs on a plain Lock, and must not add a point where the
        interpreter may switch threads while the lock is held: CPython >= 3.10 switches at
        Python calls, so one Python frame inside the acquisition turns a lock that is never
        contended into one contended on every switch (measured: the tutorial's lock counter
        took 3 to 6 times as long). So no Python runs on the uncontended path. `__enter__` is
        looked up on each `with`: here it is a property whose getter is all C (next() on a map
        over the lock's locked() state) and returns either the real lock's C `__enter__`, when
        the lock is free, or, when it is taken, the Python slow path that draws the wait. No
        thread can run between that look-up and the call (no bytecode runs, so the GIL stays
        with us), so the C `__enter__` never blocks undrawn. `__exit__` is the real C method.

        Waits under MIN_WAIT_NS are not drawn (the tutorial's lock counter can have hundreds of
        thousands of them); a wait longer than LOCK_QUICK_S is drawn as an open span while it
        lasts, so a deadlock shows as a wait that never ends.

        Without a GIL (a free-threaded build) that trick is wrong twice over: another thread can take
        the lock between the look-up and the call, and nothing needs it, as no thread waits for a
        switch: threads run side by side. There `__enter__` is a plain method that tries the lock.
        """
        real = threading.Lock()
        acquire = real.acquire
        recorder = self
        label = f"Lock.acquire {name}"

        def contended_enter() -> bool:
            recorder.contended(acquire, label, quick_s=LOCK_QUICK_S)
            return True

        lock_calls = {
            "__exit__": real.__exit__,
            "acquire": real.acquire,
            "release": real.release,
            "locked": real.locked,
            "__repr__": lambda self: f"<recorded lock {name}>",
        }
        if not gil_enabled():
            def enter(lock: Any) -> bool:
                if not acquire(False):
                    recorder.contended(acquire, label, quick_s=LOCK_QUICK_S)
                return True

            return type("RecordedLock", (), {"__slots__": (), "__enter__": enter, **lock_calls})()
        cls = type("RecordedLock", (map,), {
            "__slots__": (),
            "__enter__": property(next),  # next(lock): the map below, in C
            "__iter__": None,  # a lock, not something to loop over
            **lock_calls,
        })
        enter_for = {False: real.__enter__, True: contended_enter}
        return cls(enter_for.__getitem__, starmap(real.locked, repeat(())))

    def contended(self, acquire: Callable[..., bool], label: str, quick_s: float) -> bool:
        """Take a lock whose non-blocking `acquire(False)` just failed; draw the wait as `label`.

        A wait over within `quick_s` is drawn once it is over, and only if it lasted MIN_WAIT_NS
        (contended locks hand over hundreds of thousands of times, mostly in microseconds); a
        longer one is drawn open while it lasts, so a deadlock shows as a wait that never ends.
        Returns whether the wait was drawn.
        """
        start = now()
        if acquire(True, quick_s):
            if now() - start < MIN_WAIT_NS:
                return False
            self.begin(label, "wait", at_ns=start)
        else:
            self.begin(label, "wait", at_ns=start)
            acquire()
        self.end()
        return True

    # -- asyncio tasks ------------------------------------------------------------------------

    def asyncio_run(self, main: Any, eager: bool = False) -> Any:
        """`asyncio.run(main)`, with a lane per task (TaskLanes); `eager`: tasks start eagerly (3.12+)."""
        import asyncio

        loop = asyncio.new_event_loop()
        lanes = TaskLanes(self, loop, eager)
        lanes.install()
        try:
            asyncio.set_event_loop(loop)
            return loop.run_until_complete(loop.create_task(main, name=f"{_name_of(main)}()"))
        finally:  # as asyncio.run ends: cancel what is left, close async generators and the default executor
            lanes.uninstall()  # the tasks that close the loop down are asyncio's, not the experiment's
            try:
                left = [task for task in asyncio.all_tasks(loop) if not task.done()]
                for task in left:
                    task.cancel()
                if left:
                    loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                asyncio.set_event_loop(None)
                loop.close()

    def task_lane(self, name: str, loop_lane: str) -> str:
        """Declare the lane of an asyncio task called `name`, run by the thread whose lane is `loop_lane`."""
        label = self._unique(name)
        info = {"pid": os.getpid(), "task": name, "loop": loop_lane, "thread": threading.current_thread().name,
                "process": multiprocessing.current_process().name}
        self._emit(("L", now(), label, info))
        return label

    def thread_lane(self, name: str, tid: int, thread: str = "", at_ns: int | None = None) -> str:
        """Declare the lane of a thread of this process that cannot record itself, by its native id `tid` (which
        ties the kernel's on-CPU record of it to the lane): a subinterpreter's thread, where this recorder, an
        object of this interpreter, cannot go. Its spans come through `span`, timed where they ran."""
        label = self._unique(name)
        info = {"pid": os.getpid(), "tid": tid, "thread": thread or name, "process": multiprocessing.current_process().name}
        self._emit(("L", at_ns or now(), label, info))
        return label

    def span(self, lane: str, name: str, category: str, start_ns: int, end_ns: int) -> None:
        """A span that ran on `lane` (a `thread_lane`) from `start_ns` to `end_ns`, by `time.monotonic_ns()`
        where it ran: one clock for the whole machine, so it lines up with every other lane."""
        self._emit(("B", start_ns, lane, name[:MAX_TEXT], category))
        self._emit(("E", end_ns, lane))

    def _unique(self, name: str) -> str:
        label, n = name, 2
        with self._labels_lock:
            while label in self._labels:
                label, n = f"{name} #{n}", n + 1
            self._labels.add(label)
        return label

    # -- writing ------------------------------------------------------------------------------

    def _emit(self, event: tuple) -> None:
        queue = self._queue
        queue.append(event)
        if len(queue) > self._high_water:
            self.flush()

    def flush(self, timeout: float = -1) -> None:
        """Write every queued event now (give up after `timeout` seconds if another flush holds the lock)."""
        if not self._flush_lock.acquire(timeout=timeout):
            return
        try:
            queue = self._queue
            events = [queue.popleft() for _ in range(len(queue))]
            if events and not self._broken:
                self._write(events)
        finally:
            self._flush_lock.release()

    def _write(self, events: list) -> None:
        """Encode `events` as lines and write them, whole lines only, at most PIPE_BUF bytes per write."""
        per_line = self._per_line
        lines: list[bytes] = []
        for i in range(0, len(events), per_line):
            self._encode_lines(events[i:i + per_line], lines)
        size = sum(map(len, lines))
        # Next time, as many events per line as fill about 3/4 of PIPE_BUF at today's sizes.
        self._per_line = max(1, min(512, PIPE_BUF * 3 * len(events) // (4 * size)))
        batch: list[bytes] = []
        batch_size = 0
        for line in lines:
            if batch_size + len(line) > PIPE_BUF and batch:
                self._write_bytes(b"".join(batch))
                batch, batch_size = [], 0
            batch.append(line)
            batch_size += len(line)
        if batch:
            self._write_bytes(b"".join(batch))

    def _encode_lines(self, events: list, out: list[bytes]) -> None:
        data = (_encode(events) + "\n").encode()
        if len(data) > PIPE_BUF and len(events) > 1:
            half = len(events) // 2
            self._encode_lines(events[:half], out)
            self._encode_lines(events[half:], out)
        else:
            out.append(data)  # one event larger than PIPE_BUF (a big header) goes alone

    def _write_bytes(self, data: bytes) -> None:
        if self._broken:
            return
        try:
            while data:
                data = data[os.write(self.fd, data):]
        except OSError:  # the server is gone: nobody is listening any more
            self._broken = True

    def _start_flusher(self) -> None:
        self._stop.clear()
        self._flusher = threading.Thread(target=self._flush_periodically, name="recorder-flusher", daemon=True)
        self._flusher.start()

    def _flush_periodically(self) -> None:
        # Not a lane: the on-CPU sampler's time for this thread is what recording cost.
        self._emit(("S", now(), "", {"pid": os.getpid(), "tid": threading.get_native_id(), "role": "recorder"}))
        while not self._stop.wait(self._interval):
            self.flush()

    def _pause_flusher(self) -> None:
        self._stop.set()
        if self._flusher is not None and self._flusher is not threading.current_thread():
            self._flusher.join()
        self._flusher = None

    def _reset_in_child(self) -> None:
        # The parent still holds (and will write) the events queued before the fork.
        self._fresh_process_state()
        self._start_flusher()

    def _flush_at_process_exit(self) -> None:
        # multiprocessing children leave through os._exit(): atexit does not run, its finalizers do.
        multiprocessing.util.Finalize(self, self.flush, exitpriority=100)

    def close(self) -> None:
        self._pause_flusher()
        self.flush()


def _before_fork() -> None:
    for rec in list(_live):
        rec._pause_flusher()


def _after_fork_in_parent() -> None:
    for rec in list(_live):
        rec._start_flusher()


def _after_fork_in_child() -> None:
    for rec in list(_live):
        rec._reset_in_child()
    if isinstance(sys.stdout, PrintCapture):
        sys.stdout.reset()


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child)


class PrintCapture(io.TextIOBase):
    """sys.stdout for experiments: each printed line becomes an instant on the printing lane.

    fd 1 is the event pipe, so nothing may write raw text to it; the prints are part of the
    story anyway ("Speaker: Hello"), so they are drawn where and when they happened.
    """

    def __init__(self, recorder: Recorder):
        self._recorder = recorder
        self._partial: dict[int, str] = {}

    def reset(self) -> None:
        self._partial = {}

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        key = threading.get_ident()
        *lines, rest = (self._partial.pop(key, "") + text).split("\n")
        for line in lines:
            self._recorder.instant(line[:MAX_TEXT], "print")
        if rest:
            self._partial[key] = rest
        return len(text)


def attach(fd: int = 1, root_pid: int | None = None) -> Recorder:
    """The recorder of this process, writing to `fd`; made (and print capture installed) on first call."""
    global _process_recorder
    if _process_recorder is None or _process_recorder.fd != fd:
        _process_recorder = Recorder(fd, root_pid)
        sys.stdout = PrintCapture(_process_recorder)
        _tell_how_children_end()
    return _process_recorder


def _tell_how_children_end() -> None:
    """Say how each child process multiprocessing reaps here ended (its fork and spawn Popen's poll).

    The on-CPU sampler reads a process's end from its zombie, but a parent that reaps at once (a
    Pool's handler thread looks every 0.1 s) can leave it nothing to read: then the parent tells.
    Installed once per process; a call costs nothing until a child has ended."""
    from multiprocessing import popen_fork

    reap = popen_fork.Popen.poll
    if getattr(reap, "tells_how_children_end", False):
        return

    def poll(self: Any, flag: int = os.WNOHANG) -> int | None:
        ended_before = self.returncode is not None
        returncode: int | None = reap(self, flag)
        if returncode is not None and not ended_before and _process_recorder is not None:
            _process_recorder.reaped(self.pid, returncode)
        return returncode

    poll.tells_how_children_end = True  # type: ignore[attr-defined]  # a mark on the function: installed
    popen_fork.Popen.poll = poll  # type: ignore[method-assign]


def _name_of(coro: Any) -> str:
    return str(getattr(coro, "__qualname__", None) or type(coro).__name__)[:MAX_TEXT]


class TaskLanes:
    """One lane per asyncio task of `loop`, and the loop's own lane for its plain callbacks.

    The least code in the loop: each task's coroutine is wrapped (Stepped) so that every step the
    loop gives the task is a run span on the task's lane, and the time between two steps a wait span
    named after what the task awaits. The loop's thread keeps its own lane (the one it had): the
    kernel's on-CPU strip of that thread is drawn there, under the task lanes, as the tasks have no
    thread of their own. Callbacks that are not a task's step (a sleep's timer, a future's
    done-callback, a thread handing a result back) are drawn as run spans on that lane.

    `loop.create_task` is replaced rather than `set_task_factory` used: a task factory is not told
    the task's name, which create_task sets only after the factory returns, after an eager task
    (3.12+) has already run its first step. Everything that makes tasks (asyncio.create_task,
    gather, TaskGroup, ensure_future, run_until_complete) goes through loop.create_task.
    """

    def __init__(self, recorder: Recorder, loop: Any, eager: bool = False):
        import asyncio

        self.recorder = recorder
        self.loop = loop
        self.eager = eager and sys.version_info >= (3, 12)
        self.lane = recorder.lane()  # the loop's thread's lane: the loop's own
        self._Task = asyncio.Task
        self._make_task = loop.create_task

    def install(self) -> None:
        loop = self.loop
        loop.create_task = self.create_task
        # call_later goes through call_at; Future and Task (in C too) call loop.call_soon by name.
        for method in ("call_soon", "call_soon_threadsafe", "call_at"):
            setattr(loop, method, self._drawing(getattr(loop, method), method == "call_at"))

    def uninstall(self) -> None:
        for method in ("create_task", "call_soon", "call_soon_threadsafe", "call_at"):
            self.loop.__dict__.pop(method, None)

    def create_task(self, coro: Any, *, name: str | None = None, context: Any = None) -> Any:
        stepped = Stepped(coro, self.recorder, self.lane, name)
        kwargs: dict[str, Any] = {"loop": self.loop, "name": name}
        if context is not None:
            kwargs["context"] = context
        if self.eager:
            kwargs["eager_start"] = True
        return self._Task(stepped, **kwargs)

    def _drawing(self, schedule: Callable[..., Any], timed: bool) -> Callable[..., Any]:
        recorder, lane, Task = self.recorder, self.lane, self._Task

        def plain(callback: Callable[..., Any]) -> Callable[..., Any]:
            if isinstance(getattr(callback, "__self__", None), Task):
                return callback  # a task's step (or wake-up): drawn on the task's lane by Stepped
            name = str(getattr(callback, "__name__", None) or type(callback).__name__)
            queue = recorder._queue

            def drawn(*args: Any) -> Any:
                queue.append(("B", now(), lane, name, "run"))
                try:
                    return callback(*args)
                finally:
                    queue.append(("E", now(), lane))
            return drawn

        if timed:
            return lambda when, callback, *args, **kw: schedule(when, plain(callback), *args, **kw)
        return lambda callback, *args, **kw: schedule(plain(callback), *args, **kw)


_ASYNCIO_DIR = os.path.join(os.path.dirname(os.__file__), "asyncio", "")  # where asyncio's coroutines are


def awaited(coro: Any, yielded: Any) -> tuple[str, str]:
    """What a task whose coroutine `coro` just yielded `yielded` waits for: (span name, category).

    The innermost coroutine the task is in, if asyncio's own ("sleep", "Queue.get", "Lock.acquire",
    "to_thread", "wait_for"); else what it yielded: a task (by name), a gather, a future (one a thread
    will complete, from run_in_executor)."""
    inner = None
    obj = getattr(coro, "cr_await", None)
    while obj is not None and hasattr(obj, "cr_code"):
        inner, obj = obj, obj.cr_await
    if inner is not None and inner.cr_code.co_filename.startswith(_ASYNCIO_DIR):
        what = str(inner.__qualname__)
        if what == "sleep":
            delay = inner.cr_frame.f_locals.get("delay") if inner.cr_frame is not None else None
            return f"await sleep({delay})", "sleep"
        return f"await {what}", "wait"
    if yielded is None:  # a bare yield: asyncio.sleep(0) gives the loop one turn
        return "await sleep(0)", "sleep"
    get_name = getattr(yielded, "get_name", None)
    if get_name is not None:
        return f"await {get_name()}"[:MAX_TEXT], "wait"
    kind = type(yielded).__name__
    return ("await gather" if kind == "_GatheringFuture" else f"await {kind.lstrip('_')}"), "wait"


class Stepped(collections.abc.Coroutine):
    """A task's coroutine as the loop steps it: each step a run span on the task's lane, each
    suspension a wait span named after what it awaits, until the next step. While a step runs, the
    recorder's calls made by the task (a print, a blocking call it draws) go to the task's lane.

    Per step: two clock reads and four tuples on the deque; the name of the wait costs a walk
    down the awaited coroutines (one or two)."""

    __slots__ = ("coro", "recorder", "loop_lane", "name", "lane", "waiting", "__weakref__")

    def __init__(self, coro: Any, recorder: Recorder, loop_lane: str, name: str | None):
        self.coro = coro
        self.recorder = recorder
        self.loop_lane = loop_lane
        self.name = name
        self.lane: str | None = None
        self.waiting = False

    def send(self, value: Any) -> Any:
        return self._step(self.coro.send, value)

    def throw(self, *exc: Any) -> Any:
        return self._step(self.coro.throw, *exc)

    def close(self) -> None:
        self.coro.close()
        if self.waiting and self.lane is not None:
            self.recorder._queue.append(("E", now(), self.lane))
            self.waiting = False

    def __await__(self) -> Any:
        return self.coro.__await__()

    def __getattr__(self, name: str) -> Any:
        # What introspection asks of a task's coroutine (cr_frame, cr_await, __qualname__: a task's repr,
        # print_stack) is the wrapped coroutine's.
        if name == "coro":
            raise AttributeError(name)
        return getattr(self.coro, name)

    def _step(self, step: Callable[..., Any], *args: Any) -> Any:
        rec = self.recorder
        lane = self.lane
        if lane is None:  # on its first step the task has its name, even an eager one
            import asyncio

            task = asyncio.current_task()
            name = self.name or (task.get_name() if task is not None else _name_of(self.coro))
            lane = self.lane = rec.task_lane(name, self.loop_lane)
        queue, local = rec._queue, rec._local
        start = now()
        if self.waiting:
            queue.append(("E", start, lane))
        queue.append(("B", start, lane, _name_of(self.coro), "run"))
        caller = local.lane  # the loop's lane; an eager task's creator's, if this is its first step
        local.lane = lane
        try:
            yielded = step(*args)
        except BaseException:  # StopIteration: the task is done
            self.waiting = False
            queue.append(("E", now(), lane))
            raise
        finally:
            local.lane = caller
        what, category = awaited(self.coro, yielded)
        end = now()
        queue.append(("E", end, lane))
        queue.append(("B", end, lane, what, category))
        self.waiting = True
        if len(queue) > rec._high_water:
            rec.flush()
        return yielded


class traced:
    """Wrap a task so each call is drawn as a span on the lane of whichever worker runs it.

    Picklable (the recorder travels as its fd), so it works as a ProcessPoolExecutor or Pool
    task under fork and spawn. The label is formatted with the call's arguments: "fib({})".
    The events are flushed after each call, as a pool may end its worker processes abruptly.
    """

    def __init__(self, fn: Callable[..., Any], recorder: Recorder, label: str = "", category: str = "run",
                 ran: list[tuple[int, int]] | None = None):
        self.fn = fn
        self.recorder = recorder
        self.label = label or fn.__name__
        self.category = category
        self.ran = ran  # if given, each call's (start, end) in monotonic ns is appended (threads: the caller's list)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        rec = self.recorder
        rec.begin(self.label.format(*args, **kwargs)[:MAX_TEXT], self.category)
        start = now()
        try:
            return self.fn(*args, **kwargs)
        finally:
            if self.ran is not None:
                self.ran.append((start, now()))
            rec.end()
            rec.flush()
