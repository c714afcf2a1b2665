"""The Compare view and "run again": which runs it takes, what its table marks as different, the
shared time axis, its errors, History's form and the run page's "Run the fixed variant"."""

from __future__ import annotations

import platform
import re
from collections import Counter
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.drawing.compare import CompareError, run_ids, sections
from app.drawing.compare_timelines import compare_timelines
from app.drawing.render import Renderer
from app.model.events import Event
from app.model.experiments import catalogue
from app.model.runs import Run
from app.model.scale import scale_for
from app.model.status import Status
from app.web.again import fixed_variant, params_for
from app.web.server import create_app
from experiments import MODULES
from tests.helpers import make_settings, result_of, start_sleeper, templates, wait_for_status

MS = 1_000_000
T0 = 1_000 * MS  # a run's first event (monotonic_ns: never 0)
CATALOGUE = catalogue(MODULES + ("tests.fixtures.experiment_quick",))
QUICK = "test-quick"


# -- the runs asked for ----------------------------------------------------------------------------


def test_runs_come_comma_separated_or_repeated_in_the_order_asked():
    assert run_ids(["a,b"]) == ["a", "b"]
    assert run_ids(["a", "b", "c"]) == ["a", "b", "c"]
    assert run_ids(["a, b", "c,", "d"]) == ["a", "b", "c", "d"]


@pytest.mark.parametrize(
    "values, words",
    [
        ([], "got none"),
        (["a"], "got 1: a"),
        (["a,b,c,d,e"], "got 5: a, b, c, d, e"),
        (["a,b", "a"], "got a more than once"),
    ],
)
def test_fewer_than_two_more_than_four_or_a_duplicate_is_refused_naming_runs_and_the_bound(values, words):
    with pytest.raises(CompareError) as refused:
        run_ids(values)
    assert str(refused.value).startswith("runs: must be 2 to 4 run ids") and words in str(refused.value)


# -- the table ---------------------------------------------------------------------------------------


def finished(
    run_id: str,
    experiment: str,
    params: dict,
    result: dict,
    length_ms: float,
    status: Status = Status.DONE,
    python: str = "3.11.7",
) -> Run:
    run = Run(run_id, CATALOGUE[experiment], params, status=status)
    run.timeline.apply(Event("begin", T0, "main", "sleep", "sleep"))
    run.timeline.apply(Event("end", T0 + int(length_ms * MS), "main"))
    run.timeline.apply(Event("result", T0 + int(length_ms * MS), "main", value=result))
    run.conditions.update({"python": python, "start_method": "fork", "beside": 0})
    return run


def rows_of(runs: list[Run]) -> dict[str, tuple[list[str], list[bool]]]:
    return {
        f"{s.title}/{r.label}": ([c.text for c in r.cells], [c.differs for c in r.cells])
        for s in sections(runs)
        for r in s.rows
    }


def test_cells_that_read_the_same_are_not_marked_as_different():
    # two timelines of 12.34 and 12.31 ms both read "12.3 ms"; two results of 0.1234 and 0.1231 likewise
    a = finished(
        "r1",
        "race-counter",
        {"workers": 2, "iterations": 1000, "window": "call"},
        {"expected": 0, "actual": 0, "took": 0.12341},
        12.34,
    )
    b = finished(
        "r2",
        "race-counter",
        {"workers": 2, "iterations": 1000, "window": "call"},
        {"expected": 0, "actual": 0, "took": 0.12312},
        12.31,
    )
    rows = rows_of([a, b])
    assert rows["Run/timeline's length"] == (["12.3 ms", "12.3 ms"], [False, False])
    took = next(v for k, v in rows.items() if k.endswith("/took"))
    assert took[0][0] == took[0][1] and took[1] == [False, False]


