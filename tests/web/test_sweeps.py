"""Sweeps through the API, the form and the page, against real runner processes (app/web/sweep_routes.py)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from app.web.documents import SweepJson, SweepPointJson
from app.web.server import create_app
from tests.helpers import TEST_MODULES, client_cookie, make_settings, until, wait_for_status

CPU = "cpu-threads-vs-processes"
SMALL = {"first": 15, "tasks": 2, "start_method": "fork"}  # tasks of a few ms: a run takes well under a second
TEACHER = {"authorization": "Bearer teacher-secret"}
SVG = "{http://www.w3.org/2000/svg}"


def sweep(
    client: TestClient,
    vary: Mapping[str, object],
    params: Mapping[str, object] | None = None,
    experiment: str = CPU,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return client.post(
        "/api/sweeps",
        json={"experiment": experiment, "params": SMALL if params is None else params, "vary": vary},
        headers=headers,
    )


def wait_for_sweep(client: TestClient, sweep_id: str, timeout: float = 60.0) -> SweepJson:
    def finished() -> SweepJson | None:
        found: SweepJson = client.get(f"/api/sweeps/{sweep_id}").json()
        return found if found["status"] == "finished" else None

    return until(finished, timeout=timeout, what=f"sweep {sweep_id} finishing", every=0.1)


def plot_of(page: str) -> ET.Element:
    """The sweep page's plot, parsed as the XML it is."""
    svg = re.search(r'<svg class="sweep-plot".*?</svg>\s*<figcaption>', page, re.S)
    assert svg, "no plot on the page"
    return ET.fromstring(svg.group(0).rsplit("<figcaption>", 1)[0])


def measured(point: SweepPointJson) -> dict[str, Any]:
    """A finished point's result: it has one."""
    assert point["result"] is not None, f"point {point['params']} ({point['status']}) has no result"
    return point["result"]


def text_of(svg: ET.Element, tag: str) -> str:
    """The text of the plot's first `tag` element: it has one."""
    element = svg.find(f"{SVG}{tag}")
    assert element is not None and element.text is not None, f"no <{tag}> with text in the plot"
    return element.text


def attribute(element: ET.Element, name: str) -> str:
    """An attribute the element has."""
    value = element.get(name)
    assert value is not None, f"<{element.tag}> has no {name}"
    return value


def test_a_sweep_is_201_with_a_run_per_point_each_an_ordinary_run(client):
    created = sweep(client, {"workers": [1, 2], "tasks": [1, 2]})
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {"id", "url", "runs"} and body["url"] == f"/sweeps/{body['id']}"
    runs = [client.get(f"/api/runs/{run_id}").json() for run_id in body["runs"]]
    assert [(r["params"]["workers"], r["params"]["tasks"]) for r in runs] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert all(r["params"]["first"] == 15 and r["sweep"] == body["id"] for r in runs)
    assert all(r["experiment"] == CPU for r in runs)
    found = client.get(f"/api/sweeps/{body['id']}").json()
    assert found["id"] == body["id"] and found["experiment"] == CPU and found["status"] in ("queued", "running")
    assert [p["run_id"] for p in found["points"]] == body["runs"]
    assert all(set(p) >= {"params", "run_id", "status", "result"} for p in found["points"])
    # Its runs go through the queue in the sweep's order, the first ones maybe done already (fib(15) takes
    # milliseconds): never a later point further along than an earlier one; none queued has a result, every done
    # one has (a running one may: the runner sends it before its threads have all ended).
    progress = [("done", "running", "queued").index(p["status"]) for p in found["points"]]
    assert progress == sorted(progress), found["points"]
    assert all(p["result"] is None for p in found["points"] if p["status"] == "queued"), found["points"]
    assert all(p["result"] is not None for p in found["points"] if p["status"] == "done"), found["points"]
    wait_for_sweep(client, body["id"])


def test_params_left_out_take_the_experiment_s_defaults(client):
    created = sweep(client, {"workers": [1]}, params={"first": 15, "tasks": 1})
    assert created.status_code == 201, created.text
    run = client.get(f"/api/runs/{created.json()['runs'][0]}").json()
    listed = next(e for e in client.get("/api/experiments").json() if e["id"] == CPU)["params"]
    defaults = {name: spec["default"] for name, spec in listed.items()}
    assert run["params"] == {**defaults, "workers": 1, "first": 15, "tasks": 1}
    assert run["params"]["start_method"] == "spawn"
    wait_for_status(client, run["id"])


