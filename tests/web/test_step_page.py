"""The stepper's page and JSON through the app (TestClient, real child processes of the server's interpreter):
where it is reached, Undo and Redo, the URL pushed after a move, bad input, and the fair-use limits."""

from __future__ import annotations

import re
from html import unescape

import pytest

PAGE = "/experiments/race-counter/step"


def counter_and_current(html: str) -> tuple[str, list[str]]:
    """What a student sees: the counter, and each thread's highlighted instruction (its offset)."""
    counter = re.search(r'<b id="counter">(-?\d+)</b>', html)
    assert counter, html[:2000]
    current = re.findall(r'<tr class="current[^"]*" aria-current="step">\s*<td>[^<]*</td><td>(\d+)</td>', html)
    return counter.group(1), current


def link(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}" href="([^"]+)"', html)
    assert found, f"no #{element_id}"
    return unescape(found.group(1))


@pytest.mark.parametrize("experiment", ["race-counter", "lock-counter"])
def test_the_experiment_page_links_to_its_stepper(client, experiment):
    html = client.get(f"/experiments/{experiment}").text
    assert f'href="/experiments/{experiment}/step">Step it by hand</a>' in html
    assert client.get(f"/experiments/{experiment}/step").status_code == 200
    assert "Step it by hand" not in client.get("/experiments/fork").text


def test_undo_then_redo_shows_the_same_counter_and_highlighted_instructions(client):
    # Thread 1 runs to its end, thread 2 a few instructions.
    alone = client.get(PAGE + ".json", params={"window": "call", "thread": 1, "move": "end"}).json()
    schedule = "".join(map(str, alone["schedule"])) + "2" * 12
    first = client.get(PAGE, params={"window": "call", "s": schedule})
    assert first.status_code == 200
    seen = counter_and_current(first.text)
    assert len(seen[1]) == 1  # thread 1 has finished: only thread 2 has a next instruction
    undone = client.get(link(first.text, "undo"))
    assert f"s={schedule[:-1]}&r=2" in link(undone.text, "share")
    undone_twice = client.get(link(undone.text, "undo"))
    assert counter_and_current(undone_twice.text)[1] != seen[1]  # thread 2 is two instructions back
    redone = client.get(link(client.get(link(undone_twice.text, "redo")).text, "redo"))
    assert counter_and_current(redone.text) == seen
    assert link(redone.text, "share") == link(first.text, "share")


def test_a_move_pushes_the_schedule_it_expanded_to_and_that_url_shows_the_same_state(client):
    moved = client.get(PAGE, params={"s": "", "thread": 2, "move": "end"}, headers={"HX-Request": "true"})
    pushed = moved.headers["HX-Push-Url"]
    schedule = re.search(r"[?&]s=(\d+)", pushed)
    assert schedule and set(schedule.group(1)) == {"2"}
    again = client.get(pushed)
    assert counter_and_current(again.text) == counter_and_current(moved.text)
    assert 'id="thread-2"' in again.text and "thread 2 has finished." in again.text


def test_the_losing_schedule_is_named_at_its_store_and_as_json(client):
    found = client.get(PAGE + ".json", params={"find": 1, "window": "call", "iterations": 1}).json()
    assert found["found"]["preemptions"] == 1
    assert set(found["schedule"]) == {1, 2}
    html = client.get(found["url"]).text
    assert "thread 1 wrote 1 over thread 2&#39;s -1: one decrement lost" in html
    state = client.get(found["url"].replace("/step?", "/step.json?")).json()
    assert state["schedule"] == found["schedule"] and state["states"][-1]["lost"] == 1


@pytest.mark.parametrize(
    ("query", "field", "says"),
    [
        ({"threads": 9}, "threads", "less than or equal to 4"),
        ({"iterations": 0}, "iterations", "greater than or equal to 1"),
        ({"s": "1213"}, "s", "thread numbers from 1 to 2"),
        ({"s": "1" * 1001}, "s", "at most 1000"),
        ({"python": "2.7"}, "python", "python must be one of"),
        ({"thread": 3}, "thread", "from 1 to 2"),
        ({"move": "jump"}, "move", "instruction"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_its_bound(client, query, field, says):
    answered = client.get(PAGE, params=query)
    assert answered.status_code == 422, answered.text
    (error,) = answered.json()["detail"]
    assert error["loc"][-1] == field and says in error["msg"]


def test_only_race_counter_and_lock_counter_are_stepped(client):
    assert client.get("/experiments/fork/step").status_code == 422
    assert client.get("/experiments/no-such/step").status_code == 404


def test_opening_a_stepping_session_counts_as_a_run_and_its_clicks_do_not(lab_with):
    client = lab_with(max_runs_per_minute_per_client=2)
    client.get("/")  # the client's cookie: it is that client from now on
    assert client.get(PAGE).status_code == 200
    for schedule in ("1", "11", "112"):  # clicks inside the page (htmx): no run counted
        assert client.get(PAGE, params={"s": schedule}, headers={"HX-Request": "true"}).status_code == 200
    assert client.get(PAGE).status_code == 200
    refused = client.get(PAGE)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "max_runs_per_minute_per_client" in refused.text
    # The teacher is held to no rate, as for runs.
    assert client.get(PAGE, headers={"Authorization": "Bearer teacher-secret"}).status_code == 200