def test_the_table_marks_the_cells_that_differ_from_the_first_runs_and_only_those():
    race = finished(
        "r1",
        "race-counter",
        {"workers": 2, "iterations": 1000, "window": "call"},
        {"expected": 0, "actual": 12, "correct": False},
        5.0,
    )
    lock = finished(
        "r2",
        "lock-counter",
        {"workers": 2, "iterations": 1000, "window": "call"},
        {"expected": 0, "actual": 0, "correct": True},
        10.0,
    )
    rows = rows_of([race, lock])
    assert rows["Run/experiment"] == (["Race on a shared counter", "A Lock makes the counter correct"], [False, True])
    assert rows["Run/status"] == (["done", "done"], [False, False])
    assert rows["Run/timeline's length"] == (["5.0 ms", "10.0 ms"], [False, True])
    assert rows["Params/workers"] == (["2", "2"], [False, False])
    assert rows["Params/window"] == (["call", "call"], [False, False])
    assert rows["Conditions/Python"] == (["3.11.7", "3.11.7"], [False, False])
    assert rows["Result/got"] == (["12", "0"], [False, True])
    assert rows["Result/expected"] == (["0", "0"], [False, False])
    assert rows["Result/correct"] == (["no", "yes"], [False, True])


def test_with_three_runs_each_cell_is_compared_with_the_first_run_and_a_missing_param_is_a_dash():
    runs = [
        finished(f"r{i}", QUICK, params, {"slept_ms": ms}, ms, python=python)
        for i, (params, ms, python) in enumerate(
            [
                ({"workers": 1, "ms": 20}, 20, "3.11.7"),
                ({"workers": 1, "ms": 20}, 20, "3.13.0"),
                ({"workers": 1}, 40, "3.11.7"),
            ]
        )
    ]
    rows = rows_of(runs)
    assert rows["Params/ms"] == (["20", "20", "—"], [False, False, True])
    assert rows["Conditions/Python"] == (["3.11.7", "3.13.0", "3.11.7"], [False, True, False])
    assert rows["Result/slept"] == (["20 ms", "20 ms", "40 ms"], [False, False, True])


def test_a_run_still_going_says_so_and_is_not_counted_as_a_difference():
    done = finished("r1", QUICK, {"workers": 1, "ms": 20}, {"slept_ms": 20}, 20)
    going = Run("r2", CATALOGUE[QUICK], {"workers": 1, "ms": 20}, status=Status.RUNNING)
    rows = rows_of([done, going])
    assert rows["Run/status"] == (["done", "running"], [False, True])
    assert rows["Run/timeline's length"] == (["20.0 ms", "still running"], [False, False])
    assert rows["Result/slept"] == (["20 ms", "still running"], [False, False])
    assert rows["Conditions/Python"] == (["3.11.7", "still running"], [False, False])


def test_a_failed_runs_error_is_a_row():
    ok = finished("r1", QUICK, {"workers": 1, "ms": 20}, {"slept_ms": 20}, 20)
    failed = finished("r2", QUICK, {"workers": 1, "ms": 20}, {}, 3, status=Status.FAILED)
    failed.timeline.apply(
        Event("failure", T0 + 3 * MS, "main", value={"type": "ValueError", "message": "boom", "traceback": ""})
    )
    rows = rows_of([ok, failed])
    assert rows["Result/the experiment failed"] == (["—", "ValueError: boom"], [False, True])


# -- the timelines -----------------------------------------------------------------------------------


