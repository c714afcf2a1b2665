"""A web replica's copy of a run a runner node runs: the run's Redis stream folded, entry by entry, into a Run.

The node owns the run (app/running/node.py); a replica only reads its stream (app/storage/redis_formats.py)
and folds each entry into a mirror Run as the embedded lab's own run would have changed: state documents
set its status and what it ran under, events rows go through `Run.ingest` into its Timeline, a `truncated`
entry says where the stored log was cut. The mirror journals nothing (its journal is None): what it shows
is already stored. The drawing (app/drawing/broadcast.py) renders it exactly as it renders a local run.
Pure: the store (app/storage/redis_store.py) reads the stream.
"""

from __future__ import annotations

import json

from app.model.experiments import Experiment
from app.model.runs import Run, Truncation
from app.model.status import Status
from app.storage.records import RUN_COLUMNS, run_of
from app.storage.redis_documents import StateDoc
from app.storage.redis_formats import Entry
from app.storage.wire import unpack_events

# What a state document may change on a run already mirrored: its columns but the ones fixed at its start
# (and `received`, which the events count), and what travels in `extra` (conditions, ...).
CHANGING = tuple(
    column.attr
    for column in RUN_COLUMNS
    if column.attr not in ("id", "experiment", "params", "owner", "created_at", "received")
)


def mirror_of(doc: StateDoc, experiments: dict[str, Experiment]) -> Run:
    """A mirror of the run a state document describes, its timeline still empty and its status queued: the
    stream's entries, folded from the first, bring it to where the run is."""
    run = run_of(doc, experiments)
    run.status, run.started_at, run.ended_at, run.error, run.received, run.truncated = (
        Status.QUEUED,
        None,
        None,
        None,
        0,
        None,
    )
    return run


def fold(run: Run, entry: Entry) -> None:
    """Bring the mirror `run` up to `entry`, the next entry of its stream."""
    if entry.kind == "events":
        if entry.last <= run.received:
            return  # folded already: a node's write sent again after Redis dropped the connection
        events = [event for _, event in unpack_events(entry.data, entry.first)]
        run.ingest(events)  # no journal: counted, folded, and its viewers woken
        run.received = max(run.received, entry.last)  # rows past the log's bound skip events
    elif entry.truncation is not None:
        run.truncated = Truncation(entry.truncation["at_bytes"], entry.truncation["after_events"])
        run.changed.set()
    elif entry.state is not None:
        adopt(run, entry.state)


def adopt(run: Run, doc: StateDoc) -> None:
    """A state document of the run: its status and what it ran under; at its end, its open spans cut as the
    node cut them."""
    if run.finished:
        return  # an end is final (a second one, e.g. a reaper's after the node's, changes nothing)
    experiments = {run.experiment.id: run.experiment}
    state = run_of(doc, experiments)
    for name in (*CHANGING, *json.loads(doc["extra"])):
        if name != "place" and hasattr(run, name):  # where it stood in line is this replica's to say
            setattr(run, name, getattr(state, name))
    run.received = max(run.received, state.received)
    if state.truncated is not None:
        run.truncated = state.truncated
    if state.status == Status.RUNNING:
        run.place = None
    if state.finished:
        run.timeline.close(run.cut_at_ns, run.status.cut_why)
    run.changed.set()
