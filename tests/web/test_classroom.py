"""`concurrency-lab class` (app/web/classroom.py, app/web/join.py): the students' address, the teacher's link,
the admin token kept for the next start, the QR code; and `make class` printing them as a teacher sees them.
"""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx
import segno

from app.web.classroom import Token, admin_token, banner, oncpu_line, presenter_link
from app.web.join import qr_svg, qr_text, reachable_addresses, student_urls, url_of
from tests.helpers import ROOT, make_settings, read_until, wait_until_up


@contextmanager
def teaching(tmp_path: Path, *command: str, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """`concurrency-lab class --port 0` (or `command`, e.g. `make class`) as a teacher starts it, its own session,
    with the database in `tmp_path` and `env` besides; its stdout to read; stopped with SIGTERM after."""
    environ = {**os.environ, "LAB_DATABASE": str(tmp_path / "lab.db"), "LAB_HTMX_SOURCE": "local", **env}
    if "LAB_ADMIN_TOKEN" not in env:
        environ.pop("LAB_ADMIN_TOKEN", None)
    argv = list(command) or [sys.executable, "-m", "app", "class", "--port", "0"]
    server = subprocess.Popen(
        argv, cwd=ROOT, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        yield server
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)


def test_students_are_given_the_names_first_then_each_address_and_behind_a_proxy_only_its_address():
    assert student_urls(["192.168.1.20", "10.0.0.5"], 8000, ["lab.local"], None) == [
        "http://192.168.1.20:8000",
        "http://10.0.0.5:8000",
        "http://lab.local:8000",
    ]
    assert student_urls([], 8000, ["lab.local"], None) == ["http://lab.local:8000"]
    assert student_urls(["192.168.1.20"], 8000, [], "https://lab.school.example") == ["https://lab.school.example"]
    assert student_urls([], 8000, [], None) == []
    assert url_of("http", "192.168.1.20", 80) == "http://192.168.1.20"
    assert url_of("https", "lab.example", 443) == "https://lab.example"
    assert url_of("http", "fe80::1", 8000) == "http://[fe80::1]:8000"


def test_the_banner_names_the_students_address_the_presenter_link_and_where_the_token_is(tmp_path):
    settings = make_settings(database=str(tmp_path / "lab.db"))
    token = Token("s3cret/token", tmp_path / "admin-token", made=True)
    text = banner(settings, token, ["192.168.1.20"], [], 8000)
    assert "Students open:  http://192.168.1.20:8000\n" in text
    assert "http://192.168.1.20:8000/presenter?token=s3cret%2Ftoken" in text  # the token quoted in the link
    assert "http://localhost:8000/presenter?token=s3cret%2Ftoken" in text
    assert f"made now and kept in {tmp_path / 'admin-token'}" in text
    assert qr_text("http://192.168.1.20:8000") in text
    lonely = banner(settings.model_copy(update={"host": "0.0.0.0"}), token, [], [], 8000)
    assert "No network address found" in lonely and "Students open" not in lonely
    proxied = banner(settings.model_copy(update={"host": "127.0.0.1"}), token, [], [], 8000)
    assert "Listening on 127.0.0.1 only" in proxied and "LAB_PUBLIC_URL" in proxied
    assert reachable_addresses("0.0.0.0", ["192.0.2.7"]) == ["192.0.2.7"]
    assert reachable_addresses("127.0.0.1", ["192.0.2.7"]) == [] and reachable_addresses("192.0.2.9", []) == [
        "192.0.2.9"
    ]


def test_the_class_command_says_which_source_draws_the_strips_and_how_to_get_the_exact_one(tmp_path):
    settings = make_settings(database=str(tmp_path / "lab.db"))
    assert "exact" in oncpu_line(settings, {"source": "switches"})
    line = oncpu_line(
        settings,
        {
            "source": "proc",
            "reason": "kernel.perf_event_paranoid is 3",
            "fix": "sudo sysctl kernel.perf_event_paranoid=2",
        },
    )
    assert "sampled from /proc" in line and "paranoid is 3" in line and "sysctl kernel.perf_event_paranoid=2" in line
    assert "off" in oncpu_line(settings.model_copy(update={"oncpu": False}), {})


def test_the_class_command_prints_the_kernels_answer_for_the_strips(tmp_path):
    """Started as a teacher would on a kernel that refuses (pretended: paranoid 3), it prints the fallback and the fix."""
    with teaching(tmp_path, LAB_ONCPU_PRETEND_PARANOID="3") as server:
        said = read_until(server.stdout, r"On-CPU strips: [^\n]*\n")[0].group(0)
    assert "sampled from /proc" in said and "perf_event_paranoid" in said


def test_the_qr_codes_encode_the_students_address():
    url = "http://192.168.1.20:8000"
    rows = [list(row) for row in segno.make(url, error="m").matrix_iter(border=2)]
    text = [line.removeprefix("\x1b[30;107m").removesuffix("\x1b[0m") for line in qr_text(url).splitlines()]
    assert len(text) == (len(rows) + 1) // 2 and all(len(line) == len(rows[0]) for line in text)
    # Each character is two modules: its top half from an even row, its bottom half from the next.
    upper = {"█": 1, "▀": 1, "▄": 0, " ": 0}
    assert [[upper[c] for c in line] for line in text] == [list(row) for row in rows[::2]]
    svg = qr_svg(url)
    assert svg.startswith("<svg") and f"QR code: {url}" in svg


def test_the_token_is_made_once_readable_by_its_owner_only_and_used_again(tmp_path):
    settings = make_settings(database=str(tmp_path / "lab.db"))
    first = admin_token(settings)
    assert first.made and first.path is not None and first.path == tmp_path / "admin-token"
    assert stat.S_IMODE(first.path.stat().st_mode) == 0o600
    again = admin_token(settings)
    assert (again.value, again.made) == (first.value, False)
    first.path.chmod(0o644)  # a file someone made readable by others is made private again, and said so
    loose = admin_token(settings)
    assert loose.tightened and stat.S_IMODE(first.path.stat().st_mode) == 0o600
    given = admin_token(make_settings(database=str(tmp_path / "lab.db"), admin_token="from-the-environment"))
    assert (given.value, given.path) == ("from-the-environment", None)


def test_make_class_prints_the_address_and_a_link_that_signs_the_teacher_in_and_the_next_start_keeps_the_token(
    tmp_path,
):
    def start() -> tuple[str, str]:
        with teaching(tmp_path, "make", "--no-print-directory", "class", "ARGS=--port 0") as server:
            link, _ = read_until(server.stdout, r"also (http://localhost:(\d+)/presenter\?token=(\S+))\)", timeout=60)
            base = f"http://127.0.0.1:{link.group(2)}"
            wait_until_up(base, server)
            with httpx.Client(base_url=base) as teacher:
                page = teacher.get(link.group(1).replace("localhost", "127.0.0.1"), follow_redirects=True)
                assert page.status_code == 200 and "You are signed in as the presenter" in page.text
                assert str(page.url).endswith("/presenter")  # the token left the address bar
                assert "Students join at" in page.text and "<svg" in page.text
                wrong = httpx.get(f"{base}/presenter", params={"token": "not-it"})
                assert wrong.status_code == 403
            return link.group(3), base

    token, _ = start()
    kept = tmp_path / "admin-token"
    assert kept.read_text().strip() == token and stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert start()[0] == token  # the next class signs in with the same link


def test_a_link_with_a_wrong_token_counts_as_a_guess(tmp_path):
    with teaching(tmp_path, LAB_ADMIN_TOKEN="right") as server:
        port = read_until(server.stdout, r"http://localhost:(\d+)/presenter")[0].group(1)
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base, server)
        answers = [httpx.get(f"{base}/presenter", params={"token": f"guess-{n}"}).status_code for n in range(11)]
    assert answers == [403] * 10 + [429]


def test_presenter_link_quotes_the_token():
    assert presenter_link("http://h:1", "a b&c") == "http://h:1/presenter?token=a%20b%26c"
    assert re.fullmatch(r"http://h:1/presenter\?token=[\w%-]+", presenter_link("http://h:1", "x/y+z"))