def test_finished_runs_are_drawn_on_the_longest_ones_axis_and_a_run_still_going_is_not_drawn():
    renderer = Renderer(templates(), clock=lambda: T0 + 50 * MS)
    short = finished("r1", QUICK, {"workers": 1, "ms": 10}, {"slept_ms": 10}, 10)
    long = finished("r2", QUICK, {"workers": 1, "ms": 200}, {"slept_ms": 200}, 200)
    going = Run("r3", CATALOGUE[QUICK], {"workers": 1, "ms": 900}, status=Status.RUNNING)
    going.timeline.apply(Event("begin", T0, "main", "sleep", "sleep"))
    drawn, legend, scale = compare_timelines(renderer, [short, long, going])
    assert scale == scale_for(200 * MS, finished=True)  # the longest run's snug axis, for every run
    first, second, still_going = drawn
    assert first.timeline is not None and first.extent is not None, "a finished run is drawn"
    assert second.timeline is not None and second.extent is not None, "a finished run is drawn"
    assert [first.extent.percent, second.extent.percent] == [
        round(100 * 10 * MS / scale, 3),
        round(100 * 200 * MS / scale, 3),
    ]
    assert all(f'data-scale-ns="{scale}"' in timeline for timeline in (first.timeline, second.timeline))
    assert 'id="c0-lane-0"' in first.timeline and 'id="c1-lane-0"' in second.timeline
    assert 'id="lane-0"' not in first.timeline  # the run page's ids are left to the run page
    # 200 ms is 20 times 10 ms, drawn so
    assert sleep_width(second.timeline) == pytest.approx(20 * sleep_width(first.timeline), rel=0.02)
    assert (still_going.timeline, still_going.extent, still_going.so_far_ms) == (None, None, 50.0)
    assert [e.key for e in legend] == ["sleep"]


def sleep_width(timeline: str) -> float:
    """The width of the timeline's sleep span, in % of its axis."""
    found = re.search(r'width="([\d.]+)%"[^>]*data-n="sleep"', timeline)
    assert found, "no sleep span drawn"
    return float(found.group(1))


# -- run again: the fixed variant ------------------------------------------------------------------


def test_the_fixed_variant_is_another_experiment_or_a_changed_param_and_carries_the_other_params():
    race = Run("r", CATALOGUE["race-counter"], {"workers": 4, "iterations": 5000, "window": "none"})
    again = fixed_variant(race, CATALOGUE)
    assert again is not None and (again.experiment.id, again.changes) == ("lock-counter", {})
    assert params_for(again.experiment, race.params, {}) == {"workers": 4, "iterations": 5000, "window": "none"}
    pipe = Run("p", CATALOGUE["mp-pipe"], {"variant": "tutorial", "messages": 3, "start_method": "fork"})
    again = fixed_variant(pipe, CATALOGUE)
    assert again is not None and (again.experiment.id, again.changes) == ("mp-pipe", {"variant": "fixed"})
    assert params_for(again.experiment, pipe.params, {"variant": "fixed"}) == {
        "variant": "fixed",
        "messages": 3,
        "start_method": "fork",
    }
    # already fixed, or nothing to fix: no button
    assert fixed_variant(Run("q", CATALOGUE["mp-pipe"], {**pipe.params, "variant": "fixed"}), CATALOGUE) is None
    assert fixed_variant(Run("l", CATALOGUE["lock-counter"], race.params), CATALOGUE) is None


def test_params_for_another_experiment_carry_what_it_has_and_take_its_defaults_for_the_rest():
    quick = Run("q", CATALOGUE[QUICK], {"workers": 1, "ms": 5})
    assert params_for(CATALOGUE["lock-counter"], quick.params, {"iterations": "2000"}) == {
        "workers": 1,
        "iterations": 2000,
        "window": "call",
    }  # ms dropped; workers=1 is then refused by validate()


# -- through the app ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_client() -> Iterator[TestClient]:
    with TestClient(
        create_app(
            make_settings(max_concurrent_runs=2),
            modules=MODULES + ("tests.fixtures.experiment_quick", "tests.fixtures.experiment_sleeps"),
        )
    ) as client:
        yield client


@pytest.fixture(scope="module")
def two_quick_runs(app_client: TestClient) -> list[str]:
    ids = [
        app_client.post("/api/runs", json={"experiment": QUICK, "params": {"workers": 1, "ms": ms}}).json()["id"]
        for ms in (10, 400)  # far apart: a loaded machine adds its own tens of milliseconds to each
    ]
    for run_id in ids:
        assert wait_for_status(app_client, run_id)["status"] == "done"
    return ids


def ids_in(html: str) -> Counter:
    return Counter(re.findall(r'\sid="([^"]+)"', html))


