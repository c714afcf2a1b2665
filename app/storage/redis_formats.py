"""What the lab keeps in Redis, and how (issue 15, docs/distributed.md): key names and versioned formats. Pure.

Everything is JSON or the runner's own lines, never pickle: a process that can write to Redis must not be
able to run code in another. Every JSON document carries `"v": 1` and every stream entry a field `v` = 1;
a reader refuses any other version rather than guess. Each document's fields are typed in
app/storage/redis_documents.py.

The queue, `lab:runs` (a stream; the runner nodes read it as the consumer group `nodes`, one entry to one
node): an entry's one field `job` is the JSON document

    {"v": 1, "run": "<id>", "experiment": "<experiment id>", "params": {...}, "measures_time": false,
     "owner": "<client id>", "sweep": null, "created_at": <unix s>}

(`owner`, `sweep` and `created_at` may be left out). The queue holds only runs in flight: whoever ends a
job acknowledges and deletes its entry in one transaction (XACK + XDEL): the node once the run has ended and
its end is written (or at once, for a job that cannot run), the reaper for an entry pending for a node whose
heartbeat expired (app/running/reaper.py: its run ends `interrupted`, never run again), and a cancel of a
run still queued (one script: the entry deleted, the run ended `cancelled`). So every entry is either
queued (its id after the group's last-delivered-id) or executing (pending for a node): `in_flight_of`.

A run's stream, `lab:run:{id}:events`: everything about the run, in order, replayable from any entry id
(XRANGE/XREAD from it). Each entry has the fields `v` = 1 and `kind`:

- `state`: field `doc`, the run's state document (below) as it was written at that moment: queued (by
  whoever queued it), running, each later save (the runner's header came: what it runs under), and its end
  (done, failed, cancelled, timed_out, hung, interrupted: with `error`, `result`).
- `events`: fields `first` and `last` (the numbers of its first and last event, from 1 as the SQLite store
  numbers them) and `data`, one stored row exactly as app/storage/wire.py makes it for the SQLite store
  (zlib of the runner's own lines as they came, or of numbered event lines): `unpack_events(data, first)`
  reads it. Rows past the log's bound hold only the events replay needs, so `first`..`last` may skip.
- `truncated`: field `doc`, `{"v": 1, "at_bytes": ..., "after_events": ...}`: the run's stored log reached
  LAB_MAX_LOG_MB (at `at_bytes` of rows' data, after `after_events` events stored in full); from there on,
  as in the SQLite store, only header, lane, result and failure events are kept.

A run's state, `lab:run:{id}`: the JSON document `{"v": 1, "node": "<name or null>", ...}` whose other
fields are the run's row as the SQLite store writes it (app/storage/records.py `record_of`, with
`truncated_at_bytes` and `truncated_after_events`), so `run_of` reads it back into a Run.

A cancel request, `lab:run:{id}:cancel`: the JSON document `{"v": 1, "at": <unix s>}`, set (with a TTL) by
whoever cancels; the node running the run looks for it every CANCEL_POLL_S and stops the run as the
embedded lab's cancel does (a node that takes a run with a cancel request ends it `cancelled`, unrun).

A node's heartbeat, `lab:node:{name}`: the JSON document `{"v": 1, "name": ..., "host": ..., "pid": ...,
"run": "<id or null>", "at": <unix s>}`, set with a TTL of LAB_NODE_TTL_S and refreshed every third of it;
each heartbeat also adds the node's name to the set `lab:nodes` (which a reaper, or the node leaving, empties
of names whose heartbeat expired), so readers find the heartbeats by name, never by scanning the keys.
While its node runs a run, each heartbeat also sets `lab:run:{id}:seen` (TTL SEEN_TTL_S) to the node's
time.monotonic_ns() as a decimal string: the clock the runner stamps the run's events with. A reaped run's
state gets it as `cut_at_ns`: its open spans are cut where its node was last seen running it.

A finished run's timeline, `lab:run:{id}:snapshot`: app/storage/snapshots.py's versioned, compressed JSON
document (`snapshots.load` reads it), the same bytes the SQLite store keeps; written with the run's end, in
the same pipeline. None if the timeline could not be dumped or is bigger than the log's bound: replayed then.

The history, `lab:history`: a sorted set of every run queued (`submit` adds it in its transaction), score
its `created_at`, member its id; read newest first, a page at a time, with the runs' state documents.

A sweep, `lab:sweep:{id}`: the JSON document `{"v": 1, "id", "experiment", "params", "vary", "points":
[{"params", "run_id"}], "owner", "created_at"}` (app/storage/sweep_store.py's row), written once, and its id
in the sorted set `lab:sweeps`, score its `created_at` (what LAB_RETAIN_DAYS deletes by).

A class's session of a lesson (app/model/lesson_state.py), `lab:lesson:{session}`: the JSON document
`{"v": 1, ...}` whose other fields are `lesson_state.to_doc`'s (id, lesson, started_at, ended_at, step,
version, people, steps), rewritten whole by each change in an optimistic transaction (WATCH, GET, MULTI SET
EXEC, app/storage/redis_lessons.py). The live session's id, `lab:live-lesson`, a plain string (none while no
lesson is live). Each lesson's sessions, `lab:given:{lesson id}`: a sorted set, score the session's
`started_at`, member its id; and every session in `lab:lessons`, scored so too (what LAB_RETAIN_DAYS deletes by).

The pin, `lab:pin`: the pinned run's id, a plain string (no document: there is nothing else to say).

A fair-use rate window (app/running/redis_rates.py), `lab:rate:client:{client id}` and `lab:rate:ip:{address}`: a
sorted set of the requests counted in the last minute, each a member `<TIME s>.<µs>:<random hex>` scored by
Redis's TIME in microseconds; TTL one window.

What the client answers (a client made without decode_responses: bytes, never str) is checked and typed at
the boundary by app/storage/redis_replies.py.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, cast

from app.model.experiments import Experiment
from app.model.lesson_state import LessonState, from_doc, to_doc
from app.model.runs import Run, Truncation
from app.model.status import Status
from app.model.sweeps import Point, Sweep
from app.storage.records import placeholder, record_of
from app.storage.redis_documents import CancelDoc, HeartbeatDoc, JobDoc, StateDoc, SweepDoc, TruncatedDoc
from app.storage.redis_replies import Fields

if TYPE_CHECKING:
    from redis.typing import EncodableT, FieldT

VERSION: Final = 1  # redis_documents.Version
RUNS = "lab:runs"  # the queue of run jobs
GROUP = "nodes"  # the runner nodes' consumer group on RUNS
CANCEL_POLL_S = 0.2  # how often a node looks for a cancel request of the run it runs
CANCEL_TTL_S = 24 * 3600  # a cancel request outlives any run it could be for
RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
HISTORY = "lab:history"  # every run ever queued: a sorted set, score its created_at, member its id
SWEEPS = "lab:sweeps"  # every sweep: a sorted set, score its created_at, member its id (for retention)
PIN = "lab:pin"  # the pinned run's id (a string), if one is pinned
LIVE_LESSON = "lab:live-lesson"  # the live lesson session's id (a string), if one is live
LESSONS = "lab:lessons"  # every lesson session: a sorted set, score its started_at, member its id (for retention)
SECRET = "lab:secret"  # the key of the client cookies' signatures, hex (app/storage/lab_secret.py)
SEEN_TTL_S = 24 * 3600  # a run's last sighting outlives any run it could be of


def state_key(run_id: str) -> str:
    return f"lab:run:{run_id}"


def events_key(run_id: str) -> str:
    return f"lab:run:{run_id}:events"


def cancel_key(run_id: str) -> str:
    return f"lab:run:{run_id}:cancel"


def node_key(name: str) -> str:
    return f"lab:node:{name}"


def rate_key(kind: str, who: str) -> str:
    """A rate window's sorted set: `kind` "client" (by client id), "ip" (by address), or "admin-guess" (wrong admin
    tokens, by address)."""
    return f"lab:rate:{kind}:{who}"


NODES = "lab:nodes"  # the names of the nodes that beat: a set, each name's heartbeat read by MGET


def snapshot_key(run_id: str) -> str:
    return f"lab:run:{run_id}:snapshot"


def seen_key(run_id: str) -> str:
    return f"lab:run:{run_id}:seen"


def run_keys(run_id: str) -> tuple[str, ...]:
    """Every key a run has in Redis (retention deletes them together)."""
    return (state_key(run_id), events_key(run_id), snapshot_key(run_id), seen_key(run_id), cancel_key(run_id))


def sweep_key(sweep_id: str) -> str:
    return f"lab:sweep:{sweep_id}"


def lesson_key(session: str) -> str:
    return f"lab:lesson:{session}"


def given_key(lesson: str) -> str:
    """The sorted set of the sessions of lesson `lesson`, by started_at."""
    return f"lab:given:{lesson}"


def dumps(doc: Mapping[str, object]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


# ---- the job ----


class JobError(ValueError):
    """A job that cannot run, in words naming the problem; `run` is its run id when it had a valid one."""

    def __init__(self, problem: str, run: str | None = None):
        super().__init__(problem)
        self.run = run


@dataclass(frozen=True)
class Job:
    run: str
    experiment: str
    params: dict[str, Any]
    measures_time: bool = False
    owner: str = ""
    sweep: str | None = None
    created_at: float = 0.0

    def to_fields(self) -> dict[FieldT, EncodableT]:
        """The entry of `lab:runs` that queues it."""
        doc: JobDoc = {
            "v": VERSION,
            "run": self.run,
            "experiment": self.experiment,
            "params": self.params,
            "measures_time": self.measures_time,
            "owner": self.owner,
            "sweep": self.sweep,
            "created_at": self.created_at,
        }
        return {"job": dumps(doc)}


def read_job(fields: dict[bytes, bytes]) -> Job:
    """The job of an entry of `lab:runs`, or a JobError naming what is wrong with it."""
    raw = fields.get(b"job")
    if raw is None:
        raise JobError(f"the entry has no `job` field (fields: {sorted(k.decode('utf-8', 'replace') for k in fields)})")
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise JobError(f"the job is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise JobError("the job is not a JSON object")
    run = doc.get("run")
    run_id = run if isinstance(run, str) and RUN_ID.fullmatch(run) else None
    if doc.get("v") != VERSION:
        raise JobError(f"the job is of version {doc.get('v')!r}; this node reads version {VERSION}", run_id)
    if run_id is None:
        raise JobError(f"the job's run id must be 1 to 64 letters, digits, - or _, got {run!r}")
    experiment, params = doc.get("experiment"), doc.get("params", {})
    if not isinstance(experiment, str):
        raise JobError(f"the job's experiment must be an experiment id, got {experiment!r}", run_id)
    if not isinstance(params, dict):
        raise JobError(f"the job's params must be a JSON object, got {params!r}", run_id)
    measures_time, owner, sweep = doc.get("measures_time", False), doc.get("owner", ""), doc.get("sweep")
    created_at = doc.get("created_at") or time.time()
    if (
        not isinstance(measures_time, bool)
        or not isinstance(owner, str)
        or not isinstance(sweep, (str, type(None)))
        or not isinstance(created_at, (int, float))
    ):
        raise JobError(
            "the job's measures_time must be a boolean, owner a string, sweep a string or null, created_at a number",
            run_id,
        )
    return Job(run_id, experiment, params, measures_time, owner, sweep, float(created_at))


def run_of_job(job: Job, experiment: Experiment | None = None) -> Run:
    """The queued Run a job stands for; of `experiment` if known, else of a placeholder named by its id."""
    return Run(
        job.run, experiment or placeholder(job.experiment), job.params, job.owner, job.sweep, created_at=job.created_at
    )


# ---- a run's state and stream ----


def state_doc(run: Run, node: str | None = None) -> StateDoc:
    """The run's state document: its SQLite row (app/storage/records.py) with the version and the node."""
    truncated = run.truncated
    return {
        "v": VERSION,
        "node": node,
        **record_of(run),
        "truncated_at_bytes": None if truncated is None else truncated.at_bytes,
        "truncated_after_events": None if truncated is None else truncated.after_events,
    }


