"""A lab spread over processes (issue 15, docs/distributed.md): two web replicas and two runner nodes on one
real redis-server, all on loopback, each a real process.

A run started through one replica is watched live through the other and ends identically on both; a node
killed mid-run leaves its run `interrupted` on every replica, and no process behind; 40 runs from 20
clients drain FIFO across the two nodes with no 5xx; a restart of Redis mid-run loses no finished run.
"""

from __future__ import annotations

import signal
import threading

import httpx2 as httpx

from app.web.documents import RunView, SweepJson
from tests.helpers import (
    SLEEPS,
    TTL_S,
    ServerProcess,
    alive_in_group,
    cookie,
    drawn_page,
    post,
    sleeping,
    state,
    until,
    wait_for_status,
    watch,
)

QUICK = {"experiment": "race-counter", "params": {"workers": 2, "iterations": 20_000, "window": "call"}}


def started_at(run: RunView) -> float:
    """When the run started: it has (it ended done)."""
    assert run["started_at"] is not None, f"run {run['id']} ({run['status']}) never started"
    return run["started_at"]


def test_a_run_started_through_one_replica_is_watched_live_through_the_other(lab):
    web, node = lab
    a, b = web("a"), web("b")
    node("node-1"), node("node-2")
    run_id = post(a, {"experiment": "test-sleeps", "params": {"workers": 1, "seconds": 2}})
    # B has never heard of the run: it finds it in Redis and follows it from its first entry.
    until(
        lambda: b.http.get(f"/api/runs/{run_id}").json()["status"] == "running",
        timeout=15,
        what="the run running, on B",
    )
    messages, code = watch(b, run_id)
    assert code == 1000, "B's socket closes normally once the run has ended"
    assert len(messages) >= 2, "B sent the run as it ran (a full render, then frames), not only its end"
    assert "sleep(2)" in "".join(messages)
    on_a, on_b = (wait_for_status(server.http, run_id) for server in (a, b))
    assert on_a["status"] == on_b["status"] == "done"
    assert on_a == on_b, "both replicas tell the same run"
    assert drawn_page(a.http.get(f"/runs/{run_id}").text) == drawn_page(b.http.get(f"/runs/{run_id}").text)
    assert a.http.get(f"/api/runs/{run_id}/events").json() == b.http.get(f"/api/runs/{run_id}/events").json()


def test_a_node_killed_mid_run_leaves_its_run_interrupted_on_every_replica_and_no_process(lab, redis_server):
    web, node = lab
    a, b = web("a"), web("b")
    only = node("node-1")
    run_id = post(a, SLEEPS)
    runner, child = until(lambda: sleeping(redis_server.url, run_id), timeout=20, what="the sleeper sleeping")
    only.proc.send_signal(signal.SIGKILL)
    only.proc.wait()
    until(lambda: not alive_in_group(runner), timeout=10, what="the runner's group gone with its node")
    # A replica reaps the run once the node's heartbeat has expired.
    on_b = wait_for_status(b.http, run_id, timeout=TTL_S * 6)
    assert on_b["status"] == "interrupted"
    assert on_b["error"] is not None and "node-1" in on_b["error"] and "not run again" in on_b["error"]
    assert on_b["log"]["events"] > 0, "the events the node had sent are kept"
    assert wait_for_status(a.http, run_id)["status"] == "interrupted"
    page = b.http.get(f"/runs/{run_id}").text
    assert "sleep(60)" in page, "its timeline is drawn from what the node had sent"


