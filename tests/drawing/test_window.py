"""A zoomed window: its events folded again at its own resolution, reading only its rows; its page and 422s."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from app.drawing.render import Renderer
from app.drawing.window import RowIndex, Window, WindowTimeline
from app.drawing.zoom_bar import ZoomBar
from app.model.events import Event
from app.model.experiments import load
from app.model.runs import Run
from app.model.status import Status
from app.model.timeline import ON_CPU, Timeline
from app.web import urls
from tests.helpers import templates

US = 1_000
MS = 1_000_000
T0 = 7_000 * MS


def lane(worker: str, tid: int) -> Event:
    return Event("lane", T0, worker, value={"pid": 1, "tid": tid, "thread": worker})


def busy_run(ms: int = 100) -> list[Event]:
    """`main` in one span over the whole run; `w` in 10 µs steps every 20 µs, on a CPU 50 µs of each 100 µs."""
    events = [lane("main", 1), lane("w", 2), Event("begin", T0, "main", "run()", "run")]
    for i in range(ms * 50):
        start = T0 + i * 20 * US
        events += [Event("begin", start, "w", f"step {i}", "cpu"), Event("end", start + 10 * US, "w")]
        if i % 5 == 0:
            events.append(Event("oncpu", start, "", value=(2, start + 50 * US)))
    events.append(Event("end", T0 + ms * MS, "main"))
    return events


def rows_of(events: list[Event], size: int = 1000) -> list[list[Event]]:
    return [events[i : i + size] for i in range(0, len(events), size)]


def window_of(
    events: list[Event], window: Window, size: int = 1000
) -> tuple[WindowTimeline, Timeline, tuple[int, int]]:
    """The run's own timeline, and the window folded from the rows its index picks (as app/web/zoom.py does)."""
    run = Timeline()
    run.apply_all(events)
    run.close()
    rows = rows_of(events, size)
    index = RowIndex()
    for i, row in enumerate(rows):
        index.add(i * size + 1, row)
    first, last = index.rows_for(T0 + window.from_ns, T0 + window.to_ns, run.resolution_ns)
    stacks = index.checkpoints[first] if first < len(rows) else index.stacks
    timeline = WindowTimeline.of(run, window, {w: tuple(s) for w, s in stacks.items()})
    for row in rows[first:last]:
        timeline.fold(row)
    timeline.settle(run, finished=True, why="killed at exit")
    return timeline, run, (first, last)


def test_a_window_draws_apart_the_spans_the_whole_run_merged():
    timeline, run, _ = window_of(busy_run(), Window.of_ms(40, 41))
    assert all(s.count > 1 for s in run.spans if s.lane == 1)  # 10 µs steps on a 100 ms axis: merged
    steps = sorted((s for s in timeline.spans if s.lane == 1), key=lambda s: s.start_ns)
    assert len(steps) == 51 and all(s.count == 1 for s in steps)  # 1 ms / 20 µs (both edges in), each alone
    assert steps[0].name == "step 2000" and steps[0].end_ns - steps[0].start_ns == 10 * US


def test_a_window_reads_only_the_rows_that_can_hold_something_in_it():
    timeline, _, (first, last) = window_of(busy_run(), Window.of_ms(40, 41))
    assert (first, last) == (4, 5)  # of 12 rows of 1000 events (some 9 ms each), the one holding 40-41 ms


def test_a_span_open_across_the_window_is_drawn_with_its_real_start_and_end():
    timeline, _, _ = window_of(busy_run(), Window.of_ms(40, 41))
    [main] = [s for s in timeline.spans if s.lane == 0]
    assert (main.name, main.start_ns, main.end_ns, main.cut) == ("run()", T0, T0 + 100 * MS, "")


def test_the_on_cpu_strip_is_binned_again_at_the_windows_resolution():
    timeline, run, _ = window_of(busy_run(), Window.of_ms(40, 41))
    # The whole run's 0.2 ms bins are each half full; the window's 2 µs bins tell the turns apart.
    assert all(s.busy_ns * 2 == s.end_ns - s.start_ns for s in run.cpu_spans[:100])
    turns = sorted((s for s in timeline.cpu_spans if s.category == ON_CPU), key=lambda s: s.start_ns)
    assert len(turns) == 10
    assert all(s.busy_ns == s.end_ns - s.start_ns == 50 * US for s in turns)


def test_a_window_before_any_event_or_past_the_end_holds_nothing_but_open_spans():
    timeline, _, _ = window_of(busy_run(10), Window.of_ms(500, 600))
    assert timeline.spans == [] and timeline.cpu_spans == [] and timeline.marks == []


