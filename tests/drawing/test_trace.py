"""Open in Perfetto: a run's trace.json follows the Chrome Trace Event Format's rules.

The rules checked (what Perfetto's and chrome://tracing's JSON importers rely on): the fields each
phase requires, durations on one thread that nest, flow starts and finishes that pair by id,
complete events in time order within a thread, and names for every process and thread used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.drawing.trace import trace_of, tracks_for
from app.model.events import Event
from app.model.timeline import Span
from app.web import api
from app.web.server import create_app
from tests.helpers import TEST_MODULES, make_settings, wait_for_status

MS = 1_000_000
REQUIRED = {
    "X": {"name", "cat", "ts", "dur", "pid", "tid"},
    "i": {"name", "ts", "pid", "tid", "s"},
    "M": {"name", "pid", "args"},
    "s": {"name", "cat", "id", "ts", "pid", "tid"},
    "f": {"name", "cat", "id", "ts", "pid", "tid", "bp"},
    "C": {"name", "ts", "pid", "args"},
}


def ns(us: float) -> int:
    return round(us * 1000)


def check_trace(trace: Mapping[str, Any]) -> dict[str, int]:
    """Assert the format's rules over `trace` (trace_of's, or the JSON the API sent); the count of events by phase."""
    assert trace["displayTimeUnit"] == "ms"
    events = trace["traceEvents"]
    counts: dict[str, int] = {}
    named_threads, named_processes = set(), set()
    for e in events:
        ph = e["ph"]
        counts[ph] = counts.get(ph, 0) + 1
        assert ph in REQUIRED, f"unexpected phase {ph}"
        missing = REQUIRED[ph] - set(e)
        assert not missing, f"{ph} event without {missing}: {e}"
        if "ts" in e:
            assert isinstance(e["ts"], (int, float)) and e["ts"] >= 0, e
        if ph == "X":
            assert e["dur"] >= 0, e
        if ph == "i":
            assert e["s"] in ("t", "p", "g")
        if ph == "f":
            assert e["bp"] == "e"
        if ph == "C":
            assert all(isinstance(v, (int, float)) for v in e["args"].values())
        if ph == "M":
            assert e["name"] in ("process_name", "thread_name", "process_sort_index", "thread_sort_index")
            if e["name"] == "thread_name":
                assert e["args"]["name"]
                named_threads.add((e["pid"], e["tid"]))
            if e["name"] == "process_name":
                named_processes.add(e["pid"])
    by_thread: dict[tuple, list[dict]] = {}
    for e in events:
        if e["ph"] == "X":
            by_thread.setdefault((e["pid"], e["tid"]), []).append(e)
        if e["ph"] in "Xisf":
            if not (e["ph"] == "i" and e["s"] == "g"):
                assert (e["pid"], e["tid"]) in named_threads, f"thread of {e} has no thread_name"
            assert e["pid"] in named_processes, f"process of {e} has no process_name"
    for thread, spans in by_thread.items():
        starts = [ns(e["ts"]) for e in spans]
        assert starts == sorted(starts), f"X events of {thread} are not in time order"
        open_ends: list[int] = []
        for e in spans:
            start, end = ns(e["ts"]), ns(e["ts"]) + ns(e["dur"])
            while open_ends and open_ends[-1] <= start:
                open_ends.pop()
            assert not open_ends or end <= open_ends[-1], f"{e} overlaps a span on {thread} without nesting"
            open_ends.append(end)
    flow_starts = {e["id"]: e for e in events if e["ph"] == "s"}
    finishes = {e["id"]: e for e in events if e["ph"] == "f"}
    assert len(flow_starts) == counts.get("s", 0) and len(finishes) == counts.get("f", 0), "flow ids repeat"
    assert flow_starts.keys() == finishes.keys(), "every flow start has its finish, and no finish is alone"
    for flow_id, start in flow_starts.items():
        assert ns(start["ts"]) <= ns(finishes[flow_id]["ts"]), "a flow ends before it starts"
    return counts


# -- the pure core ------------------------------------------------------------------------------


def span(start_ms: int, end_ms: int, depth: int = 0) -> Span:
    return Span(0, f"{start_ms}-{end_ms}", "run", start_ms * MS, end_ms * MS, depth)


def test_overlapping_spans_go_to_an_overflow_track_and_nested_ones_stay():
    tracks = tracks_for([span(0, 10), span(2, 5, 1), span(4, 12), span(11, 13), span(5, 9, 1)])
    assert [[s.name for s in t] for t in tracks] == [["0-10", "2-5", "5-9", "11-13"], ["4-12"]]


def test_a_handmade_run_becomes_named_tracks_spans_instants_and_a_flow():
    events = [
        Event("header", 0, "main", value={"pid": 100, "python": "3.11.7"}),
        Event("lane", 0, "main", value={"pid": 100, "tid": 100, "thread": "MainThread"}),
        Event("lane", 1 * MS, "consumer", value={"pid": 100, "tid": 101, "thread": "consumer"}),
        Event("begin", 1 * MS, "consumer", "Queue.get", "wait"),
        Event("begin", 2 * MS, "main", "produce", "run"),
        Event("instant", 3 * MS, "main", "put 'a'", "notify", "k1"),
        Event("end", 4 * MS, "main"),
        Event("instant", 5 * MS, "consumer", "got 'a'", "woken", "k1"),
        Event("end", 5 * MS, "consumer"),
        Event("begin", 6 * MS, "consumer", "never ends", "cpu"),
        Event("oncpu", 2 * MS, "", value=(101, 3 * MS)),
        Event("counter", 3 * MS, "main", "items waiting", value=1),
    ]
    trace = trace_of(events, end_ns=8 * MS, why="killed at exit")
    counts = check_trace(trace)
    assert counts == {"M": 2 + 3 * 2, "X": 4, "i": 2, "s": 1, "f": 1, "C": 1}
    xs = {e["name"]: e for e in trace["traceEvents"] if e["ph"] == "X"}
    assert xs["Queue.get"]["ts"] == 1000 and xs["Queue.get"]["dur"] == 4000  # microseconds from the start
    assert xs["never ends"]["args"] == {"cut": "killed at exit"} and xs["never ends"]["dur"] == 2000
    assert xs["on a CPU"]["tid"] not in (xs["Queue.get"]["tid"], xs["produce"]["tid"])  # a track of its own
    names = {e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "thread_name"}
    assert names == {"main (tid 100)", "consumer (tid 101)", "consumer · on a CPU"}


# -- real runs through the API ------------------------------------------------------------------

RUNS = [
    ("race-counter", {"workers": 2, "iterations": 100_000, "window": "call"}),
    (
        "queue-producer-consumer",
        {"variant": "fixed", "workers": 2, "items": 6, "maxsize": 2, "produce_delay_ms": 50, "process_ms": 20},
    ),
    ("condition-dialogue", {"variant": "fixed"}),
    ("mp-queue", {"items": 4, "interval_ms": 30, "start_method": "fork"}),
    ("mp-pipe", {"variant": "fixed", "messages": 3, "start_method": "fork"}),
]


@pytest.fixture(scope="module")
def finished_runs():
    settings = make_settings(max_concurrent_runs=2)
    with TestClient(create_app(settings, modules=TEST_MODULES)) as client:
        ids = [client.post("/api/runs", json={"experiment": e, "params": p}).json()["id"] for e, p in RUNS]
        runs = {experiment: wait_for_status(client, run_id, timeout=60) for (experiment, _), run_id in zip(RUNS, ids)}
        yield client, settings, runs


@pytest.mark.parametrize("experiment", [e for e, _ in RUNS])
def test_a_finished_runs_trace_follows_the_format(finished_runs, experiment):
    client, _, runs = finished_runs
    run = runs[experiment]
    assert run["status"] == "done", run
    response = client.get(f"/api/runs/{run['id']}/trace.json")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert f'filename="{experiment}-{run["id"]}.trace.json"' in response.headers["content-disposition"]
    trace = response.json()
    counts = check_trace(trace)
    assert counts["X"] >= 3 and counts["M"] >= 4
    assert trace["otherData"]["run"] == run["id"] and trace["otherData"]["status"] == "done"
    assert trace["otherData"]["events_in_trace"] == run["log"]["events"]
    if experiment in ("mp-queue", "condition-dialogue"):
        assert counts.get("s", 0) >= 3, "each woken wait is a flow from the notify that ended it"
    if experiment == "queue-producer-consumer":
        assert counts["C"] >= 6, "queue depth, as a counter"
    if experiment == "race-counter":
        cpu = [e for e in trace["traceEvents"] if e["ph"] == "X" and e["cat"] == "oncpu"]
        assert len(cpu) >= 2, "the kernel's turns on a CPU are in the trace"
    if experiment == "mp-pipe":
        processes = {e["pid"] for e in trace["traceEvents"] if e["name"] == "process_name"}
        assert len(processes) == 3, "main's process, the sender's and the receiver's"


def test_the_run_page_links_its_trace(finished_runs):
    client, _, runs = finished_runs
    run = runs["race-counter"]
    page = client.get(f"/runs/{run['id']}").text
    assert f'href="/api/runs/{run["id"]}/trace.json"' in page and "ui.perfetto.dev" in page


def test_a_trace_is_bounded_and_says_where_it_stops(finished_runs, monkeypatch):
    client, _, runs = finished_runs
    monkeypatch.setattr(api, "TRACE_EVENTS_MAX", 10)
    monkeypatch.setattr(api, "TRACE_PAGE", 4)
    trace = client.get(f"/api/runs/{runs['race-counter']['id']}/trace.json").json()
    check_trace(trace)
    assert trace["otherData"]["events_in_trace"] == 10
    assert trace["otherData"]["truncated"].startswith("the trace stops here: only the first 10 events")
    assert any(
        e["ph"] == "i" and e["s"] == "g" and e["name"] == trace["otherData"]["truncated"] for e in trace["traceEvents"]
    )


def test_a_running_runs_trace_cuts_what_is_still_open():
    with TestClient(create_app(make_settings(), modules=TEST_MODULES)) as client:
        params = {"variant": "fixed", "workers": 1, "items": 2, "maxsize": 2, "produce_delay_ms": 5000, "process_ms": 0}
        run_id = client.post("/api/runs", json={"experiment": "queue-producer-consumer", "params": params}).json()["id"]
        wait_for_status(client, run_id, statuses=("running",))

        def sleeping():
            events = client.get(f"/api/runs/{run_id}/events").json()
            return any(e["kind"] == "begin" and e["name"].startswith("sleep(") for e in events)

        from tests.helpers import until

        until(sleeping, 20, "the producer's sleep")
        trace = client.get(f"/api/runs/{run_id}/trace.json").json()
        client.post(f"/api/runs/{run_id}/cancel")
    check_trace(trace)
    cut = [e for e in trace["traceEvents"] if e["ph"] == "X" and e.get("args", {}).get("cut")]
    assert any(e["name"].startswith("sleep(") for e in cut)
    assert {e["args"]["cut"] for e in cut} == {"still running when the trace was taken"}


def test_a_trace_is_the_same_after_a_restart(finished_runs):
    client, settings, runs = finished_runs
    run_id = runs["condition-dialogue"]["id"]
    before = client.get(f"/api/runs/{run_id}/trace.json").json()
    with TestClient(create_app(settings, modules=TEST_MODULES)) as again:  # a second server on the same database
        after = again.get(f"/api/runs/{run_id}/trace.json").json()
    assert after["traceEvents"] == before["traceEvents"]


def test_an_unknown_runs_trace_is_404(client):
    assert client.get("/api/runs/nope/trace.json").status_code == 404