def test_two_finished_runs_are_drawn_on_one_axis_with_ids_of_their_own(app_client, two_quick_runs):
    short, long = two_quick_runs
    page = app_client.get(f"/compare?runs={short},{long}")
    assert page.status_code == 200
    html = page.text
    scales = re.findall(r'<section id="c(\d)-timeline" class="timeline compared"[^>]*data-scale-ns="(\d+)"', html)
    assert [i for i, _ in scales] == ["0", "1"] and scales[0][1] == scales[1][1]  # one axis for both
    assert int(scales[0][1]) >= 400 * MS  # the longer run's
    widths = [float(w) for w in re.findall(r'<rect class="extent-run" width="([\d.]+)%"', html)]
    assert len(widths) == 2 and widths[0] < widths[1] / 2  # the short run is drawn short
    assert [k for k, n in ids_in(html).items() if n > 1] == []  # two timelines, no id twice
    assert f'href="/runs/{short}"' in html and f'href="/runs/{long}"' in html
    assert (
        'hx-get="/compare' not in html
    )  # both over: the comparison polls no more (the lesson bar polls on every page)
    # a cell that differs is marked with a class and a visible sign, not colour alone
    ms_row = re.search(
        r'<tr class="differs"><th scope="row">ms <span class="differs-mark">≠ differs</span></th>(.*?)</tr>', html, re.S
    )
    assert ms_row and '<td class="differs"><span class="differs-mark" aria-hidden="true">≠</span>' in ms_row.group(1)
    assert re.search(r'<tr><th scope="row">workers</th><td>1</td><td>1</td></tr>', html)


def test_runs_repeated_in_the_query_work_as_the_history_form_sends_them(app_client, two_quick_runs):
    short, long = two_quick_runs
    page = app_client.get("/compare", params=[("runs", long), ("runs", short)])
    assert page.status_code == 200
    assert page.text.index(f"run 1: {long}") < page.text.index(f"run 2: {short}")


@pytest.mark.parametrize(
    "query", ["", "?runs=", "?runs={a}", "?runs={a},{b},{a}", "?runs={a},{b},{a}1,{a}2,{a}3", "?runs={a}&runs={a}"]
)
def test_the_wrong_number_of_runs_or_a_duplicate_is_a_422_naming_runs_and_the_bound(app_client, two_quick_runs, query):
    a, b = two_quick_runs
    response = app_client.get("/compare" + query.format(a=a, b=b))
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["query", "runs"] and "2 to 4 run ids" in error["msg"]


def test_an_unknown_run_is_a_404_naming_it(app_client, two_quick_runs):
    a, _ = two_quick_runs
    response = app_client.get(f"/compare?runs={a},nosuchrun")
    assert response.status_code == 404 and "'nosuchrun'" in response.json()["detail"]
    long_id = "x" * 5000
    response = app_client.get(f"/compare?runs={a},{long_id}")
    assert response.status_code == 404 and len(response.text) < 1000


def test_a_browser_gets_a_page_saying_what_to_do(app_client, two_quick_runs):
    a, _ = two_quick_runs
    response = app_client.get(f"/compare?runs={a}", headers={"accept": "text/html,application/xhtml+xml"})
    assert response.status_code == 422 and response.headers["content-type"].startswith("text/html")
    assert "Tick 2 to 4 runs in the history and press Compare." in response.text
    assert "runs: must be 2 to 4 run ids" in response.text and 'href="/runs"' in response.text


def test_a_run_still_going_is_not_drawn_and_the_part_polls_until_it_ends(app_client, two_quick_runs):
    done = two_quick_runs[0]
    going, _, _ = start_sleeper(app_client)
    try:
        page = " ".join(app_client.get(f"/compare?runs={done},{going}").text.split())
        assert "c0-timeline" in page and "c1-timeline" not in page
        assert "1 of the runs is still going" in page and "ms so far" in page
        assert f'hx-get="/compare?runs={done}%2C{going}" hx-trigger="every 1s"' in page
        part = app_client.get(f"/compare?runs={done},{going}", headers={"HX-Request": "true"}).text
        assert part.startswith('<div id="compare"') and "<html" not in part and "hx-trigger" in part
    finally:
        app_client.post(f"/api/runs/{going}/cancel")
    wait_for_status(app_client, going)
    part = app_client.get(f"/compare?runs={done},{going}", headers={"HX-Request": "true"}).text
    assert "hx-trigger" not in part and "c1-timeline" in part  # over: drawn, and no more polling