def render_window(run_events: list[Event], window: Window) -> str:
    run = Run("r1", load("tests.fixtures.handoff_experiment"), {"items": 4, "consume_ms": 0})
    run.start()
    run.ingest([Event("header", T0, "main", value={"python": "3.11.7", "pid": 1})] + run_events)
    run.finish(Status.DONE)
    timeline, _, _ = window_of(run_events, window)
    env = templates()
    env.globals["htmx"] = {"source": "local", "local_htmx": "", "local_ws": ""}
    parts = Renderer(env).window_parts(run, timeline, window)
    return env.get_template("_timeline.html").render(**parts, oob=False)


def test_a_windows_axis_is_labelled_from_its_start_and_its_shapes_stay_inside_it():
    html = render_window(busy_run(), Window.of_ms(40, 43))
    labels = re.findall(r'<text x="[\d.]+%" y="16"[^>]*>([^<]+)', html)
    assert labels[0] == "40.00 ms" and labels[-1] == "43.00 ms"
    for x, w in re.findall(r'<rect x="(-?[\d.]+)%" y="\d+" width="([\d.]+)%"', html):
        assert 0 <= float(x) and float(x) + float(w) <= 100.2
    # the open-across span says where it really starts and ends, in ms since the run's start
    assert 'data-n="run()" data-s="0.000" data-e="100.000"' in html
    assert "showing 40–43 ms" in html and 'href="/runs/r1" class="zoom-reset"' in html


def test_the_details_of_an_on_cpu_bin_say_its_share():
    events = [
        lane("w", 2),
        Event("oncpu", T0, "", value=(2, T0 + 4 * MS)),
        Event("oncpu", T0 + 8 * MS, "", value=(2, T0 + 9 * MS)),
    ]
    html = render_window(events + [Event("instant", T0 + 200 * MS, "w", "end", "mark")], Window.of_ms(0, 10_000))
    # A window wider than the run: its 20 ms bins come from the run's own timeline, 25 % full.
    assert re.search(
        r'data-n="on a CPU 25%" data-s="0.00" data-e="20.00" class="c-oncpu"><title>on a CPU 25% of '
        r"0.00–20.00 ms \(5.00 of 20.00 ms\)",
        html,
    )


@pytest.mark.parametrize(
    "query, field, words",
    [
        ("from_ms=-1&to_ms=2", "from_ms", "greater than or equal to 0"),
        ("from_ms=5&to_ms=2", "to_ms", "greater than from_ms (5)"),
        ("from_ms=3&to_ms=3", "to_ms", "greater than from_ms (3) by at least 0.001 ms"),
        ("from_ms=abc&to_ms=3", "from_ms", "a valid number"),
        ("from_ms=nan&to_ms=3", "from_ms", "finite"),
        ("from_ms=1&to_ms=2e9", "to_ms", "less than or equal to 1000000000"),
        ("to_ms=-4", "to_ms", "greater than 0"),
    ],
)
def test_a_bad_window_gets_422_naming_the_field_and_its_bound(
    client: TestClient, query: str, field: str, words: str
) -> None:
    response = client.get(f"/runs/nosuchrun?{query}")
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", field] and words in error["msg"]


def test_a_good_window_of_an_unknown_run_is_404(client: TestClient) -> None:
    assert client.get("/runs/nosuchrun?from_ms=1&to_ms=2").status_code == 404
    assert client.get("/runs/nosuchrun?from_ms=1&to_ms=1.001").status_code == 404  # 1 µs wide: allowed


def test_a_zoomed_page_lists_the_runs_output_and_a_legend_of_what_the_window_draws(client: TestClient) -> None:
    from tests.helpers import wait_for_status

    run = client.post("/api/runs", json={"experiment": "condition-dialogue", "params": {"variant": "fixed"}}).json()
    assert wait_for_status(client, run["id"])["status"] == "done"
    page = client.get(f"/runs/{run['id']}?from_ms=0&to_ms=1000").text
    listed = page.split('id="output-lines"')[1].split("</ol>")[0]
    assert "Speaker: Hello" in listed
    legend = page.split('id="legend"')[1].split("</ul>")[0]
    assert 'data-key="wait"' in legend and 'data-key="print"' in legend


def test_the_zoom_bars_links_lead_to_the_window_zoomed_in_out_and_panned_by_half():
    bar = ZoomBar("r1", 40 * MS, 44 * MS, 100 * MS, zoomed=True)
    assert {name: urls.run("r1", window) for name, window in bar.links().items()} == {
        "in": "/runs/r1?from_ms=41&to_ms=43",
        "out": "/runs/r1?from_ms=38&to_ms=46",
        "earlier": "/runs/r1?from_ms=38&to_ms=42",
        "later": "/runs/r1?from_ms=42&to_ms=46",
    }
    # Out from the whole run is the whole run: its page without a window.
    assert urls.run("r1", ZoomBar("r1", 0, 100 * MS, 100 * MS, zoomed=False).links()["out"]) == "/runs/r1"
