"""The FIFO queue through the API and the run page's websocket, against real runner processes."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.web.server import create_app
from tests.helpers import TEST_MODULES, make_settings, post_sleeps, receive_text, until, wait_for_status


@pytest.fixture
def one_at_a_time():
    with TestClient(
        create_app(make_settings(max_concurrent_runs=1, max_runs_in_flight_per_client=10), modules=TEST_MODULES)
    ) as c:
        yield c


def test_queued_runs_know_their_place_and_start_by_themselves(one_at_a_time):
    c = one_at_a_time
    a, b, d = post_sleeps(c), post_sleeps(c), post_sleeps(c)
    assert c.get(f"/api/runs/{a}").json()["queue_position"] is None
    assert [c.get(f"/api/runs/{r}").json()["queue_position"] for r in (b, d)] == [1, 2]
    page = c.get(f"/runs/{d}").text
    assert "queued: 2nd in line, 1 run ahead of it executing" in page
    c.post(f"/api/runs/{a}/cancel")
    wait_for_status(c, b, ("running",))
    assert c.get(f"/api/runs/{d}").json()["queue_position"] == 1
    c.post(f"/api/runs/{b}/cancel")
    wait_for_status(c, d, ("running",))
    c.post(f"/api/runs/{d}/cancel")
    assert wait_for_status(c, d)["status"] == "cancelled"


def test_cancel_of_a_queued_run_takes_it_out_of_the_queue_and_its_page_hears_of_the_move(one_at_a_time):
    c = one_at_a_time
    a, b, d = post_sleeps(c), post_sleeps(c), post_sleeps(c)
    with c.websocket_connect(f"/ws/runs/{d}") as ws:
        assert "2nd in line" in receive_text(ws)
        c.post(f"/api/runs/{b}/cancel")
        assert c.get(f"/api/runs/{b}").json()["status"] == "cancelled"
        # the next frames (a frame drawn before the move may still be on its way) say it moved up
        assert any("1st in line, 1 run ahead of it executing" in receive_text(ws) for _ in range(3))
    assert c.get(f"/api/runs/{d}").json()["queue_position"] == 1
    for r in (a, d):
        c.post(f"/api/runs/{r}/cancel")
    assert wait_for_status(c, d)["status"] == "cancelled"
    assert wait_for_status(c, a)["status"] == "cancelled"


def test_conditions_say_alone_or_beside_how_many(client):
    # client: max_concurrent_runs=2; test-sleeps does not measure time, so two share the CPU
    a = post_sleeps(client)
    wait_for_status(client, a, ("running",))
    conditions = until(
        lambda: (c := client.get(f"/api/runs/{a}").json()["conditions"]).get("python") is not None and c,
        what="the run's conditions naming its python",
        every=0.05,
    )
    assert conditions["beside"] == 0 and conditions["start_method"] in ("fork", "spawn", "forkserver")
    assert isinstance(conditions["loadavg"], float) and conditions["python"].count(".") == 2
    assert "with no other run beside it" in client.get(f"/runs/{a}").text
    b = post_sleeps(client)
    wait_for_status(client, b, ("running",))
    assert client.get(f"/api/runs/{a}").json()["conditions"]["beside"] == 1
    assert client.get(f"/api/runs/{b}").json()["conditions"]["beside"] == 1
    for r in (a, b):
        client.post(f"/api/runs/{r}/cancel")
    assert wait_for_status(client, a)["conditions"]["beside"] == 1  # the most, over its life
    wait_for_status(client, b)
    assert "beside 1 other run" in client.get(f"/runs/{a}").text


def test_a_timing_experiment_never_runs_beside_another(client):
    a = post_sleeps(client)
    race = client.post(
        "/api/runs", json={"experiment": "race-counter", "params": {"workers": 2, "iterations": 1000, "window": "call"}}
    ).json()["id"]
    b = post_sleeps(client)
    wait_for_status(client, a, ("running",))
    # max_concurrent_runs=2, but race-counter measures time: it waits for a, and b waits behind it (FIFO)
    assert [client.get(f"/api/runs/{r}").json()["queue_position"] for r in (race, b)] == [1, 2]
    client.post(f"/api/runs/{a}/cancel")
    run = wait_for_status(client, race)
    assert run["status"] == "done" and run["conditions"]["beside"] == 0
    wait_for_status(client, b, ("running",))
    client.post(f"/api/runs/{b}/cancel")
    wait_for_status(client, b)


def test_experiments_say_whether_they_measure_time(client):
    listed = {e["id"]: e["measures_time"] for e in client.get("/api/experiments").json()}
    assert {k for k, v in listed.items() if v} == {
        "race-counter",
        "lock-counter",
        "cpu-threads-vs-processes",
        "io-threads-vs-processes",
        "asyncio-gather",  # asyncio against a thread pool, timed
        "asyncio-blocked-loop",  # how long the loop was blocked
        "interpreters-cpu",  # subinterpreters against threads and processes, timed
    }
    assert "it runs alone" in client.get("/experiments/lock-counter").text
    assert "it runs alone" not in client.get("/experiments/rlock-counter").text


def test_cancel_between_admission_and_start_is_clean(client):
    """A run admitted whose task has not yet resumed is still `queued`: cancelling it then must work."""
    lab = client.app.state.lab
    experiment = lab.experiments["test-sleeps"]

    async def start_and_cancel_at_once():  # on the event loop, with no suspension between: the task cannot resume
        run = lab.start(experiment, {"workers": 1, "seconds": 60}, "someone")
        assert run.status == "queued" and lab.position(run) is None  # admitted, not started
        await lab.cancel(run)  # embedded, it never suspends
        return run.id

    run_id = client.portal.call(start_and_cancel_at_once)
    assert wait_for_status(client, run_id)["status"] == "cancelled"
    until(lambda: not lab.executing and not lab.in_flight, timeout=5, what="the admitted run leaving the lab's books")