@pytest.mark.parametrize(
    "params, vary, said",
    [
        ({**SMALL, "turbo": 1}, {"workers": [1, 2]}, "turbo: unknown parameter"),
        (SMALL, {"turbo": [1, 2]}, "vary.turbo: unknown parameter"),
        (SMALL, {"workers": [1, 16]}, "workers: must be an integer from 1 to 8, got 16"),
        ({**SMALL, "first": 99}, {"workers": [1, 2]}, "first: must be an integer from 15 to 34, got 99"),
        (SMALL, {"workers": []}, "vary.workers: empty list"),
        (SMALL, {"workers": [1, 2, 3, 4, 5, 6], "tasks": [1, 2, 3]}, "18 points; a sweep has at most 16"),
        (SMALL, {}, "vary: name at least one param"),
    ],
)
def test_bad_sweeps_are_422_naming_the_param_and_the_bound(client, params, vary, said):
    response = sweep(client, vary, params)
    assert response.status_code == 422
    assert said in response.json()["detail"]
    assert run_ids(client) == []  # nothing was started


def test_unknown_experiment_or_sweep_is_404_naming_it(client):
    response = sweep(client, {"workers": [1]}, experiment="nope")
    assert response.status_code == 404 and "no experiment 'nope'" in response.json()["detail"]
    response = client.get("/api/sweeps/nosuchsweep")
    assert response.status_code == 404 and "no sweep with id 'nosuchsweep'" in response.json()["detail"]
    assert client.get("/sweeps/nosuchsweep").status_code == 404


ME = client_cookie(1)


def sleeps(c: TestClient, seconds: list[int]) -> httpx.Response:
    """A sweep of runs that sleep until cancelled, as the client ME."""
    return sweep(c, {"seconds": seconds}, {"workers": 1}, "test-sleeps", ME)


def single(c: TestClient) -> httpx.Response:
    return c.post("/api/runs", json={"experiment": "test-sleeps", "params": {"workers": 1, "seconds": 60}}, headers=ME)


def run_ids(c: TestClient) -> list[str]:
    """Every run the lab has, from its history page."""
    return re.findall(r'href="/runs/([0-9a-f]{12})"', c.get("/runs").text)


def cancel_all(c: TestClient) -> None:
    ids = run_ids(c)
    for run_id in ids:
        c.post(f"/api/runs/{run_id}/cancel", headers=TEACHER)
    for run_id in ids:
        wait_for_status(c, run_id)


def assert_refused(response: httpx.Response, limit: str, value: int) -> str:
    assert response.status_code == 429, response.text
    body = response.json()
    assert (body["limit"], body["value"]) == (limit, value)
    assert body["retry_after_s"] == int(response.headers["retry-after"]) >= 1
    detail: str = body["detail"]
    return detail


def test_a_sweep_the_queue_cannot_hold_is_429_and_one_it_can_is_queued_whole(lab_with):
    c = lab_with(max_queued_runs=2)
    assert single(c).status_code == 201  # executing: every point of a sweep would wait
    detail = assert_refused(sleeps(c, [60, 61, 62]), "max_queued_runs", 2)
    assert "3 of its 3 runs would wait" in detail
    assert sleeps(c, [60, 61]).status_code == 201  # exactly the room left
    assert_refused(single(c), "max_queued_runs", 2)
    cancel_all(c)


def test_a_sweep_counts_as_one_run_in_flight_and_its_own_points_are_never_refused(lab_with):
    c = lab_with(max_runs_in_flight_per_client=2)
    created = sleeps(c, [60, 61, 62])
    assert created.status_code == 201 and len(created.json()["runs"]) == 3
    statuses = [c.get(f"/api/runs/{run_id}").json()["status"] for run_id in created.json()["runs"]]
    assert statuses[0] in ("queued", "running") and statuses[1:] == ["queued", "queued"]
    assert single(c).status_code == 201  # four runs in flight, two requests
    assert_refused(single(c), "max_runs_in_flight_per_client", 2)
    assert_refused(sleeps(c, [60]), "max_runs_in_flight_per_client", 2)
    cancel_all(c)


def test_a_sweep_counts_once_against_the_runs_per_minute(lab_with):
    c = lab_with(max_runs_per_minute_per_client=2)
    assert sleeps(c, [60, 61, 62, 63]).status_code == 201
    assert single(c).status_code == 201
    assert_refused(single(c), "max_runs_per_minute_per_client", 2)
    cancel_all(c)


