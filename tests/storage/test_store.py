"""The SQLite run store: what a run leaves behind survives a reopen, paged, batched and bounded."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
import zlib
from pathlib import Path

import pytest

from app.model.events import Event
from app.model.runs import Run
from app.model.status import Status
from app.storage.store import BACKLOG_HIGH, RunStore
from app.storage.wire import WIRE_MARK
from tests.helpers import EXPERIMENTS, RACE, drawn, header, result, spans


def rows(path, sql):
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


async def opened(path: Path, max_log_bytes: int = RunStore.max_log_bytes) -> RunStore:
    store = RunStore(str(path), EXPERIMENTS, max_log_bytes=max_log_bytes)
    await store.open()
    return store


def test_a_finished_run_replays_identically_after_reopen(tmp_path):
    path = tmp_path / "lab.db"

    async def first():
        store = await opened(path)
        run = store.create(RACE, {"workers": 2}, owner="c" * 32)
        run.start()
        run.ingest(header() + [Event("begin", 5, "main", "never ends", "wait")])
        run.ingest(spans(50) + [Event("instant", 99, "w1", "print", "print")] + result(700))
        run.finish(Status.DONE, cut_at_ns=800)
        await store.close()
        return run.id, drawn(run), run.to_json()

    async def second(run_id):
        store = await opened(path)
        run = await store.find(run_id)
        assert run is not None
        await store.close()
        return drawn(run), run.to_json(), run

    run_id, before, before_json = asyncio.run(first())
    after, after_json, run = asyncio.run(second(run_id))
    assert after == before and after_json == before_json
    assert run.timeline.spans[-1].cut == "killed at exit" and run.timeline.spans[-1].end_ns == 800
    assert before_json["log"] == {"events": 105, "truncated": None}


def test_events_are_numbered_and_paged(tmp_path):
    async def main():
        store = await opened(tmp_path / "lab.db")
        run = store.create(RACE, {})
        run.ingest(header())
        run.ingest(spans(5000))  # more than one stored chunk
        first = await store.events(run.id, after=0, limit=3)
        middle = await store.events(run.id, after=4097, limit=4)
        tail = await store.events(run.id, after=10_000, limit=100)
        everything = await store.events(run.id, after=0, limit=100_000)
        await store.close()
        return first, middle, tail, everything

    first, middle, tail, everything = asyncio.run(main())
    assert [e["seq"] for e in first] == [1, 2, 3] and first[0]["kind"] == "header"
    assert first[2] == {
        "seq": 3,
        "ts_ns": 10,
        "worker": "w1",
        "kind": "begin",
        "start_ns": 10,
        "name": "step 0",
        "category": "run",
    }
    assert [e["seq"] for e in middle] == [4098, 4099, 4100, 4101]
    assert [e["seq"] for e in tail] == [10_001, 10_002]
    assert [e["seq"] for e in everything] == list(range(1, 10_003))


def test_events_ingested_in_one_tick_are_written_in_one_transaction(tmp_path):
    path = tmp_path / "lab.db"

    async def main():
        store = await opened(path)
        run = store.create(RACE, {})
        for i in range(20):  # twenty pipe reads in the same tick
            run.ingest(spans(5, t0=1000 * i))
        await store.events(run.id, 0, 1)  # a read waits for the writes before it
        await store.close()
        return run.id

    run_id = asyncio.run(main())
    assert rows(path, "SELECT first_seq, last_seq FROM events") == [(1, 200)]
    assert rows(path, f"SELECT events FROM runs WHERE id = '{run_id}'") == [(200,)]


def test_runs_left_running_become_interrupted_with_their_events_kept_and_queued_ones_stay_queued(tmp_path):
    path = tmp_path / "lab.db"

    async def first():
        store = await opened(path)
        queued = store.create(RACE, {})
        running = store.create(RACE, {})
        running.start()
        running.ingest(header() + spans(3) + [Event("begin", 500, "w2", "Lock.acquire", "wait")])
        await store.close()  # as if the server died: neither run finished
        return queued.id, running.id

    async def second(ids):
        store = RunStore(str(path), EXPERIMENTS)
        left_queued = await store.open()
        runs = [await store.find(i) for i in ids]
        events = await store.events(ids[1], 0, 100)
        await store.close()
        return runs, events, left_queued

    before = time.time()
    (queued, running), _, left_queued = asyncio.run(second(asyncio.run(first())))
    assert left_queued == [queued] and queued.journal is not None  # to be queued again, journalled again
    assert queued.status == "queued" and not queued.finished
    assert running.status == "interrupted"
    assert "server stopped" in running.error
    assert before <= running.ended_at <= time.time()  # when the restart found it
    assert running.conditions["python"] == "3.11.7"  # known from its start (the header), kept
    assert sum(s.count for s in running.timeline.spans) == 4  # 3 steps (merged: 5 ns each) and the cut wait
    cut = running.timeline.spans[-1]
    assert (cut.name, cut.cut, cut.end_ns) == ("Lock.acquire", "never ended (the server stopped)", 500)
    assert running.to_json()["log"]["events"] == 9


def test_a_log_past_its_bound_keeps_what_replay_needs_and_says_where_it_was_cut(tmp_path):
    path = tmp_path / "lab.db"
    bound = 20_000

    async def first():
        store = await opened(path, max_log_bytes=bound)
        run = store.create(RACE, {})
        run.start()
        run.ingest(header())
        run.ingest(spans(3))
        for i in range(40):  # ~130 kB compressed in all, which the timeline folds into nothing (as coalescing does)
            run.ingest(
                [Event("counter", 100 + i * 1000 + k, "w1", "depth", f"{i}.{k} {'x' * (k % 97)}") for k in range(1000)]
            )
            await asyncio.sleep(0)
        run.ingest([Event("lane", 50_000, "w9", value={"pid": 11})] + result(60_000))
        run.finish(Status.DONE)
        await store.close()
        return run.id, drawn(run), run.to_json(), run.truncated

    async def second(run_id):
        store = await opened(path)
        run = await store.find(run_id)
        assert run is not None
        events = await store.events(run_id, 0, 100_000)
        await store.close()
        return drawn(run), run.to_json(), events

    run_id, before, before_json, truncation = asyncio.run(first())
    after, after_json, events = asyncio.run(second(run_id))
    assert truncation is not None and 0 < truncation.after_events < 40_000
    assert before_json["log"]["truncated"] == {
        "at_mb": round(truncation.at_bytes / 1e6, 3),
        "after_events": truncation.after_events,
    }
    assert after == before and after_json == before_json  # the snapshot replays it identically
    assert rows(path, "SELECT sum(length(data)) FROM events")[0][0] <= bound
    kinds = [e["kind"] for e in events]
    assert kinds[-2:] == ["lane", "result"] and events[-1]["seq"] == 40_010
    assert len(events) == truncation.after_events + 2
    assert sum(s.count for s in after[1]) == 3  # the spans from before the bound (merged: 5 ns each)


def test_history_is_newest_first_and_paged(tmp_path):
    async def main():
        store = await opened(tmp_path / "lab.db")
        ids = [store.create(RACE, {"n": i}).id for i in range(7)]
        pages = [await store.history(page, 3) for page in (1, 2, 3, 4)]
        await store.close()
        return ids, pages

    ids, pages = asyncio.run(main())
    assert [r["id"] for p in pages for r in p.runs] == ids[::-1]
    assert [len(p.runs) for p in pages] == [3, 3, 1, 0] and pages[0].pages == 3 and pages[0].total == 7


def test_an_unknown_run_is_none(tmp_path):
    async def main():
        store = await opened(tmp_path / "lab.db")
        found = await store.find("nope"), await store.find("x" * 1000)
        await store.close()
        return found

    assert asyncio.run(main()) == (None, None)


def test_a_run_the_lab_answered_for_is_on_disk_for_the_server_started_after_a_sigkill(tmp_path):
    """`flush` (the lab awaits it before it answers a request) returns once the run is committed, however far
    behind the writer is: a server started again after a SIGKILL right after the answer finds it (a lesson
    under load found a student's answered run gone, 404, after its server was killed and started again)."""

    async def go() -> Run | None:
        store = RunStore(str(tmp_path / "lab.db"), EXPERIMENTS)
        await store.open()
        behind = threading.Event()
        store.db.submit(lambda conn: behind.wait(10))  # the writer busy with what came before
        threading.Timer(0.3, behind.set).start()
        run = store.create(RACE, {"workers": 2})
        await store.flush()
        with sqlite3.connect(tmp_path / "lab.db") as other:  # what another process reads now, the first never closed
            found = other.execute("SELECT id FROM runs WHERE id = ?", (run.id,)).fetchone()
        await store.close()
        return run if found else None

    assert asyncio.run(go()) is not None


@pytest.mark.parametrize("query", ["limit=0", "limit=100001", "after=-1", "limit=ten"])
def test_events_paging_out_of_bounds_is_a_422_naming_the_field(client, query):
    run_id = client.post("/api/runs", json={"experiment": "test-raises", "params": {"workers": 1}}).json()["id"]
    response = client.get(f"/api/runs/{run_id}/events?{query}")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == query.split("=")[0]


def test_the_fast_encoding_of_spans_and_marks_is_what_json_would_write():
    import json

    from app.storage.wire import decode_line, encode

    events = [
        Event("begin", 12, 'w "1" é', "fib(3)\n", "cpu"),
        Event("end", 13, "w"),
        Event("instant", 14, "main", "print ☃", "print"),
        Event("counter", 15, "main", "depth", value=2.5),
        Event("instant", 16, "consumer", "got 'Item-2'", "woken", "4021:3"),
    ]  # a woken with its key
    for seq, event in enumerate(events, 1):
        line = encode(seq, event)
        assert json.loads(line)[0] == seq and decode_line(line) == (seq, event)
        assert line == json.dumps(json.loads(line), separators=(",", ":"))


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def test_a_flood_of_events_is_stored_without_growing_memory(tmp_path):
    """300 000 events through the journal, as fast as the loop can hand them over: memory stays flat
    (no event kept, and the writer's backlog is bounded by making the pipe reader wait)."""
    n, batch = 300_000, 1_500  # a 64 kB pipe read holds about 1 500 events

    async def main():
        store = await opened(tmp_path / "lab.db")
        run = store.create(RACE, {})
        before = peak = rss_mb()
        backlog = 0
        for i in range(n // batch):
            events = [
                Event("begin", k, f"w{k % 4}", "Lock.acquire", "hold") if k % 2 == 0 else Event("end", k, f"w{k % 4}")
                for k in range(i * batch, (i + 1) * batch)
            ]
            run.received += len(events)
            store.append(run, events)
            await store.room()
            backlog = max(backlog, store._backlog)
            if i % 20 == 0:
                peak = max(peak, rss_mb())
        last = await store.events(run.id, n - 2, 10)
        peak = max(peak, rss_mb())
        await store.close()
        return peak - before, backlog, last

    growth, backlog, last = asyncio.run(main())
    assert [e["seq"] for e in last] == [n - 1, n]
    assert backlog <= BACKLOG_HIGH + 1_500
    assert growth < 60, f"RSS grew by {growth:.0f} MB"


def wire_chunks(n_lines: int, per_line: int = 32) -> list[bytes]:
    """Runner output as the supervisor reads it: lines of event batches, cut anywhere, with a stray
    non-JSON line in the middle (that chunk goes the slow way: parsed and stored line by line)."""
    import json

    lines = [json.dumps([["H", 1, "main", {"python": "3.11.7", "pid": 10}], ["L", 1, "main", {"pid": 10}]]).encode()]
    for i in range(n_lines):
        batch = []
        for k in range(per_line):
            ts = 10 + (i * per_line + k) * 10
            batch.append(["B", ts, f"w{k % 3}", f"step é {k}", "run"] if k % 2 == 0 else ["E", ts, f"w{k % 3}"])
        lines.append(json.dumps(batch).encode())
        if i == n_lines // 2:
            lines.append(b"stray C output")
    data = b"\n".join(lines) + b"\n" + json.dumps([["I", 10**7, "w1", "last", "mark"]]).encode()  # no newline: close()
    return [data[i : i + 5000] for i in range(0, len(data), 5000)]


def feed(run: Run, chunks: list[bytes], wire: bool) -> None:
    from app.model.events import StreamParser

    parser = StreamParser()
    for chunk in chunks:
        events = parser.feed(chunk)
        if events:
            run.ingest(events, parser.wire if wire else b"")
    run.ingest(parser.close())


def test_the_runners_lines_stored_as_they_came_page_and_replay_as_the_events_would(tmp_path):
    """The supervisor hands the store the lines it read (StreamParser.wire): stored as they came, they
    page to the same JSON and an interrupted run (no snapshot) replays to the same timeline."""
    chunks = wire_chunks(400)

    async def first(path, wire):
        store = await opened(path)
        run = store.create(RACE, {})
        run.start()
        feed(run, chunks, wire)
        await store.close()  # the server died: the run is replayed from its stored events
        return run.id

    async def second(path, run_id):
        store = await opened(path)
        run = await store.find(run_id)
        assert run is not None
        pages = [await store.events(run_id, after, 1000) for after in (0, 4000, 5000, 12_700)]
        everything = await store.events(run_id, 0, 100_000)
        await store.close()
        return drawn(run), run.to_json()["log"], pages, everything

    got = {}
    for wire in (True, False):
        path = tmp_path / f"{wire}.db"
        got[wire] = asyncio.run(second(path, asyncio.run(first(path, wire))))
        marks = [zlib.decompress(blob)[:6] for (blob,) in rows(path, "SELECT data FROM events")]
        assert (marks.count(WIRE_MARK[:6]) > 1) is wire
    assert got[True] == got[False]
    everything = got[True][3]
    assert [e["seq"] for e in everything] == list(range(1, 400 * 32 + 5))
    assert [e["kind"] for e in everything].count("output") == 1 and everything[-1]["name"] == "last"


def test_a_log_of_runner_lines_past_its_bound_keeps_only_what_replay_needs(tmp_path):
    path = tmp_path / "lab.db"
    chunks = wire_chunks(3000)

    async def main():
        store = await opened(path, max_log_bytes=20_000)
        run = store.create(RACE, {})
        run.start()
        feed(run, chunks, True)
        events = await store.events(run.id, 0, 200_000)
        await store.close()
        return run, events

    run, events = asyncio.run(main())
    assert run.truncated is not None and 0 < run.truncated.after_events < 3000 * 32
    assert rows(path, "SELECT sum(length(data)) FROM events")[0][0] <= 20_000
    # past the bound nothing of a flood is kept (spans, the stray output, the last mark): replay can do without
    assert [e["seq"] for e in events] == list(range(1, run.truncated.after_events + 1))


def test_a_snapshot_is_a_json_document_that_comes_back_as_the_same_timeline():
    from app.storage import snapshots

    store_run = asyncio.run(_finished_run_timeline())
    blob = snapshots.dump(store_run)
    assert zlib.decompress(blob).startswith(b"{")  # JSON, never pickle
    again = snapshots.load(blob)
    assert again is not None

    def seen(tl):
        lanes = [(lane.index, lane.worker, lane.pid, lane.thread, lane.cpu.floor) for lane in tl.lanes]
        return lanes, tl.spans, tl.marks, tl.header, tl.result, tl.last_ns, tl.pairing.early_wokens.maxlen

    assert seen(again) == seen(store_run)
    assert again.by_worker["main"] is again.lanes[0]  # one Lane, held in two places, as before


async def _finished_run_timeline():
    run = Run("r1", RACE, {})
    run.ingest(header() + spans(3) + result(100))
    run.finish(Status.DONE)
    return run.timeline


def test_a_snapshot_of_another_version_or_shape_is_replayed_not_trusted(caplog):
    """A server whose Timeline has other fields wrote it: decoding it would build timelines lacking them (500s)."""
    import json

    from app.storage import snapshots

    timeline = asyncio.run(_finished_run_timeline())
    document = json.loads(zlib.decompress(snapshots.dump(timeline)))
    assert snapshots.load(zlib.compress(json.dumps(document).encode())) is not None
    for changed in ({"version": snapshots.VERSION + 1}, {"shape": "Timeline(coalesce)"}):
        other = zlib.compress(json.dumps({**document, **changed}).encode())
        with caplog.at_level("INFO", logger="app.storage.snapshots"):
            assert snapshots.load(other, "r1") is None
        assert "r1" in caplog.text and "replaying" in caplog.text
    built = {**document, "timeline": {"o": "Popen", "i": 0, "a": {}}}  # only timeline classes are ever built
    assert snapshots.load(zlib.compress(json.dumps(built).encode())) is None
    nested = '{"version": 1, "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    assert snapshots.load(zlib.compress(nested.encode())) is None  # too deep to read: replayed, not a 500


def test_a_pickled_snapshot_is_never_unpickled_and_the_run_replays(tmp_path):
    """Whoever can write lab.db must not run code in the server: an older server's (or an attacker's)
    pickle in the snapshot column is never loaded; the run comes back from its stored events."""
    import pickle

    path = tmp_path / "lab.db"
    planted = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(planted), "w"))  # unpickling it would create the file

    async def first():
        store = await opened(path)
        run = store.create(RACE, {})
        run.start()
        run.ingest(header() + spans(3) + result(100))
        run.finish(Status.DONE)
        await store.close()
        return run.id, drawn(run)

    async def second(run_id):
        store = await opened(path)
        run = await store.find(run_id)
        assert run is not None
        await store.close()
        return drawn(run)

    run_id, before = asyncio.run(first())
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE runs SET snapshot = ? WHERE id = ?", (zlib.compress(pickle.dumps(Payload())), run_id))
    assert not planted.exists()
    after = asyncio.run(second(run_id))
    assert not planted.exists()
    assert after == before  # replayed from its stored events
