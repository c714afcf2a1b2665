"""The vendored htmx files are byte-for-byte the releases whose SRI hashes the page pins."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.web.server import HTMX, create_app
from tests.helpers import make_settings

VENDOR = Path(__file__).resolve().parents[2] / "static" / "vendor"


def sri(path: Path) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(path.read_bytes()).digest()).decode()


@pytest.mark.parametrize(
    "file, key",
    [
        ("htmx-2.0.11.min.js", "sri_htmx"),
        ("htmx-ext-ws-2.0.4.min.js", "sri_ws"),
    ],
)
def test_vendored_copy_matches_the_pinned_sri_hash(file, key):
    assert sri(VENDOR / file) == HTMX[key]


def test_the_fallback_loads_the_vendored_files():
    fallback = (VENDOR.parent / "htmx-fallback.js").read_text()
    for key in ("local_htmx", "local_ws"):
        assert HTMX[key] in fallback and (VENDOR.parent.parent / HTMX[key].lstrip("/")).exists()


def test_a_local_page_loads_the_vendored_files_directly():
    with TestClient(create_app(make_settings(htmx_source="local"))) as client:
        page = client.get("/").text
    scripts = re.findall(r'<script src="([^"]+)"', page)
    assert scripts == [HTMX["local_htmx"], HTMX["local_ws"]]  # no CDN, no fallback's document.write
