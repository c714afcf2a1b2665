"""A class on the Wi-Fi reaches the lab on the first try (issue 21), on a network of its own.

Two network namespaces joined by a veth pair stand for the teacher's laptop and a student's machine
(tests/helpers.py, ClassNetwork): `concurrency-lab class` serves in the teacher's, and a headless Chromium
started in the student's opens the address the command printed, runs race-counter, and sees its lanes
arrive over the websocket and Live now change. From the student's machine, a foreign Host gets 400 and a
websocket from a foreign Origin 403, as on any lab. The same with LAB_ALLOWED_ORIGINS naming a proxy's
address (a student who types the lab's IP address still gets its websockets), and behind the compose
file's nginx configuration (deploy/nginx.conf) with LAB_PUBLIC_URL, the name the students type resolved
by the student's browser to the teacher's address.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, expect

from tests.helpers import ROOT, ClassNetwork, read_until

pytestmark = pytest.mark.browser

PUBLIC_NAME = "lab.school.test"  # a name the student's browser resolves to the teacher's address (no DNS here)

# Run on the student's machine: wait until the address answers (nginx starts in the background).
ANSWERS = """
import socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 20
while True:
    try:
        socket.create_connection((host, port), timeout=1).close()
        break
    except OSError:
        assert time.monotonic() < deadline, f"nothing answers on {host}:{port}"
        time.sleep(0.05)
"""

# Run on the student's machine: what a foreign Host and a foreign Origin get.
FOREIGN = """
import sys
import httpx2 as httpx
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

url = sys.argv[1]
print(httpx.get(url + "/healthz", headers={"host": "evil.example"}, timeout=10).status_code)
try:
    connect(url.replace("http", "ws", 1) + "/ws/lobby", origin="http://evil.example", proxy=None, open_timeout=10).close()
    print("opened")
except InvalidStatus as refused:
    print(refused.response.status_code)
