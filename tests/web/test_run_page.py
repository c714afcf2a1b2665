"""A real run, through the app: what its page and its websocket draw beyond the spans."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from app.web.server import create_app
from experiments import MODULES
from tests.helpers import make_settings, receive_text, result_of, wait_for_status

ARROW = re.compile(r'<line x1="[\d.]+%" y1="\d+" x2="[\d.]+%" y2="\d+" marker-start')


def test_a_handoff_run_draws_arrows_a_counter_series_and_a_daemon_cut_at_exit():
    with TestClient(create_app(make_settings(), modules=MODULES + ("tests.fixtures.handoff_experiment",))) as client:
        run = client.post("/api/runs", json={"experiment": "handoff", "params": {"items": 3, "consume_ms": 0}}).json()
        frames = []
        with client.websocket_connect(f"/ws/runs/{run['id']}") as socket:
            try:
                while True:  # the server closes the socket after the run's last frame
                    frames.append(receive_text(socket))
            except WebSocketDisconnect as closed:
                assert closed.code == 1000
        page = client.get(run["url"]).text
    for html in ("".join(frames), page):
        assert len(ARROW.findall(html)) >= 3  # each woken wait, from the notify that ended it
        assert re.search(r'class="lane series" id="series-0"', html) and "items waiting" in html
        assert re.search(r'class="c-sleep cut".*sleep\(3600\) · killed at exit', html)


def test_race_counter_page_shows_the_bytecode_of_the_functions_that_ran():
    with TestClient(create_app(make_settings())) as client:
        params = {"workers": 2, "iterations": 1_000, "window": "call"}
        run = client.post("/api/runs", json={"experiment": "race-counter", "params": params}).json()
        assert wait_for_status(client, run["id"])["status"] == "done"
        page = client.get(run["url"]).text
    section = page[page.index('<section id="bytecode"') :]
    assert "<h2>Bytecode</h2>" in section and "increment_with_window" in section
    assert re.search(r'class="op-load">[^<]*LOAD_GLOBAL[^<]*\(counter\)', section)
    assert re.search(r'class="op-store">[^<]*STORE_GLOBAL[^<]*\(counter\)', section)
    assert re.search(r'class="op-window">[^<]*CALL', section)  # this interpreter is 3.10+


def test_a_finished_race_counter_page_says_what_its_own_result_showed():
    with TestClient(create_app(make_settings())) as client:
        params = {"workers": 2, "iterations": 20_000, "window": "call"}
        run = client.post("/api/runs", json={"experiment": "race-counter", "params": params}).json()
        body = wait_for_status(client, run["id"])
        assert body["status"] == "done"
        page = client.get(run["url"]).text
    result = result_of(body)
    section = page[page.index('<section class="findings">') :]
    section = section[: section.index("</section>")]
    assert "What this run showed" in section
    actual, expected = (f"{n:,}".replace(",", " ") for n in (result["actual"], result["expected"]))
    if result["actual"] == result["expected"]:
        assert f"No update was lost this time: the counter ended at the expected {expected}." in section
        assert "Updates were lost" not in section
    else:
        assert f"Updates were lost: the counter ended at {actual}, not {expected}" in section
        assert "No update was lost" not in section
    assert "Expected outcome:" not in page, "the run page says what this run showed, not a canned outcome"