def ended(doc: StateDoc, status: Status, error: str, events: int, now: float) -> StateDoc:
    """A state document ended from outside a node (its node is gone, or none took it): `status`, why, when;
    `events` received."""
    return {
        **doc,
        "status": str(status),
        "error": error,
        "ended_at": now,
        "events": max(doc.get("events") or 0, events),
    }


def state_entry(doc: StateDoc) -> dict[FieldT, EncodableT]:
    return {"v": VERSION, "kind": "state", "doc": dumps(doc)}


def events_entry(first: int, last: int, data: bytes) -> dict[FieldT, EncodableT]:
    return {"v": VERSION, "kind": "events", "first": first, "last": last, "data": data}


def truncated_entry(truncation: Truncation) -> dict[FieldT, EncodableT]:
    doc: TruncatedDoc = {"v": VERSION, "at_bytes": truncation.at_bytes, "after_events": truncation.after_events}
    return {"v": VERSION, "kind": "truncated", "doc": dumps(doc)}


@dataclass(frozen=True)
class Entry:
    """An entry of a run's stream, read back: `doc` for state and truncated, `first`, `last`, `data` for events."""

    id: str
    kind: Literal["state", "events", "truncated"]
    doc: StateDoc | TruncatedDoc | None = None
    first: int = 0
    last: int = 0
    data: bytes = b""

    @property
    def state(self) -> StateDoc | None:
        """A state entry's document; None for another kind."""
        return cast(StateDoc, self.doc) if self.kind == "state" else None

    @property
    def truncation(self) -> TruncatedDoc | None:
        """A truncated entry's document; None for another kind."""
        return cast(TruncatedDoc, self.doc) if self.kind == "truncated" else None


