"""A big finished run's page after a restart: loading its snapshot against replaying its stored events.

    .venv/bin/python -m benchmarks.replay [--quick] [--repeat N] [--events N]

Stores a flood (benchmarks/flood_experiment.py's lines, as the runner sends them) as one finished run
in a fresh database, then times, in a fresh store each time, what the run page waits for on its first
visit: `find` through the snapshot (app/storage/snapshots.py), and the replay of the stored events
that a run without one (or with one of another version) gets. CPU seconds of this process, median.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.flood_experiment import encode
from benchmarks.serve import header

MIXES = ("spans", "mixed")


async def store_flood(path: Path, events: int, mix: str, gap_ns: int = 1_000) -> str:
    from app.model.events import Event, StreamParser
    from app.model.experiments import catalogue
    from app.model.status import Status
    from app.storage.store import RunStore

    experiments = catalogue(("experiments.race_counter",))
    store = RunStore(str(path), experiments, max_log_bytes=1 << 40)
    await store.open()
    run = store.create(experiments["race-counter"], {})
    run.start()
    run.ingest([Event("header", 1, "main", value={"python": "3.11.7", "pid": 10})])
    parser = StreamParser()
    data = b"".join(encode(events, 4, gap_ns, mix, 10**12))
    for start in range(0, len(data), 1 << 16):
        run.ingest(parser.feed(data[start : start + (1 << 16)]), parser.wire)
        await store.room()
    run.finish(Status.DONE)
    await store.close()
    return run.id


async def timed_find(path: Path, run_id: str, replay: bool) -> tuple[float, int]:
    from app.model.experiments import catalogue
    from app.storage.store import RunStore

    if replay:
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE runs SET snapshot = NULL")
    store = RunStore(str(path), catalogue(("experiments.race_counter",)))
    await store.open()
    started = time.process_time()
    run = await store.find(run_id)
    took = time.process_time() - started
    await store.close()
    assert run is not None, f"run {run_id} was stored"
    return took, len(run.timeline.spans) + len(run.timeline.marks)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--gap-ns", type=int, default=1_000, help="time between two events (3000000: ~1700 shapes)")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat, args.events = 1, 20_000
    print(header(f"{args.events} events a run, median of {args.repeat} (CPU s of this process)"))
    print(
        f"\n{'mix':8} {'shapes':>7} {'snapshot KB':>12} {'log KB':>8} {'snapshot s':>11} {'replay s':>9} {'replay/snapshot':>16}"
    )
    for mix in MIXES:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "lab.db"
            run_id = asyncio.run(store_flood(path, args.events, mix, args.gap_ns))
            with sqlite3.connect(path) as conn:
                snapshot_bytes = conn.execute("SELECT length(snapshot) FROM runs").fetchone()[0] or 0
                log_bytes = conn.execute("SELECT sum(length(data)) FROM events").fetchone()[0]
            snapshot = [asyncio.run(timed_find(path, run_id, False)) for _ in range(args.repeat)]
            replay = [asyncio.run(timed_find(path, run_id, True)) for _ in range(args.repeat)]
            assert {shapes for _, shapes in snapshot} == {shapes for _, shapes in replay}  # the same drawing
            s = statistics.median(t for t, _ in snapshot)
            r = statistics.median(t for t, _ in replay)
            shapes = snapshot[0][1]
            print(
                f"{mix:8} {shapes:7} {snapshot_bytes / 1e3:12.1f} {log_bytes / 1e3:8.0f} {s:11.3f} {r:9.3f} {r / s:16.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
