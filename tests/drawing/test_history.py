"""The run history page: newest first, paged, bounded, in words."""

from __future__ import annotations

import re

import pytest

from app.drawing.history import duration, row, when
from tests.helpers import wait_for_status


def test_rows_say_when_and_how_long_in_words():
    assert when(0) == "—" and when(86_400) == "1970-01-02 00:00:00 UTC"
    assert duration(None, 5) == "—" and duration(10, None) == "—"
    assert (duration(10, 10.25), duration(10, 13.04), duration(0, 600)) == ("250 ms", "3.0 s", "10.0 min")
    r = row(
        {
            "id": "abc",
            "experiment": "fork",
            "params": {"n": 2, "start_method": "spawn"},
            "status": "timed_out",
            "created_at": 1.0,
            "started_at": None,
            "ended_at": None,
        }
    )
    assert (r.params, r.status_words, r.started, r.duration) == (
        "n=2 start_method=spawn",
        "timed out",
        "1970-01-01 00:00:01 UTC",
        "—",
    )


def test_history_lists_runs_newest_first_with_links_and_pages(client):
    ids = [
        client.post("/api/runs", json={"experiment": "test-raises", "params": {"workers": 1}}).json()["id"]
        for _ in range(3)
    ]
    for run_id in ids:
        wait_for_status(client, run_id)
    page = client.get("/runs").text
    assert [m for m in re.findall(r'href="/runs/(\w+)"', page)] == ids[::-1]
    assert page.count('<span class="badge">failed</span>') == 3 and "workers=1" in page
    assert "page 1 of 1 · 3 runs" in page and 'rel="next"' not in page
    empty = client.get("/runs?page=7")
    assert empty.status_code == 200 and "No runs on page 7" in empty.text
    assert 'href="/runs"' in client.get("/").text  # linked from the header


@pytest.mark.parametrize("page", ["0", "-1", "100001", "first", "1e9"])
def test_a_page_out_of_bounds_is_a_422_naming_it(client, page):
    response = client.get(f"/runs?page={page}")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "page"]