def read_entry(entry_id: bytes | str, fields: dict[bytes, bytes]) -> Entry:
    """An entry of `lab:run:{id}:events`; ValueError if it is of another version or kind."""
    entry_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    if fields.get(b"v") != str(VERSION).encode():
        raise ValueError(f"entry {entry_id} is of version {fields.get(b'v')!r}, not {VERSION}")
    kind = fields.get(b"kind", b"").decode()
    if kind == "events":
        return Entry(entry_id, "events", first=int(fields[b"first"]), last=int(fields[b"last"]), data=fields[b"data"])
    if kind in ("state", "truncated"):  # its document as written (of this version: the entry's `v` says so)
        return Entry(entry_id, "state" if kind == "state" else "truncated", doc=json.loads(fields[b"doc"]))
    raise ValueError(f"entry {entry_id} is of an unknown kind {kind!r}")


def heartbeat_doc(name: str, host: str, pid: int, run: str | None, now: float) -> HeartbeatDoc:
    return {"v": VERSION, "name": name, "host": host, "pid": pid, "run": run, "at": now}


def cancel_doc(now: float) -> CancelDoc:
    return {"v": VERSION, "at": now}


# ---- what is in flight ----


@dataclass(frozen=True)
class InFlight:
    """The queue's runs not yet taken, head first; those taken, each with the node running it; the nodes."""

    queued: tuple[Job, ...] = ()
    executing: tuple[tuple[Job, str], ...] = ()
    nodes: int = 0  # heartbeats alive
    idle_nodes: int = 0  # of those, the ones running nothing


