"""The timeline as a table: every lane's spans and events as text, bounded for huge runs."""

from __future__ import annotations

from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from app.drawing.table import ROWS_MAX, ROWS_PER_LANE, tables
from app.model.events import Event
from app.model.timeline import Timeline
from app.web.server import create_app
from experiments import MODULES
from tests.helpers import make_settings, receive_text

MS = 1_000_000


def test_rows_are_each_lanes_spans_and_events_in_time_order_with_their_kind():
    timeline = Timeline(coalesce=False)
    for event in [
        Event("begin", 0, "main", "start threads", "run"),
        Event("instant", 1 * MS, "main", "hello", "print"),
        Event("end", 2 * MS, "main"),
        Event("begin", 3 * MS, "worker", "Lock.acquire", "wait"),
    ]:
        timeline.apply(event)
    main, worker = tables(timeline, now_ns=5 * MS)
    assert [(r.start_ms, r.end_ms, r.what, r.kind) for r in main.rows] == [
        (0, 2, "start threads", "running"),
        (1, None, "hello", "print"),
    ]
    assert [(r.what, r.kind, r.end_ms, r.note) for r in worker.rows] == [
        ("Lock.acquire", "waiting / blocked", 5, "still going")
    ]


def test_a_huge_run_is_bounded_per_lane_and_in_all():
    timeline = Timeline(coalesce=False)
    for lane in range(20):
        for i in range(200):
            timeline.apply(Event("begin", i * MS, f"w{lane}", f"task {i}", "cpu"))
            timeline.apply(Event("end", i * MS + MS // 2, f"w{lane}"))
    lanes = tables(timeline)
    assert len(lanes) == 20
    assert all(len(t.rows) <= ROWS_PER_LANE for t in lanes)
    assert sum(len(t.rows) for t in lanes) == ROWS_MAX
    assert all(len(t.rows) + t.more == 200 for t in lanes)
    assert [r.what for r in lanes[0].rows[:2]] == ["task 0", "task 1"]  # the earliest first


def test_the_table_is_on_the_page_and_each_full_frame_redraws_it_inside_its_details():
    with TestClient(create_app(make_settings(), modules=MODULES + ("tests.fixtures.handoff_experiment",))) as client:
        run = client.post("/api/runs", json={"experiment": "handoff", "params": {"items": 3, "consume_ms": 0}}).json()
        frames = []
        with client.websocket_connect(f"/ws/runs/{run['id']}") as socket:
            try:
                while True:
                    frames.append(receive_text(socket))
            except WebSocketDisconnect:
                pass
        page = client.get(run["url"]).text
    assert '<details class="timeline-text"><summary>Timeline as a table</summary>' in page
    assert page.count('<table class="lane-table">') >= 2 and "<caption>main" in page
    assert any('<div id="timeline-table" hx-swap-oob="innerHTML">' in f for f in frames)
