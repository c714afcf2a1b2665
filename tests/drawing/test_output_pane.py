"""The output pane, the legend and the live edge: what a run page lists and draws beside its lanes."""

from __future__ import annotations

import re

from app.drawing import legend
from app.drawing.render import View
from app.model.events import Event
from app.model.status import Status
from app.model.timeline import PRINTS_KEPT, Timeline
from tests.helpers import a_run, at, begin, end, oob_targets


def printed(ms: float, worker: str, text: str) -> Event:
    return Event("instant", at(ms), worker, text, "print")


def test_every_printed_line_is_kept_even_where_the_marks_merge_them():
    events = [printed(i * 0.001, "w", f"line {i}") for i in range(50)]  # 1 µs apart: one mark on the chart
    timeline = Timeline()
    timeline.apply_all(events)
    timeline.close()
    assert len(timeline.marks) == 1 and timeline.marks[0].count == 50
    assert [p.text for p in timeline.prints] == [f"line {i}" for i in range(50)]


def test_printed_lines_past_the_cap_are_counted_not_kept_and_replay_keeps_the_same():
    events = [printed(i * 0.01, "w", f"line {i}") for i in range(PRINTS_KEPT + 7)]
    events.append(Event("output", at(50), "main", "raw text", "output"))
    one, other = Timeline(), Timeline()
    one.apply_all(events)
    for event in events:  # the slow path, as a replay of a stored log may take
        other.apply(event)
    assert len(one.prints) == PRINTS_KEPT and one.prints_more == 8
    assert (one.prints, one.prints_more) == (other.prints, other.prints_more)


def test_the_pane_lists_lines_with_time_worker_and_lane_colour(renderer, clock):
    clock.now = at(20)
    run = a_run(
        begin(0, "Speaker", "talk"),
        printed(5, "Speaker", "Speaker: Hello"),
        printed(6.25, "Listener", "Listener: Hi there"),
    )
    view = View()
    renderer.catch_up(run, view)
    html = renderer.full(run, view)
    lines = re.findall(
        r'<li class="out (l-\d)" data-ms="([\d.]+)".*?<b class="who">.*?</i>(\w+)</b> '
        r'<span class="said">([^<]+)</span>',
        html,
    )
    assert lines == [
        ("l-1", "5.0", "Speaker", "Speaker: Hello"),
        ("l-2", "6.25", "Listener", "Listener: Hi there"),
    ]  # main is l-0
    assert re.search(r'<i class="swatch l-2"></i>Listener</div>', html)  # the lane's swatch, the same colour
    assert 'data-scale-ms="100.0"' in html  # what static/output.js places the picked moment with


def test_a_delta_appends_only_the_new_lines_and_says_how_many_more_past_the_cap(renderer, clock):
    run = a_run(printed(1, "w", "first"))
    view = View()
    renderer.catch_up(run, view)
    run.ingest([printed(2, "w", "second")])
    html = renderer.delta(run, view)
    assert "beforeend:#output-lines" in oob_targets(html)
    assert ">second<" in html and ">first<" not in html
    assert "beforeend:#output-lines" not in oob_targets(renderer.delta(run, view))
    run.ingest([printed(3 + i * 0.01, "w", f"x{i}") for i in range(PRINTS_KEPT)])
    html = renderer.delta(run, view)
    assert html.count('<li class="out') == PRINTS_KEPT - 2
    assert re.search(r'<p id="output-more" class="output-more" hx-swap-oob="true">… 2 more printed lines', html)


def test_the_legend_lists_only_what_the_run_draws_and_follows_it_live(renderer, clock):
    clock.now = at(10)
    run = a_run(begin(0, "main", "start threads", "phase"), begin(1, "w", "Lock.acquire", "wait"))
    view = View()
    renderer.catch_up(run, view)
    keys = re.findall(r'<li data-key="([\w-]+)">', renderer.full(run, view))
    assert keys == ["phase", "wait", legend.OPEN]  # no hold, no sleep, no strip, no arrow
    assert 'id="legend"' not in renderer.delta(run, view)  # unchanged: not sent again
    run.ingest(
        [
            end(2, "w"),
            begin(2, "w", "counter += 1", "hold"),
            end(3, "w"),
            Event("instant", at(3), "w", "notify", "notify"),
            Event("instant", at(4), "main", "woken", "woken"),
        ]
    )
    html = renderer.delta(run, view)
    assert re.findall(r'<li data-key="([\w-]+)">', html) == ["phase", "hold", "wait", legend.OPEN, "notify", "arrow"]


def test_open_spans_fade_at_the_live_edge_and_finished_ones_do_not(renderer, clock):
    clock.now = at(10)
    run = a_run(begin(0, "w", "Condition.wait", "wait"))
    html = renderer.delta(run, View())
    assert re.search(
        r'innerHTML:#open-\d+"><svg [^>]*class="c-wait live"><rect [^>]*/><svg x="100%" '
        r'overflow="visible"><rect class="edge"',
        html,
    )
    run.finish(Status.DONE)
    view = View()
    renderer.catch_up(run, view)
    assert " live" not in renderer.full(run, view).split('id="legend"')[0]  # cut at the end: drawn whole