def stream_id(entry_id: bytes) -> tuple[int, int]:
    """An entry id (`<ms>-<seq>`) as a pair that sorts as Redis sorts ids."""
    ms, _, seq = entry_id.partition(b"-")
    return int(ms), int(seq or 0)


def in_flight_of(
    last_delivered: bytes,
    entries: list[tuple[bytes, Fields]],
    pending: list[tuple[bytes, str]],
    beats: list[bytes | None],
) -> tuple[InFlight, list[str]]:
    """What is in flight, from the queue's entries (every one queued or executing: whoever ends a job deletes
    its entry), the group's last-delivered-id, its pending entries and the nodes' heartbeats; and, in words,
    each entry or heartbeat left out because it could not be read."""
    problems: list[str] = []
    jobs: dict[bytes, Job] = {}
    for entry_id, fields in entries:
        try:
            jobs[entry_id] = read_job(fields)
        except JobError as exc:
            problems.append(f"queue entry {entry_id.decode()}: {exc}")
    taken = stream_id(last_delivered)
    executing = tuple(
        (jobs[entry_id], node) for entry_id, node in sorted(pending, key=lambda p: stream_id(p[0])) if entry_id in jobs
    )
    queued = tuple(job for entry_id, job in jobs.items() if stream_id(entry_id) > taken)
    runs = [run for run in (_beat_run(beat, problems) for beat in beats) if run is not False]
    return InFlight(queued, executing, len(runs), sum(run is None for run in runs)), problems


