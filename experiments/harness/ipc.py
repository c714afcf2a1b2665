"""Recorded stand-ins for multiprocessing's ways to talk between processes: Queue, Pipe, a Manager's dict.

Each wraps the real object and draws what a student needs to see. A blocking call (Queue.get,
Pipe.recv, a call through a manager's proxy) is a wait span named after the call. A Queue
item put is a `notify` instant and the get it wakes up a `woken` one, so the timeline draws
an arrow from the producer's lane to the consumer's. The wrappers carry their recorder, so
a child process gets it with them (by pickling under spawn and forkserver, by inheritance
under fork).
"""
from __future__ import annotations

import itertools
import multiprocessing
import os
from collections.abc import Callable
from multiprocessing.managers import DictProxy, SyncManager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

    from experiments.harness.recorder import Recorder

# This process's puts, numbered (a spawned child counts from 1 again, a forked one on from its
# parent's count: either way its pid makes the key its own).
_puts = itertools.count(1)


class Queue:
    """multiprocessing.Queue (unbounded, as in the tutorial): put never blocks, get may.

    Each item travels with a key (this process's pid and a count of its puts), so the `got`
    instant names the very `put` that carried it and the server can join them even when the
    consumer's events reach it before the producer's, or when two puts carry equal items.
    """

    def __init__(self, rec, context):
        self._rec = rec
        self._queue = context.Queue()

    def put(self, item: Any) -> None:
        key = f"{os.getpid()}:{next(_puts)}"
        # Marked before the put, so the mark is earlier than the wake-up it causes.
        self._rec.handoff(f"put {item!r}", "notify", key)
        self._queue.put((key, item))

    def get(self) -> Any:
        waiting = self._queue.empty()
        with self._rec.activity("Queue.get", "wait"):
            key, item = self._queue.get()
        # Only a get that had to wait was woken by a put; an item already there is just taken.
        if waiting:
            self._rec.handoff(f"got {item!r}", "woken", key)
        else:
            self._rec.instant(f"got {item!r}", "mark")
        return item


class Connection:
    """One end of a multiprocessing.Pipe.

    Messages are marks, not notify/woken arrows: the tutorial's sender sends back to back,
    faster than the receiver wakes up, so an arrow from "the latest send" would often start
    at the wrong message.
    """

    def __init__(self, rec, connection):
        self._rec = rec
        self._connection = connection

    def send(self, obj: Any) -> None:
        self._connection.send(obj)
        self._rec.instant(f"send {obj!r}", "mark")

    def recv(self) -> Any:
        """The next message; EOFError once every copy of the other end is closed."""
        with self._rec.activity("Pipe.recv", "wait"):
            try:
                obj = self._connection.recv()
            except EOFError:
                self._rec.instant("EOFError", "mark")
                raise
        self._rec.instant(f"recv {obj!r}", "mark")
        return obj

    def close(self) -> None:
        self._connection.close()
        self._rec.instant("Connection.close", "mark")


def Pipe(rec: Recorder, context: BaseContext) -> tuple[Connection, Connection]:
    """multiprocessing.Pipe(): two connected ends (duplex, as the tutorial's)."""
    one, two = context.Pipe()
    return Connection(rec, one), Connection(rec, two)


# -- Manager ----------------------------------------------------------------------------------
# A manager is a server process that owns the shared objects; other processes hold proxies
# and every operation on a proxy is a request to the server and a wait for its answer. The
# server answers each connection on its own thread, named after the client process, so its
# work is drawn on lanes "manager · <client>".

_server_recorder: Recorder | None = None  # set in the manager's process by _start_server


def _start_server(rec: Recorder) -> None:
    """The manager process's initializer: keep the recorder for RecordedDict, name the lanes."""
    global _server_recorder
    _server_recorder = rec
    multiprocessing.current_process().name = "manager"
    rec.instant("manager started", "mark")


class RecordedDict:
    """The dict that lives in the manager process, each call a proxy makes drawn there.

    It wraps a dict rather than subclassing one: a subclass's C methods (copy, repr) would
    call its overridden ones and draw calls no client made.
    """

    def __init__(self, *args, **kwds):
        self._data = dict(*args, **kwds)


def _served(name: str) -> Callable[..., Any]:
    def serve(self: RecordedDict, *args: Any, **kwds: Any) -> Any:
        assert _server_recorder is not None  # serve runs in the manager's process, after _start_server
        call = ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwds.items()])
        with _server_recorder.activity(f"{name}({call})"):
            return getattr(self._data, name)(*args, **kwds)

    serve.__name__ = name
    return serve


# Every method a DictProxy may call, and __repr__, which the server calls for str(proxy).
# (_exposed_ is set on DictProxy by MakeProxyType; typeshed does not declare it.)
for _name in DictProxy._exposed_ + ("__repr__",):  # type: ignore[attr-defined]
    setattr(RecordedDict, _name, _served(_name))


class RecordedDictProxy(DictProxy):
    """A DictProxy that draws each call as a wait span: its caller blocks until the manager answers."""

    def __init__(self, token, serializer, manager=None, recorder=None, **kwds):
        super().__init__(token, serializer, manager=manager, **kwds)
        self._recorder = recorder if recorder is not None else manager.recorder

    def __reduce__(self):
        # A proxy sent to another process takes the recorder along.
        rebuild, (proxytype, token, serializer, kwds) = super().__reduce__()
        return rebuild, (proxytype, token, serializer, {**kwds, "recorder": self._recorder})

    def _callmethod(self, methodname, args=(), kwds={}):  # noqa: B006 (BaseProxy._callmethod's own signature)
        with self._recorder.activity(f"DictProxy.{methodname}", "wait"):
            return super()._callmethod(methodname, args, kwds)


class RecordingManager(SyncManager):
    def __init__(self, rec, context):
        super().__init__(ctx=context)
        self.recorder = rec


RecordingManager.register("dict", RecordedDict, RecordedDictProxy)


def Manager(rec: Recorder, context: BaseContext) -> RecordingManager:
    """Like multiprocessing.Manager(): a started manager whose dict() calls are drawn on both sides."""
    manager = RecordingManager(rec, context)
    manager.start(_start_server, (rec,))
    return manager
