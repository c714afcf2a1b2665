"""The HTML fragments a run is drawn with: the first full render and the deltas after it."""

from __future__ import annotations

import re

import pytest

from app.drawing.placement import group_id
from app.drawing.render import View
from app.model.events import Event
from app.model.hangs import blocked_workers
from app.model.status import Status
from tests.helpers import HEADER, MS, T0, a_run, at, begin, counter, end, instant, oob_targets


def test_first_render_draws_spans_marks_arrows_and_series(renderer, clock):
    clock.now = at(50)
    run = a_run(
        begin(1, "consumer", "Condition.wait", "wait"),
        instant(9, "producer", "notify"),
        end(10, "consumer"),
        instant(10, "consumer", "woken"),
        counter(9, 1),
        counter(11, 0),
    )
    view = View()
    renderer.catch_up(run, view)
    html = renderer.full(run, view)
    assert 'id="lanes"' in html and 'id="arrows"' in html and 'id="series"' in html
    # the notify → woken arrow, from the middle of producer's spans (lane 2) to consumer's (lane 1), in
    # whole pixels, with its lanes and times for the details panel
    arrows = re.findall(r'<g class="arrow" tabindex="0" (.*?)><line x1="(.*?)" y1="(.*?)" x2="(.*?)" y2="(.*?)"', html)
    assert arrows == [('data-fl="2" data-tl="1" data-s="9.00" data-e="10.00"', "9.0%", "82", "10.0%", "47")]
    assert "items waiting" in html
    assert 'id="steps-0"' in html and 'id="step-open-0"' in html


def test_delta_appends_only_what_is_new_and_redraws_the_open_parts(renderer, clock):
    run = a_run(begin(1, "consumer", "Condition.wait", "wait"), counter(2, 1))
    view = View()
    renderer.catch_up(run, view)
    clock.now = at(20)
    run.ingest(
        [instant(9, "producer", "notify"), end(10, "consumer"), instant(10, "consumer", "woken"), counter(11, 0)]
    )
    html = renderer.delta(run, view)
    targets = oob_targets(html)
    consumer = run.timeline.by_worker["consumer"].index
    assert f"beforeend:#{group_id(consumer, 0)}" in targets  # the finished wait
    assert "beforeend:#arrows" in targets
    assert "beforeend:#steps-0" in targets  # the sample 1 step, now finished
    assert "innerHTML:#step-open-0" in targets  # the sample 0 step, held until now
    assert "beforeend:#lanes" in targets  # producer's lane is new
    again = renderer.delta(run, view)
    assert "beforeend:#arrows" not in oob_targets(again)
    assert not any(t.startswith("beforeend:#g") for t in oob_targets(again))


def test_a_series_whose_top_must_grow_is_drawn_again_whole(renderer, clock):
    run = a_run(counter(1, 1))
    view = View()
    renderer.catch_up(run, view)
    run.ingest([counter(2, 7)])  # above the track's top of 1
    html = renderer.delta(run, view)
    assert re.search(r'<div class="lane series" id="series-0" hx-swap-oob="true">', html)
    assert "0–10" in html
    assert view.tops[0] == 10


def test_a_new_series_gets_a_row_appended(renderer, clock):
    run = a_run(counter(1, 1))
    view = View()
    renderer.catch_up(run, view)
    run.ingest([counter(2, 2, name="permits in use")])
    html = renderer.delta(run, view)
    assert "beforeend:#series" in oob_targets(html)
    assert 'id="series-1"' in html and "permits in use" in html


def test_a_nested_span_goes_into_a_layer_above_the_span_around_it(renderer, clock):
    run = a_run(
        begin(1, "left", "hold a", "hold"), begin(2, "left", "Lock.acquire b", "wait"), end(3, "left"), end(4, "left")
    )
    view = View()
    renderer.catch_up(run, view)
    html = renderer.full(run, view)
    left = run.timeline.by_worker["left"].index
    inner = html.index(f'id="{group_id(left, 1)}"')
    outer = html.index(f'id="{group_id(left, 0)}"')
    assert outer < inner  # later in the document: painted on top
    assert "Lock.acquire b" in html[inner:]


def test_spans_open_at_the_end_of_a_done_run_are_drawn_cut_killed_at_exit(renderer, clock):
    run = a_run(begin(1, "heartbeat", "sleep(3600)", "sleep"), Event("result", at(90), "main", value={}))
    run.finish(Status.DONE)
    view = View()
    renderer.catch_up(run, view)
    html = renderer.full(run, view)
    assert re.search(r'class="c-sleep cut".*sleep\(3600\) · killed at exit', html)


@pytest.mark.parametrize(
    ("status", "words"),
    [
        ("hung", "never ended (the run hung)"),
        ("cancelled", "never ended (the run was cancelled)"),
        ("timed_out", "never ended (the run timed out)"),
    ],
)
def test_spans_open_when_the_run_was_stopped_say_it_never_ended(renderer, status, words):
    run = a_run(begin(1, "left", "Lock.acquire b", "wait"))
    run.finish(status, "stopped", cut_at_ns=at(100))
    view = View()
    html = renderer.delta(run, view)  # the last frame
    assert words in html