def test_cancelling_a_sweep_cancels_its_unfinished_points_and_none_of_them_starts(lab_with):
    c = lab_with()
    created = sleeps(c, [60, 61, 62])
    body = created.json()
    first = body["runs"][0]
    wait_for_status(c, first, statuses=("running",))
    page = c.get(body["url"], headers=ME).text
    assert "Cancel the sweep" in page and "Cancel the sweep" not in c.get(body["url"]).text  # another client
    assert c.post(f"/api/sweeps/{body['id']}/cancel").status_code == 403

    cancelled = c.post(f"/api/sweeps/{body['id']}/cancel", headers=ME)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json() == {"id": body["id"], "cancelled": body["runs"]}
    runs = [wait_for_status(c, run_id) for run_id in body["runs"]]
    assert [r["status"] for r in runs] == ["cancelled"] * 3
    assert all(r["started_at"] is None for r in runs[1:]), "a queued point started as the sweep was cancelled"
    found = c.get(f"/api/sweeps/{body['id']}").json()
    assert found["status"] == "finished"
    assert "Cancel the sweep" not in c.get(body["url"], headers=ME).text
    again = c.post(f"/api/sweeps/{body['id']}/cancel", headers=ME)  # nothing left to cancel
    assert again.status_code == 200 and again.json()["cancelled"] == []
    assert c.post("/api/sweeps/nosuchsweep/cancel", headers=ME).status_code == 404


def test_a_sweep_of_cpu_threads_vs_processes_finishes_and_plots_a_point_per_run(client):
    created = sweep(client, {"workers": [1, 2, 4]}).json()
    live = client.get(f"/sweeps/{created['id']}/live").text
    assert 'hx-trigger="every 1s"' in live  # the page polls while runs are left
    found = wait_for_sweep(client, created["id"])
    assert [p["status"] for p in found["points"]] == ["done"] * 3
    assert [p["params"]["workers"] for p in found["points"]] == [1, 2, 4]
    assert all(
        measured(p)["process_ms"] > 0 and "process_speedup" in measured(p) for p in found["points"]
    )  # fib(15): may round to 0.0×
    page = client.get(created["url"]).text
    svg = plot_of(page)
    assert text_of(svg, "title").startswith("Speedup against workers")
    assert "process pool's speedup over serial" in text_of(svg, "desc")
    axis_titles = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "sweep-axis-title"]
    assert axis_titles == ["workers", "speedup (×)"]
    traces = {g.get("data-figure"): g for g in svg.iter(f"{SVG}g") if g.get("data-figure")}
    assert set(traces) == {"thread_speedup", "process_speedup", "ideal"}
    for figure, trace in traces.items():
        dots = [d for d in trace if d.get("data-run")]
        assert [d.get("data-run") for d in dots] == created["runs"], figure  # one point per run
        assert [int(attribute(d, "data-workers")) for d in dots] == [1, 2, 4]
    for point, dot in zip(found["points"], (d for d in traces["process_speedup"] if d.get("data-run"))):
        assert float(attribute(dot, "data-value")) == measured(point)["process_speedup"]
    for run_id in created["runs"]:  # the table links each run
        assert f'<a href="/runs/{run_id}">' in page
    assert "hx-trigger" not in client.get(f"/sweeps/{created['id']}/live").text  # finished: polling stops


def test_a_sweep_over_interpreters_draws_a_line_per_interpreter(client):
    offered = [p["key"] for p in client.get("/api/pythons").json()][:2]  # the server's own first
    created = sweep(client, {"workers": [1, 2], "python": offered})
    assert created.status_code == 201, created.text
    found = wait_for_sweep(client, created.json()["id"])
    assert [(p["params"]["workers"], p["params"]["python"]) for p in found["points"]] == [
        (w, python) for w in (1, 2) for python in offered
    ]
    assert all(p["status"] == "done" for p in found["points"])
    svg = plot_of(client.get(created.json()["url"]).text)
    process = [g for g in svg.iter(f"{SVG}g") if g.get("data-figure") == "process_speedup"]
    assert [g.get("data-label") for g in process] == [
        f"process pool's speedup over serial (python={p})" for p in offered
    ]
    for line, python in zip(process, offered):
        runs = [p["run_id"] for p in found["points"] if p["params"]["python"] == python]
        assert [d.get("data-run") for d in line if d.get("data-run")] == runs