def test_history_has_a_compare_form_with_a_checkbox_per_run(app_client, two_quick_runs):
    page = app_client.get("/runs").text
    form = page[page.index('<form method="get" action="/compare"') : page.index("</form>")]
    for run_id in two_quick_runs:
        assert f'<input type="checkbox" name="runs" value="{run_id}"' in form
    assert '<button type="submit">Compare</button>' in form


def test_the_run_page_offers_the_fixed_variant_only_where_there_is_one(app_client, two_quick_runs):
    assert "Run the fixed variant" not in app_client.get(f"/runs/{two_quick_runs[0]}").text
    race = app_client.post(
        "/api/runs", json={"experiment": "race-counter", "params": {"workers": 2, "iterations": 1000, "window": "none"}}
    ).json()["id"]
    wait_for_status(app_client, race)
    page = app_client.get(f"/runs/{race}").text
    form = page[page.index('<form method="post" action="/runs/') :]
    form = form[: form.index("</form>")]
    assert (
        f'action="/runs/{race}/again"' in form
        and '<input type="hidden" name="experiment" value="lock-counter">' in form
    )
    response = app_client.post(f"/runs/{race}/again", data={"experiment": "lock-counter"}, follow_redirects=False)
    assert response.status_code == 303
    redirected = re.fullmatch(r"/compare\?runs=(\w+),(\w+)", response.headers["location"])
    assert redirected, response.headers["location"]
    old, new = redirected.groups()
    assert old == race
    fixed = wait_for_status(app_client, new)
    assert (fixed["experiment"], fixed["params"]) == (
        "lock-counter",
        {"workers": 2, "iterations": 1000, "window": "none", "python": platform.python_version()},
    )
    assert result_of(fixed)["correct"] is True
    assert "Run the fixed variant" not in app_client.get(f"/runs/{new}").text
    assert app_client.get(response.headers["location"]).status_code == 200


def test_run_again_with_a_changed_param_and_its_errors(app_client, two_quick_runs):
    run_id = two_quick_runs[0]
    response = app_client.post(f"/runs/{run_id}/again", data={"ms": "5"}, follow_redirects=False)
    assert response.status_code == 303
    new = response.headers["location"].split(",")[-1]
    assert app_client.get(f"/api/runs/{new}").json()["params"] == {
        "workers": 1,
        "ms": 5,
        "python": platform.python_version(),
    }
    bad = app_client.post(f"/runs/{run_id}/again", data={"ms": "99999"})
    assert bad.status_code == 422 and bad.json()["errors"] == ["ms: must be an integer from 0 to 1000, got 99999"]
    unknown = app_client.post(f"/runs/{run_id}/again", data={"colour": "red"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0].startswith("colour: unknown parameter")
    assert app_client.post(f"/runs/{run_id}/again", data={"experiment": "nope"}).status_code == 404
    assert app_client.post("/runs/nosuchrun/again", data={}).status_code == 404


def test_run_again_goes_through_the_fair_use_limits():
    with TestClient(
        create_app(
            make_settings(max_runs_per_minute_per_client=1), modules=MODULES + ("tests.fixtures.experiment_quick",)
        )
    ) as client:
        client.get("/healthz")  # its cookie: the same client from here on
        run_id = client.post("/api/runs", json={"experiment": QUICK, "params": {"workers": 1, "ms": 1}}).json()["id"]
        wait_for_status(client, run_id)
        refused = client.post(f"/runs/{run_id}/again", data={}, follow_redirects=False)
        assert refused.status_code == 429 and refused.json()["limit"] == "max_runs_per_minute_per_client"
        assert "Retry-After" in refused.headers
        page = client.post(f"/runs/{run_id}/again", data={}, headers={"accept": "text/html"})
        assert page.status_code == 429 and "max_runs_per_minute_per_client" in page.text
