"""The vendored htmx files are byte-for-byte the releases whose SRI hashes the page pins."""
from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from app.server import HTMX

VENDOR = Path(__file__).resolve().parent.parent / "static" / "vendor"


def sri(path: Path) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(path.read_bytes()).digest()).decode()


@pytest.mark.parametrize("file, key", [
    ("htmx-2.0.11.min.js", "sri_htmx"),
    ("htmx-ext-ws-2.0.4.min.js", "sri_ws"),
])
def test_vendored_copy_matches_the_pinned_sri_hash(file, key):
    assert sri(VENDOR / file) == HTMX[key]


def test_the_fallback_loads_the_vendored_files():
    fallback = (VENDOR.parent / "htmx-fallback.js").read_text()
    for file in ("htmx-2.0.11.min.js", "htmx-ext-ws-2.0.4.min.js"):
        assert f"/static/vendor/{file}" in fallback and (VENDOR / file).exists()
