"""The README's and docs' commands work where a test can run them: the `make` targets they name exist,
the curl examples get their answers from a real server, the hosting command serves, the backup command
copies; every link stays inside the repository and every `LAB_` variable named is a setting."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx2 as httpx
import pytest

from app.settings import Settings
from app.web.server import create_app
from tests.helpers import ROOT, TEST_MODULES, make_settings, read_until, serving, wait_for_status, wait_until_up

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TEXT = {page: page.read_text() for page in PAGES}
SHELL_BLOCKS = {page: re.findall(r"```sh\n(.*?)```", text, re.S) for page, text in TEXT.items()}
BIN = Path(sys.executable).parent  # the venv the tests run in: .venv/bin in a clone


def commands(pattern: str) -> list[tuple[Path, str]]:
    """Shell commands the pages show, in ```sh blocks and `inline code`, whose text matches `pattern`;
    continuation lines joined, comments dropped."""
    found = []
    for page, text in TEXT.items():
        snippets = [line for block in SHELL_BLOCKS[page] for line in block.replace("\\\n", " ").splitlines()]
        snippets += [
            code.replace("\n", " ") for code in re.findall(r"`([^`]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
        ]
        for snippet in snippets:
            snippet = re.sub(r"\s+#.*$", "", snippet).strip()
            if re.search(pattern, snippet):
                found.append((page, re.sub(r"\s+", " ", snippet)))
    return found


def test_the_table_of_sentences_is_what_the_code_prints():
    """docs/sentences.md is generated from the experiments' findings() and verdict(): regenerated, it is unchanged."""
    checked = subprocess.run([sys.executable, str(ROOT / "scripts" / "sentences.py"), "--check"], capture_output=True)
    assert checked.returncode == 0, "docs/sentences.md is out of date: run python scripts/sentences.py"


def test_the_readme_is_short():
    assert len(TEXT[ROOT / "README.md"].splitlines()) < 150


def test_every_make_target_the_docs_name_exists():
    targets = {target for _, command in commands(r"^make \w") for target in re.findall(r"^make ([\w-]+)", command)}
    assert {"run", "test", "bench", "constraints"} <= targets
    for target in targets:
        dry = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=30)
        assert dry.returncode == 0, f"make {target}: {dry.stderr}"


def anchors(text: str) -> set[str]:
    """The anchors a Markdown page's headings get on GitHub: lower-cased, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#{1,6} (.+)$", re.sub(r"```.*?```", "", text, flags=re.S), re.M)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def test_every_link_points_inside_the_repository_at_a_heading_that_exists():
    for page, text in TEXT.items():
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"https?://", target):
                continue
            file, _, anchor = target.partition("#")
            path = (page.parent / file).resolve() if file else page
            assert path.is_relative_to(ROOT) and path.exists(), f"{page.name}: {target}"
            if anchor:
                assert anchor in anchors(path.read_text()), f"{page.name}: {target}: no such heading in {path.name}"
        assert "shared/seed" not in text, f"{page.name} names a file outside the repository"


def test_the_readme_links_the_teachers_page_first():
    links = re.findall(r"(?<!!)\[[^\]]*\]\(([^)\s#]+)", TEXT[ROOT / "README.md"])  # not images
    assert links[0] == "docs/teacher.md"
    assert len(TEXT[ROOT / "docs" / "teacher.md"].splitlines()) <= 150


def test_every_lab_variable_named_is_a_setting_and_every_setting_is_documented():
    fields = {f"LAB_{name.upper()}" for name in Settings.model_fields}
    named = {name for text in TEXT.values() for name in re.findall(r"\bLAB_[A-Z_]+[A-Z]\b", text)}
    assert named <= fields, f"not settings: {named - fields}"
    table = set(re.findall(r"^\| `(LAB_[A-Z_]+)`", TEXT[ROOT / "docs" / "settings.md"], re.M))
    assert fields == table, f"settings without a row in docs/settings.md: {fields - table}"


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_the_curl_examples_get_their_answers(tmp_path):
    token = "teacher-token-for-docs"
    settings = make_settings(admin_token=token, database=str(tmp_path / "lab.db"))
    examples = commands(r"^curl ")
    assert len(examples) >= 4
    with serving(create_app(settings, modules=TEST_MODULES), settings) as base:
        run_id = None
        for page, command in examples:
            command = re.sub(r"https?://(127\.0\.0\.1:8000|lab\.school\.example)", base, command)
            if run_id is not None:
                command = command.replace("RUN_ID", run_id).replace("…", run_id)
            done = subprocess.run(
                ["bash", "-c", command.replace("curl ", "curl --fail-with-body -sS ", 1)],
                env={**os.environ, "LAB_ADMIN_TOKEN": token},
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert done.returncode == 0, f"{page.name}: {command}\n{done.stdout}{done.stderr}"
            answer = json.loads(done.stdout)
            if isinstance(answer, dict) and "url" in answer:
                run_id = answer["id"]  # POST /api/runs: the next examples use the run it started
        assert run_id is not None
        run = wait_for_status(httpx.Client(base_url=base), run_id)
        assert run["status"] == "done" and run["params"]["iterations"] == 1000

        # docs/hosting.md: the backup, safe while the server runs
        (backup,) = [command for _, command in commands(r"^sqlite3 ")]
        if shutil.which("sqlite3"):
            subprocess.run(["bash", "-c", backup], cwd=tmp_path, check=True, timeout=30)
            with sqlite3.connect(tmp_path / "copy.db") as copy:
                assert (run_id,) in copy.execute("SELECT id FROM runs").fetchall()


def test_the_hosting_command_serves(tmp_path):
    (block,) = [b for b in SHELL_BLOCKS[ROOT / "docs" / "hosting.md"] if "uvicorn app.web.server:create_app" in b]
    # Port 0: uvicorn binds a free port itself (no other process can take it first) and says which.
    script = block.replace("--port 8000", "--port 0").replace(".venv/bin/", f"{BIN}/")
    env = {
        **os.environ,
        "LAB_DATABASE": str(tmp_path / "lab.db"),
        "LAB_HTMX_SOURCE": "local",
        "PATH": f"{BIN}:{os.environ['PATH']}",
    }
    server = subprocess.Popen(
        ["bash", "-c", f"exec env {script.strip()}"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        started, _ = read_until(server.stderr, r"Uvicorn running on http://127\.0\.0\.1:(\d+)", timeout=20)
        port = started.group(1)
        wait_until_up(f"http://127.0.0.1:{port}", server)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json() == {"status": "ok"}
        # the proxy passes Host: lab.school.example, the name of the allowed origin
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", headers={"host": "lab.school.example"}).status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", headers={"host": "evil.example"}).status_code == 400
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=15)