def _beat_run(beat: bytes | None, problems: list[str]) -> str | None | Literal[False]:
    """The run a heartbeat says its node runs (None: idle); False if it expired or cannot be read."""
    if beat is None:  # expired between SCAN and MGET
        return False
    try:
        doc = json.loads(beat)
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or doc.get("v") != VERSION:
        problems.append(f"a heartbeat that cannot be read: {beat!r:.80}")
        return False
    run = doc.get("run")
    return run if isinstance(run, str) else None


# ---- a sweep ----


def sweep_doc(sweep: Sweep) -> SweepDoc:
    """A sweep as `lab:sweep:{id}` keeps it: sweep_store's row, as one JSON document."""
    return {
        "v": VERSION,
        "id": sweep.id,
        "experiment": sweep.experiment,
        "params": sweep.params,
        "vary": sweep.vary,
        "points": [{"params": p.params, "run_id": p.run_id} for p in sweep.points],
        "owner": sweep.owner,
        "created_at": sweep.created_at,
    }


def read_sweep(raw: bytes) -> Sweep:
    """A sweep read back; ValueError if it is of another version (or no sweep document)."""
    doc = json.loads(raw)
    if not isinstance(doc, dict) or doc.get("v") != VERSION:
        raise ValueError(f"the sweep is of version {doc.get('v') if isinstance(doc, dict) else None!r}, not {VERSION}")
    try:
        return Sweep(
            doc["id"],
            doc["experiment"],
            doc["params"],
            doc["vary"],
            tuple(Point(p["params"], p["run_id"]) for p in doc["points"]),
            doc["owner"],
            doc["created_at"],
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"the sweep document lacks {exc}") from None


# ---- a lesson session ----


def lesson_doc(state: LessonState) -> dict[str, Any]:
    """A session as `lab:lesson:{session}` keeps it: lesson_state's document, with the version."""
    return {"v": VERSION, **to_doc(state)}


def read_lesson(raw: bytes) -> LessonState:
    """A session read back; ValueError if it is of another version (or no session document)."""
    doc = json.loads(raw)
    if not isinstance(doc, dict) or doc.get("v") != VERSION:
        raise ValueError(f"the lesson is of version {doc.get('v') if isinstance(doc, dict) else None!r}, not {VERSION}")
    try:
        return from_doc(doc)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"the lesson document cannot be read: {exc!r}") from None
