"""A finished run's Timeline as a versioned JSON document, so its page needs no replay of its events.

Replaying a big run's events takes seconds (docs/benchmarks.md, "Finished runs: snapshot or replay"),
and a log past its bound no longer holds what the timeline drew: so the finished Timeline is stored.
Never as pickle: whoever can write the database must not be able to run code in the server. The
document names its format (VERSION) and the fields of every class of the timeline's modules it holds
(TIMELINE_MODULES; SHAPE); a document of another version or shape, or anything else in the column (an older server's
pickle), is never decoded: `load` says why and the run is replayed from its stored events.

Only the classes of those modules are rebuilt, by name, without calling their __init__ (as
their fields say); everything else is JSON's own types, with tuples, dicts, deques and sets tagged.
An object held in two places (a Lane in `lanes` and in `by_worker`) comes back as one object.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import zlib
from collections import deque
from typing import Any

from app.model import arrows, cpu_bins
from app.model import timeline as timeline_module
from app.model.timeline import Timeline

VERSION = 1
log = logging.getLogger(__name__)


# A Timeline's parts: app/model/timeline.py and the modules it folds with.
TIMELINE_MODULES = (timeline_module, arrows, cpu_bins)


def _classes() -> dict[str, type]:
    return {
        name: cls
        for module in TIMELINE_MODULES
        for name, cls in sorted(vars(module).items())
        if isinstance(cls, type) and cls.__module__ == module.__name__
    }


CLASSES = _classes()


def _slots(cls: type) -> list[str]:
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        slots = vars(klass).get("__slots__", ())
        names += [slots] if isinstance(slots, str) else [s for s in slots if s not in ("__dict__", "__weakref__")]
    return names


def timeline_shape() -> str:
    """The fields of every class a stored Timeline holds, in words: a server whose Timeline has other
    fields stores documents of another shape, and those are replayed instead."""
    parts = []
    for name, cls in CLASSES.items():
        names = [f.name for f in dataclasses.fields(cls)] if dataclasses.is_dataclass(cls) else _slots(cls)
        parts.append(f"{name}({','.join(names)})")
    return ";".join(parts)


SHAPE = timeline_shape()


class _Encoder:
    def __init__(self) -> None:
        self.refs: dict[int, int] = {}
        self.keep: list[Any] = []  # the objects numbered, alive until the end (their ids stay theirs)

    def value(self, v: Any) -> Any:
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if isinstance(v, tuple) and type(v) is tuple:
            return {"t": [self.value(x) for x in v]}
        if isinstance(v, dict) and type(v) is dict:
            return {"d": [[self.value(k), self.value(x)] for k, x in v.items()]}
        if isinstance(v, deque):
            return {"q": [self.value(x) for x in v], "n": v.maxlen}
        if isinstance(v, (set, frozenset)):
            return {"s" if isinstance(v, set) else "f": [self.value(x) for x in v]}
        cls = type(v)
        if CLASSES.get(cls.__name__) is not cls:
            raise TypeError(f"a {cls.__name__} has no place in a stored timeline")
        ref = self.refs.get(id(v))
        if ref is not None:
            return {"r": ref}
        ref = self.refs[id(v)] = len(self.refs)
        self.keep.append(v)
        attrs = (
            vars(v) if hasattr(v, "__dict__") else {name: getattr(v, name) for name in _slots(cls) if hasattr(v, name)}
        )
        return {"o": cls.__name__, "i": ref, "a": {name: self.value(x) for name, x in attrs.items()}}


class _Decoder:
    def __init__(self) -> None:
        self.objects: dict[int, Any] = {}

    def value(self, v: Any) -> Any:
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if not isinstance(v, dict):
            return v
        if "t" in v:
            return tuple(self.value(x) for x in v["t"])
        if "d" in v:
            return {self.value(k): self.value(x) for k, x in v["d"]}
        if "q" in v:
            return deque((self.value(x) for x in v["q"]), maxlen=v["n"])
        if "s" in v:
            return {self.value(x) for x in v["s"]}
        if "f" in v:
            return frozenset(self.value(x) for x in v["f"])
        if "r" in v:
            return self.objects[v["r"]]
        cls = CLASSES[v["o"]]  # KeyError for any other name: nothing else is ever built
        obj: Any = object.__new__(cls)
        self.objects[v["i"]] = obj
        for name, x in v["a"].items():
            object.__setattr__(obj, name, self.value(x))  # frozen dataclasses too, as unpickling does
        return obj


def dump(timeline: Timeline) -> bytes:
    """The timeline as a compressed JSON document; TypeError if it holds something a document cannot."""
    document = {"version": VERSION, "shape": SHAPE, "timeline": _Encoder().value(timeline)}
    return zlib.compress(json.dumps(document, separators=(",", ":")).encode(), 6)


def load(blob: bytes | None, run_id: str = "") -> Timeline | None:
    """The timeline a document of this version and shape holds, else None (the caller replays the events)."""
    if blob is None:
        return None
    try:
        document = json.loads(zlib.decompress(blob))
    except (
        zlib.error,
        ValueError,
        RecursionError,
    ):  # not a JSON document: an older server's pickled snapshot, never unpickled
        log.info("run %s: its snapshot is not a JSON document (an older server's); replaying its events", run_id)
        return None
    if not isinstance(document, dict) or document.get("version") != VERSION or document.get("shape") != SHAPE:
        version = document.get("version") if isinstance(document, dict) else None
        log.info(
            "run %s: its snapshot is of another version or shape (%r, this server's %r); replaying its events",
            run_id,
            version,
            VERSION,
        )
        return None
    try:
        timeline = _Decoder().value(document["timeline"])
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError):
        log.warning("run %s: its snapshot could not be read; replaying its events", run_id, exc_info=True)
        return None
    return timeline if isinstance(timeline, Timeline) else None