def test_an_interpreter_not_offered_is_422_naming_it(client):
    response = sweep(client, {"workers": [1], "python": ["2.7.18"]})
    assert response.status_code == 422
    assert "python: must be one of" in response.json()["detail"] and "'2.7.18'" in response.json()["detail"]


def test_a_sweep_survives_a_restart_as_its_runs_do():
    settings = make_settings(max_concurrent_runs=1)
    with TestClient(create_app(settings, modules=TEST_MODULES)) as c:
        created = sweep(c, {"seconds": [60, 61]}, {"workers": 1}, "test-sleeps").json()
    with TestClient(create_app(settings, modules=TEST_MODULES)) as c:
        found = c.get(f"/api/sweeps/{created['id']}").json()
        assert found["vary"] == {"seconds": [60, 61]}
        assert [p["run_id"] for p in found["points"]] == created["runs"]
        # The point that was executing cannot go on; the one still queued is queued again.
        assert [p["status"] for p in found["points"]][0] == "interrupted"
        assert found["points"][1]["status"] in ("queued", "running") and found["status"] != "finished"
        assert c.get(f"/sweeps/{created['id']}").status_code == 200


def test_the_experiment_page_s_sweep_workers_form_starts_a_sweep_and_opens_its_page(client):
    page = client.get(f"/experiments/{CPU}").text
    assert "Sweep workers" in page
    assert re.findall(r'name="sweep_workers" value="(\d+)"', page) == ["1", "2", "4", "8"]
    form = {"workers": "2", "first": "15", "tasks": "1", "start_method": "fork", "sweep_workers": ["1", "2"]}
    response = client.post(f"/experiments/{CPU}/sweeps", data=form, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/sweeps/")
    found = client.get("/api" + response.headers["location"]).json()
    assert [p["params"]["workers"] for p in found["points"]] == [1, 2]
    assert all(p["params"]["tasks"] == 1 for p in found["points"])
    ran = client.post(f"/experiments/{CPU}/runs", data=form, follow_redirects=False)  # Run ignores the ticks
    assert ran.status_code == 303 and ran.headers["location"].startswith("/runs/")
    none_ticked = client.post(f"/experiments/{CPU}/sweeps", data={**form, "sweep_workers": []})
    assert none_ticked.status_code == 422 and "vary.workers: empty list" in none_ticked.text
    wait_for_sweep(client, found["id"])
    wait_for_status(client, ran.headers["location"].rsplit("/", 1)[1])


@pytest.mark.parametrize(
    ("experiment", "params", "ideal"),
    [
        ("thread-pool", {"delays": "3,1,2", "delay_ms": 30}, 2.0),  # 6 units on one thread, 3 on two
        ("process-pool-starmap", {"tasks": 5, "unit_ms": 30, "start_method": "fork"}, 1.75),  # 7 units, 4 on two
    ],
)
def test_a_sweep_of_sleeping_tasks_draws_their_own_ideal_not_one_capped_by_free_cores(
    client, experiment, params, ideal
):
    """Tasks that sleep need no core: at workers=2 the ideal is the schedule's (2.0× for delays 3,1,2), not
    min(workers, free cores), which a loaded machine would make 1.6 and call a 2.0× run "125 % of the ideal"."""
    created = sweep(client, {"workers": [1, 2]}, params, experiment).json()
    found = wait_for_sweep(client, created["id"])
    assert [p["status"] for p in found["points"]] == ["done", "done"]
    assert [measured(p)["ideal_speedup"] for p in found["points"]] == [1.0, ideal]
    svg = plot_of(client.get(created["url"]).text)
    (line,) = [g for g in svg.iter(f"{SVG}g") if g.get("data-figure") == "ideal"]
    assert [float(attribute(d, "data-value")) for d in line if d.get("data-run")] == [1.0, ideal]
    assert "its tasks wait, needing no core" in attribute(line, "data-label")


def test_a_lock_counter_sweep_does_not_wait_for_a_workers_1_point_its_param_does_not_allow(client):
    created = sweep(client, {"workers": [2, 4]}, {"iterations": 1_000}, "lock-counter").json()
    found = wait_for_sweep(client, created["id"])
    assert [p["status"] for p in found["points"]] == ["done", "done"]
    page = client.get(created["url"]).text
    assert "has no point with workers=1, so no speedup over one worker to compute" in page
    assert "has not finished" not in page
