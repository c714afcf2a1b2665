"""Load: 100 concurrent run requests from 20 clients over real HTTP against a real uvicorn.

Never more runs execute than allowed (the lab's state sampled all along; a timing run always
alone), every request is answered 201 or 429, no accepted run is lost or stuck, the queue drains.
"""

from __future__ import annotations

import asyncio
import threading
import time

import httpx2 as httpx
import pytest

from app.web.server import create_app
from tests.helpers import SECRET, TEST_MODULES, client_cookie, make_settings, serving

MODULES = TEST_MODULES + ("tests.fixtures.experiment_quick",)
CLIENTS, PER_CLIENT = 20, 5
QUICK = {"experiment": "test-quick", "params": {"workers": 1, "ms": 20}}
TIMED = {"experiment": "race-counter", "params": {"workers": 2, "iterations": 1000, "window": "none"}}  # measures time
MAX_CONCURRENT = 2


@pytest.fixture
def served():
    # The real fair-use limits, not the tests' generous ones.
    settings = make_settings(
        secret=SECRET,
        max_concurrent_runs=MAX_CONCURRENT,
        max_queued_runs=30,
        max_runs_in_flight_per_client=2,
        max_runs_per_minute_per_client=3,
        max_runs_per_minute_per_ip=300,
    )
    app = create_app(settings, modules=MODULES)
    with serving(app, settings) as url:
        yield app, url


class Sampler(threading.Thread):
    """Reads the lab's executing set every millisecond or so, from outside its event loop."""

    def __init__(self, lab):
        super().__init__(daemon=True)
        self.lab = lab
        self.stop = threading.Event()
        self.most = 0
        self.timing_beside_others = 0
        self.samples = 0

    def run(self):
        while not self.stop.is_set():
            executing = dict(self.lab.admission.executing)  # run id → measures time
            self.samples += 1
            self.most = max(self.most, len(executing))
            if any(executing.values()) and len(executing) > 1:
                self.timing_beside_others += 1
            time.sleep(0.001)


async def hammer(base_url: str) -> list[tuple[int, httpx.Response]]:
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as http:

        async def one(client: int, i: int) -> tuple[int, httpx.Response]:
            body = TIMED if i % 3 == 0 else QUICK
            headers = client_cookie(client)
            return client, await http.post("/api/runs", json=body, headers=headers)

        return await asyncio.gather(*(one(c, i) for c in range(CLIENTS) for i in range(PER_CLIENT)))


async def wait_all(base_url: str, ids: list[str], timeout: float) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    finished: dict[str, dict] = {}
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        while len(finished) < len(ids):
            assert time.monotonic() < deadline, f"{len(ids) - len(finished)} runs still not finished"
            for run_id in [r for r in ids if r not in finished]:
                run = (await http.get(f"/api/runs/{run_id}")).json()
                if run["status"] not in ("queued", "running"):
                    finished[run_id] = run
            await asyncio.sleep(0.1)
    return finished


def test_a_hundred_requests_from_twenty_clients(served):
    app, base_url = served
    lab = app.state.lab
    sampler = Sampler(lab)
    sampler.start()
    try:
        answers = asyncio.run(hammer(base_url))
        accepted = [r.json()["id"] for _, r in answers if r.status_code == 201]
        refused = [r for _, r in answers if r.status_code == 429]
        assert len(answers) == CLIENTS * PER_CLIENT
        assert len(accepted) + len(refused) == len(answers), {r.status_code for _, r in answers}
        assert accepted and refused
        for r in refused:
            body = r.json()
            assert body["limit"] in (
                "max_queued_runs",
                "max_runs_in_flight_per_client",
                "max_runs_per_minute_per_client",
            )
            assert int(r.headers["retry-after"]) >= 1 and str(body["value"]) in body["detail"]
        per_client: dict[int, int] = {}
        for client, r in answers:
            per_client[client] = per_client.get(client, 0) + (r.status_code == 201)
        assert max(per_client.values()) <= 3  # per minute per client, however fast runs end
        finished = asyncio.run(wait_all(base_url, accepted, timeout=120))
    finally:
        sampler.stop.set()
        sampler.join()
    assert sorted(run["status"] for run in finished.values()) == ["done"] * len(accepted)  # none lost or stuck
    assert lab.queued == 0 and lab.executing == 0 and not lab.in_flight  # the queue drained
    assert sampler.samples > 100
    print(f"accepted {len(accepted)}, refused {len(refused)}, most executing {sampler.most}, samples {sampler.samples}")
    assert 1 <= sampler.most <= MAX_CONCURRENT
    assert sampler.timing_beside_others == 0
    timed = [run for run in finished.values() if run["experiment"] == "race-counter"]
    assert timed and all(run["conditions"]["beside"] == 0 for run in timed)