def test_forty_runs_from_twenty_clients_drain_fifo_across_two_nodes_without_a_5xx(lab, redis):
    web, node = lab
    limits = {"LAB_MAX_RUNS_IN_FLIGHT_PER_CLIENT": "2", "LAB_MAX_RUNS_PER_MINUTE_PER_CLIENT": "10"}
    replicas = (web("a", **limits), web("b", **limits))
    # The nodes start once every run is queued and the limit checked: on a loaded machine, posting can be
    # slower than two nodes draining, and a run that already ended no longer counts in flight (failed once).
    body = {"experiment": "test-sleeps", "params": {"workers": 1, "seconds": 1}}
    ids: list[str] = []
    students: list[int] = []
    lock = threading.Lock()

    def student(n: int) -> None:
        for k in range(2):  # each student's two runs through both replicas: the limit holds on either
            server = replicas[(n + k) % 2]
            with lock:  # posted one at a time, so the order they were queued in is known
                ids.append(post(server, body, student=n))
                students.append(n)

    threads = [threading.Thread(target=student, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # A third run of the last student to post is refused while their two wait, whichever replica is asked.
    last = students[-1]
    refused = httpx.post(
        f"{replicas[last % 2].url}/api/runs",
        json=body,
        headers={"Cookie": cookie(replicas[last % 2], last)},
        timeout=10,
    )
    assert refused.status_code == 429 and refused.json()["limit"] == "max_runs_in_flight_per_client"
    node("node-1"), node("node-2")
    runs = [wait_for_status(replicas[0].http, run_id, timeout=120) for run_id in ids]
    assert [run["status"] for run in runs] == ["done"] * 40
    # FIFO: no run started before one queued ahead of it. Two nodes taking neighbours at the same moment write
    # their starts from two processes, which may land a fraction of a millisecond apart either way.
    starts = [started_at(run) for run in runs]
    late = [(i, j) for i in range(40) for j in range(i + 1, 40) if starts[j] < starts[i] - 0.05]
    assert not late, f"runs started before runs queued ahead of them: {late}"
    docs = [state(redis, run_id) for run_id in ids]
    assert None not in docs, "every run has its state in Redis"
    assert {doc["node"] for doc in docs if doc is not None} == {"node-1", "node-2"}, "both nodes ran runs"


def test_a_redis_restart_mid_run_loses_no_finished_run(lab, redis_server):
    web, node = lab
    # A node's heartbeat must outlive the restart, or the run it runs is reaped as its node's (here 2 s, on a
    # loaded machine, might not): the default is 10 s (docs/distributed.md).
    a, b = web("a", ttl_s=10), web("b", ttl_s=10)
    node("node-1", ttl_s=10)
    finished = [post(a, QUICK) for _ in range(3)]
    before = {run_id: wait_for_status(a.http, run_id) for run_id in finished}
    running = post(b, {"experiment": "test-sleeps", "params": {"workers": 1, "seconds": 3}})
    until(lambda: sleeping(redis_server.url, running), timeout=20, what="the sleeper sleeping")
    redis_server.restart()
    for server in (a, b):
        for run_id, run in before.items():
            assert wait_for_status(server.http, run_id) == run
    ended = wait_for_status(a.http, running, timeout=30)
    assert ended["status"] == "done" and wait_for_status(b.http, running) == ended, (
        "the run mid-run when Redis restarted ends too"
    )
    until(
        lambda: all(f"/runs/{running}" not in server.http.get("/").text for server in (a, b)),
        timeout=5,
        what="the run leaving Live now on both replicas",
    )
    after = post(b, QUICK)
    assert wait_for_status(a.http, after)["status"] == "done", "the lab goes on once Redis is back"


def test_live_now_the_pin_and_places_in_line_are_the_same_on_every_replica(lab):
    web, node = lab
    teacher = {"LAB_ADMIN_TOKEN": "teacher-secret"}
    a, b = web("a", **teacher), web("b", **teacher)
    busy = post(a, SLEEPS)
    until(
        lambda: "no runner node is up" in b.http.get(f"/runs/{busy}").text,
        timeout=10,
        what="B saying the run waits for a node",
    )
    node("node-1")  # the only node: busy with the first run, so what comes next waits
    waiting = [post(a, QUICK, student=n) for n in (1, 2)]
    wait_for_status(b.http, busy, statuses={"running"}, timeout=20)
    home = until(
        lambda: (page := b.http.get("/").text) and all(f"/runs/{i}" in page for i in (busy, *waiting)) and page,
        timeout=10,
        what="B's Live now listing the runs started through A",
    )
    assert home.count("/runs/") >= 3
    second = until(
        lambda: "2nd in line" in (page := b.http.get(f"/runs/{waiting[1]}").text) and page,
        timeout=10,
        what="B telling the second run its place",
    )
    assert "1 run ahead of it executing" in second
    pinned = a.http.post(
        "/api/pin", json={"run_id": waiting[0]}, headers={"authorization": "Bearer teacher-secret", "origin": a.url}
    )
    assert pinned.status_code == 200, pinned.text
    until(lambda: b.http.get("/api/pin").json()["pinned"] == waiting[0], timeout=5, what="B showing A's pin")
    a.http.post(f"/api/runs/{busy}/cancel")
    assert wait_for_status(b.http, waiting[1], timeout=30)["status"] == "done"
    assert wait_for_status(b.http, busy)["status"] == "cancelled"


def test_a_run_asked_for_while_redis_is_away_gets_a_503_saying_so_then_goes_on(lab, redis_server):
    web, _ = lab
    a = web("a")
    redis_server.stop()
    away = a.http.post("/api/runs", json=QUICK)
    assert away.status_code == 503, away.text
    assert "Redis" in away.json()["detail"] and int(away.headers["retry-after"]) >= 1
    redis_server.restart()
    # Asked again as a client told Retry-After asks: the replica's connections come back with Redis (under load
    # its first ask after the restart could still find one of them closed: a 503 again, never a 5xx of its own).

    def asked_again() -> httpx.Response | None:
        response = a.http.post("/api/runs", json=QUICK)
        return None if response.status_code == 503 else response

    assert until(asked_again, timeout=15, every=1.0, what="a run admitted after Redis came back").status_code == 201


def test_a_sweep_and_the_history_are_the_same_on_every_replica(lab):
    web, node = lab
    a, b = web("a"), web("b")
    node("node-1"), node("node-2")
    body = {
        "experiment": "cpu-threads-vs-processes",
        "params": {"first": 15, "tasks": 2, "start_method": "fork"},
        "vary": {"workers": [1, 2]},
    }
    created = a.http.post("/api/sweeps", json=body)
    assert created.status_code == 201, created.text
    sweep = created.json()

    def finished(server: ServerProcess) -> SweepJson | None:
        found: SweepJson = server.http.get(f"/api/sweeps/{sweep['id']}").json()
        return found if found["status"] == "finished" else None

    # Each replica folds the runs' streams at its own pace: they agree once both have seen the end.
    on_a = until(lambda: finished(a), timeout=60, what="the sweep finishing on A")
    on_b = until(lambda: finished(b), timeout=60, what="the sweep finishing on B")
    assert [point["run_id"] for point in on_b["points"]] == sweep["runs"]
    assert on_b == on_a
    assert "sweep-plot" in b.http.get(f"/sweeps/{sweep['id']}").text
    history = b.http.get("/runs").text
    first, second = (history.index(f'href="/runs/{run_id}"') for run_id in sweep["runs"])
    assert second < first, "the history lists them newest first, whichever replica queued them"


def test_a_run_cancelled_while_queued_ends_at_once_on_every_replica_and_counts_no_more(lab):
    web, _ = lab  # no node: what is queued stays queued
    limits = {"LAB_MAX_RUNS_IN_FLIGHT_PER_CLIENT": "2"}
    a, b = web("a", **limits), web("b", **limits)
    first, second = post(a, SLEEPS, student=7), post(b, SLEEPS, student=7)
    full = httpx.post(f"{a.url}/api/runs", json=SLEEPS, headers={"Cookie": cookie(a, 7)}, timeout=10)
    assert full.status_code == 429
    cancelled = httpx.post(f"{b.url}/api/runs/{first}/cancel", headers={"Cookie": cookie(a, 7)}, timeout=10)
    assert cancelled.json() == {"id": first, "status": "cancelled"}, "answered as the embedded lab answers"
    wait_for_status(a.http, first, statuses={"cancelled"}, timeout=5)  # A folds the end from the stream
    assert post(a, SLEEPS, student=7), "a cancelled run counts no more against its student, on either replica"
    assert b.http.get(f"/api/runs/{second}").json()["status"] == "queued"


def test_wrong_admin_tokens_through_two_replicas_with_invented_addresses_hit_the_limit(lab):
    web, _ = lab
    behind_a_proxy = {"LAB_TRUSTED_PROXIES": '["127.0.0.1"]', "LAB_ADMIN_TOKEN": "teacher-secret"}
    a, b = web("a", **behind_a_proxy), web("b", **behind_a_proxy)
    answers = []
    for i in range(25):
        # As a proxy that appends sends it: the address the guesser wrote, then the one it connected from.
        headers = {"authorization": f"Bearer guess-{i}", "x-forwarded-for": f"203.0.113.{i}, 192.0.2.1"}
        answers.append(httpx.delete(f"{(a, b)[i % 2].url}/api/pin", headers=headers, timeout=10).status_code)
    assert answers == [403] * 10 + [429] * 15, "10 wrong tokens a minute from one address, on both replicas together"
    teacher = {"authorization": "Bearer teacher-secret", "x-forwarded-for": "192.0.2.2"}  # another address
    assert httpx.delete(f"{b.url}/api/pin", headers=teacher, timeout=10).status_code == 200


def test_a_sigkill_of_a_web_replica_or_a_node_loses_no_queued_run_and_only_the_executing_one_is_interrupted(
    lab, redis_server
):
    web, node = lab
    a = web("a")
    first = node("node-1")
    executing = post(a, SLEEPS)
    runner, _ = until(lambda: sleeping(redis_server.url, executing), timeout=20, what="the sleeper sleeping")
    queued = [post(a, QUICK) for _ in range(10)]
    a.proc.send_signal(signal.SIGKILL)  # the web replica dies: the queue is Redis's, the run the node's
    a.proc.wait()
    b = web("b")
    assert [b.http.get(f"/api/runs/{run_id}").json()["status"] for run_id in queued] == ["queued"] * 10
    first.proc.send_signal(signal.SIGKILL)  # the node dies mid-run: its run cannot go on
    first.proc.wait()
    until(lambda: not alive_in_group(runner), timeout=10, what="the runner's group gone with its node")
    node("node-2")
    runs = [wait_for_status(b.http, run_id, timeout=60) for run_id in queued]
    assert [run["status"] for run in runs] == ["done"] * 10
    started = [started_at(run) for run in runs]
    assert started == sorted(started), "they ran in the order they were queued"
    assert wait_for_status(b.http, executing, timeout=TTL_S * 6)["status"] == "interrupted"
