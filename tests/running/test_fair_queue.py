"""One address cannot hold the queue: a real server behind a trusted proxy (two addresses, as the proxy says), a
script at one retrying without pause with a new cookie the lab gave it each time, a student at the other.

Each of the script's tries counts against its address, refused or not, so within max_runs_per_minute_per_ip
tries it is refused for the minute, whatever cookie it sends; a place that frees in the queue is then the
student's, who waits only for the runs queued ahead of it.
"""

from __future__ import annotations

import signal
import threading

import httpx2 as httpx

from app.model.status import FINISHED, Status
from tests.helpers import ServerProcess, until, wait_for_status

SCRIPT, STUDENT = "198.51.100.7", "198.51.100.8"
RUN = {"experiment": "test-sleeps", "params": {"workers": 1, "seconds": 1}}
PER_IP = 12


def test_a_script_retrying_with_new_cookies_cannot_hold_the_queue_from_a_student(tmp_path):
    server = ServerProcess(
        tmp_path / "lab.db",
        LAB_TRUSTED_PROXIES='["127.0.0.1"]',
        LAB_MAX_CONCURRENT_RUNS="1",
        LAB_MAX_QUEUED_RUNS="3",
        LAB_MAX_RUNS_PER_MINUTE_PER_IP=str(PER_IP),
        LAB_MAX_RUNS_IN_FLIGHT_PER_CLIENT="2",
        LAB_MAX_RUNS_PER_MINUTE_PER_CLIENT="10",
    )
    answers: list[int] = []
    admitted: list[str] = []
    student_in = threading.Event()

    def script() -> None:
        with httpx.Client(base_url=server.url, headers={"x-forwarded-for": SCRIPT}, timeout=10) as http:
            while not student_in.is_set():
                http.cookies.clear()
                http.get("/healthz")  # a new cookie the lab gives: a new client each time
                response = http.post("/api/runs", json=RUN)
                answers.append(response.status_code)
                if response.status_code == 201:
                    admitted.append(response.json()["id"])

    hammering = threading.Thread(target=script, daemon=True)
    try:
        hammering.start()
        # The script fills the queue, then spends its address's tries on the full queue.
        until(lambda: len(answers) > PER_IP + 5, timeout=30, what="the script trying past its address's limit")
        assert answers.count(201) <= PER_IP and 429 in answers
        assert len(admitted) >= 4, "it had filled the queue (one executing, three waiting)"
        # A place frees once the script's third-last run leaves the queue to run (at most two of its runs wait
        # then): the student's, though the script never stops trying. (Waiting for its first to end was not
        # enough: under load it had got a fifth run in early, and the queue was still full when the student asked.)
        wait_for_status(server.http, admitted[-3], statuses={Status.RUNNING, *FINISHED}, timeout=60)
        student = httpx.post(f"{server.url}/api/runs", json=RUN, headers={"x-forwarded-for": STUDENT}, timeout=10)
        assert student.status_code == 201, student.text
        student_in.set()
        mine = student.json()["id"]
        ahead = server.http.get(f"/api/runs/{mine}").json()["queue_position"]
        assert ahead is not None and ahead <= 3, "it waits behind the runs queued before it, no more"
        ran = wait_for_status(server.http, mine, timeout=60)
        assert ran["status"] == "done" and ran["started_at"] is not None
        started_after = [
            run_id
            for run_id in admitted
            if (server.http.get(f"/api/runs/{run_id}").json()["started_at"] or 0) > ran["started_at"]
        ]
        assert started_after == [], "no run of the script's overtook it"
        assert len(admitted) <= PER_IP
    finally:
        student_in.set()
        hammering.join(timeout=20)
        server.stop(signal.SIGTERM)