"""


@pytest.fixture
def network() -> Iterator[ClassNetwork]:
    why = ClassNetwork.unavailable()
    if why:
        pytest.skip(why)
    net = ClassNetwork()
    try:
        net.__enter__()
    except RuntimeError as failed:
        pytest.skip(f"cannot make network namespaces on this machine: {failed}")
    try:
        yield net
    finally:
        net.__exit__()


@contextmanager
def class_served(net: ClassNetwork, tmp_path: Path, env: dict[str, str]) -> Iterator[str]:
    """`concurrency-lab class` on the teacher's machine: the students' address it printed, once it serves."""
    command = net.exec_in(net.teacher, sys.executable, "-m", "app", "class", "--port", "8000")
    server = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "LAB_DATABASE": str(tmp_path / "lab.db"), "LAB_HTMX_SOURCE": "local", **env},
    )
    stdout = server.stdout
    assert stdout is not None  # piped above
    try:
        printed, output = read_until(stdout, r"Students open:\s+(\S+)")
        output += read_until(stdout, r"Application startup complete", timeout=30)[1]
        # The server logs every request: keep reading its output, so that a full pipe never blocks it.
        later: list[bytes] = []
        threading.Thread(target=lambda: later.extend(iter(stdout.readline, b"")), daemon=True).start()
        try:
            yield printed.group(1)
        except BaseException:
            print(output + b"".join(later).decode(errors="replace"))  # shown with the failure
            raise
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)


@contextmanager
def nginx_in_front(net: ClassNetwork, tmp_path: Path) -> Iterator[None]:
    """The compose file's nginx configuration on the teacher's machine, port 8080, its upstream the lab on 8000."""
    if not shutil.which("nginx"):
        pytest.skip("needs Debian's nginx-light (.ci/run installs it)")
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    site, upstreams = re.subn(r"upstream lab \{.*?\}", "upstream lab { server 127.0.0.1:8000; }", site, flags=re.S)
    site, listens = re.subn(r"listen 80;", f"listen {ClassNetwork.TEACHER}:8080;", site)
    assert (upstreams, listens) == (1, 1), "deploy/nginx.conf changed shape: update this test"
    (tmp_path / "site.conf").write_text(site)
    temp = " ".join(
        f"{kind}_temp_path {tmp_path}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (tmp_path / "nginx.conf").write_text(
        f"daemon off; master_process off; pid {tmp_path}/nginx.pid; error_log stderr;\n"
        f"events {{}}\nhttp {{ access_log off; {temp} include {tmp_path}/site.conf; }}\n"
    )
    proxy = subprocess.Popen(
        net.exec_in(net.teacher, "nginx", "-e", "stderr", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        waited = subprocess.run(
            net.exec_in(net.student, sys.executable, "-c", ANSWERS, ClassNetwork.TEACHER, "8080"),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert waited.returncode == 0, waited.stderr[-1000:]
        yield
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)


@contextmanager
def student_browser(playwright: Playwright, net: ClassNetwork, tmp_path: Path) -> Iterator[Browser]:
    """Debian's Chromium on the student's machine (Playwright drives it over a pipe, not the network)."""
    wrapper = tmp_path / "chromium-on-the-students-machine"
    wrapper.write_text(
        f'#!/bin/sh\nexec {" ".join(net.exec_in(net.student, shutil.which("chromium") or "chromium"))} "$@"\n'
    )
    wrapper.chmod(0o755)
    browser = playwright.chromium.launch(
        executable_path=str(wrapper), args=[f"--host-resolver-rules=MAP {PUBLIC_NAME} {ClassNetwork.TEACHER}"]
    )
    try:
        yield browser
    finally:
        browser.close()


# Every run the home page's Live now ever listed, whenever its websocket swapped the list in.
SEEN_IN_LIVE_NOW = """() => {
    window.seenInLiveNow = new Set();
    new MutationObserver(() => document.querySelectorAll("#live-now [data-run]")
        .forEach(row => window.seenInLiveNow.add(row.dataset.run))).observe(document.body, {subtree: true, childList: true});
}"""


def a_student_runs_race_counter(browser: Browser, url: str) -> None:
    context = browser.new_context()
    home = context.new_page()
    home.goto(url)
    expect(home.locator("#live-now")).to_contain_text("Nothing is running", timeout=10_000)
    home.evaluate(SEEN_IN_LIVE_NOW)
    page = context.new_page()
    page.goto(f"{url}/experiments/race-counter")
    page.fill("input[name=iterations]", "2000000")  # a run of a second or more: Live now has time to show it
    page.click("button.run")
    page.wait_for_url(re.compile(r"/runs/[0-9a-f]+$"))
    run_id = page.url.rsplit("/", 1)[-1]
    # The run page is rendered before the runner reports anything: its lanes come over the websocket.
    page.wait_for_selector("#lane-1 .lane-label", timeout=20_000)
    expect(page.locator("#status")).to_contain_text("done", timeout=60_000)
    assert home.evaluate("id => window.seenInLiveNow.has(id)", run_id)  # Live now listed it, over the lobby's websocket
    assert page.locator("#lanes .lane-label").count() >= 3  # main and the two threads
    expect(home.locator("#live-now")).to_contain_text("Nothing is running", timeout=20_000)  # and it left
    context.close()


def foreign_requests_are_refused(net: ClassNetwork, url: str) -> None:
    answers = subprocess.run(
        net.exec_in(net.student, sys.executable, "-c", FOREIGN, url),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert answers.stdout.split() == ["400", "403"], answers.stderr[-2000:]


@pytest.mark.parametrize(
    "env",
    [{}, {"LAB_ALLOWED_ORIGINS": '["https://lab.school.example"]'}],
    ids=["class", "with-a-proxys-origin-allowed"],
)
def test_a_student_on_the_class_network_opens_the_printed_address_and_runs_race_counter(
    network, tmp_path, playwright, env
):
    with class_served(network, tmp_path, env) as url:
        assert url == f"http://{ClassNetwork.TEACHER}:8000"  # the teacher's only address on this network
        with student_browser(playwright, network, tmp_path) as browser:
            a_student_runs_race_counter(browser, url)
        foreign_requests_are_refused(network, url)


def test_a_student_reaches_the_lab_behind_the_compose_nginx_by_its_public_url(network, tmp_path, playwright):
    public = f"http://{PUBLIC_NAME}:8080"
    with class_served(network, tmp_path, {"LAB_PUBLIC_URL": public}) as url, nginx_in_front(network, tmp_path):
        assert url == public
        with student_browser(playwright, network, tmp_path) as browser:
            a_student_runs_race_counter(browser, url)
        foreign_requests_are_refused(network, f"http://{ClassNetwork.TEACHER}:8080")  # nginx passes the Host on