def test_a_finished_run_is_drawn_again_on_an_axis_that_fits_it(renderer, clock):
    clock.now = at(130)
    run = a_run(begin(1, "main", "work"), end(130, "main"))
    view = View()
    renderer.catch_up(run, view)
    assert view.scale_ns == 200 * MS  # while it runs: room to grow
    run.ingest([Event("result", at(130), "main", value={})])
    run.finish(Status.DONE)
    html = renderer.delta(run, view)
    assert 'id="timeline" class="timeline" hx-swap-oob="true"' in html
    assert view.scale_ns == 150 * MS and view.final
    assert "150 ms" in html
    assert 'id="timeline"' not in renderer.delta(run, view)  # once only


def test_the_bytecode_view_is_sent_once_when_the_header_arrives(renderer, clock):
    run = a_run(header=None)
    view = View()
    assert 'id="bytecode"' not in renderer.delta(run, view)
    run.ingest(
        [
            Event(
                "header",
                T0,
                "main",
                value={
                    **HEADER,
                    "bytecode": {
                        "increment": "  3     0 LOAD_GLOBAL   0 (counter)\n        2 LOAD_CONST 1 (1)\n"
                        "        4 BINARY_OP  13 (+=)\n        8 STORE_GLOBAL  0 (counter)\n"
                    },
                },
            )
        ]
    )
    html = renderer.delta(run, view)
    assert '<section id="bytecode" class="bytecode" hx-swap-oob="true">' in html
    listing = html[html.index('<pre class="dis">') :]
    assert listing.count('class="op-load"') == 1 and listing.count('class="op-store"') == 1
    assert 'id="bytecode"' not in renderer.delta(run, view)


def test_a_hung_run_lists_each_blocked_worker_what_it_waits_on_and_since_when(renderer):
    run = a_run(
        begin(0.5, "main", "Thread.join", "wait"),
        begin(1, "Listener", "hold condition", "hold"),
        begin(2.3, "Listener", "Condition.wait", "wait"),
    )
    run.blocked = blocked_workers(run.timeline)  # as the supervisor takes them, before the kill
    run.finish(Status.HUNG, "every live worker was blocked", cut_at_ns=at(3000))
    html = renderer.delta(run, View())
    assert '<div id="status" class="status status-hung"' in html
    items = re.findall(
        r'<b class="worker">(.*?)</b> → <code class="waiting-on">(.*?)</code> <small>since (.*?) ms</small>', html
    )
    assert items == [("main", "Thread.join", "0.5"), ("Listener", "Condition.wait", "2.3")]  # since the run began


def test_lanes_of_the_runner_process_do_not_repeat_its_pid(renderer):
    run = a_run(
        Event("lane", T0, "main", value={"pid": 100, "thread": "MainThread"}),
        Event("lane", T0, "SpawnProcess-1", value={"pid": 200, "thread": "MainThread"}),
    )
    view = View()
    renderer.catch_up(run, view)
    html = renderer.full(run, view)
    assert "<small>pid 200</small>" in html and "<small>pid 100</small>" not in html


def test_the_page_of_a_finished_run_draws_all_of_it_even_if_the_last_frame_is_not_out_yet(renderer):
    run = a_run(begin(1, "left", "Lock.acquire b", "wait"))
    lagging = View()
    renderer.catch_up(run, lagging)  # the broadcast's view, one frame behind the end
    run.finish(Status.HUNG, "stopped", cut_at_ns=at(100))
    html = renderer.env.get_template("_timeline.html").render(**renderer.page_parts(run, lagging))
    assert "never ended (the run hung)" in html


def test_a_flood_of_short_spans_and_marks_draws_a_bounded_number_of_shapes_saying_how_many(renderer, clock):
    events = []
    for i in range(20_000):  # 1 µs spans every 5 µs, and a print every 10 µs: 100 ms in all
        start = at(i * 0.005)
        events += [Event("begin", start, "w", "step", "run"), Event("end", start + 1_000, "w")]
        if i % 2 == 0:
            events.append(Event("instant", start, "w", f"print {i}", "print"))
    clock.now = at(100)
    run = a_run(*events)
    run.finish(Status.DONE)
    html = renderer.delta(run, View())  # the last frame: everything, on the snug axis
    shapes = re.findall(r"<rect ", html)
    assert 0 < len(shapes) < 2 * 100 * MS // (200 * 1_000) + 20  # spans and marks, 2 px apart at most (of 30 000)
    assert re.search(r"<title>\d+ spans \(step\), total [\d.]+ ms", html)
    assert re.search(r"<title>\d+ marks, the first print 0 ", html)


def test_short_spans_still_being_merged_are_drawn_with_the_open_ones(renderer, clock):
    clock.now = at(10)
    run = a_run(begin(1, "w", "tiny"), Event("end", at(1) + 1_000, "w"))  # 1 µs: merged, not yet drawn alone
    assert run.timeline.spans == []
    html = renderer.delta(run, View())
    assert re.search(r'hx-swap-oob="innerHTML:#open-\d+"><rect [^>]*class="c-run"><title>tiny ', html)
