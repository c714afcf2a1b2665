"""Cancel: the run's owner (its cookie) or the teacher (admin token); anyone else 403."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.web.auth import ADMIN_COOKIE, admin_cookie_value
from app.web.clients import COOKIE
from app.web.server import create_app
from tests.helpers import SECRET, TEST_MODULES, client_cookie, make_settings, post_sleeps, wait_for_status

OWNER = client_cookie(1)
STRANGER = client_cookie(2)
TEACHER = {"authorization": "Bearer teacher-secret"}


@pytest.fixture
def c():
    settings = make_settings(admin_token="teacher-secret", secret=SECRET)
    with TestClient(create_app(settings, modules=TEST_MODULES)) as client:
        yield client


def test_a_stranger_gets_403_and_the_run_goes_on(c):
    run_id = post_sleeps(c, OWNER)
    for headers in (
        STRANGER,
        {},
        {"authorization": "Bearer wrong"},
        {**STRANGER, "authorization": "Basic teacher-secret"},
    ):
        refused = c.post(f"/api/runs/{run_id}/cancel", headers=headers)
        assert refused.status_code == 403
        assert "only the client that started this run" in refused.json()["detail"]
    assert c.get(f"/api/runs/{run_id}").json()["status"] in ("queued", "running")
    assert c.post(f"/api/runs/{run_id}/cancel", headers=OWNER).status_code == 200
    assert wait_for_status(c, run_id)["status"] == "cancelled"


@pytest.mark.parametrize("teacher", [TEACHER, {"cookie": "lab_admin=COOKIE"}])
def test_the_teacher_may_cancel_any_run(c, teacher):
    if "cookie" in teacher:
        teacher = {"cookie": f"{ADMIN_COOKIE}={admin_cookie_value(c.app.state.settings)}"}
    run_id = post_sleeps(c, OWNER)
    assert c.post(f"/api/runs/{run_id}/cancel", headers=teacher).status_code == 200
    assert wait_for_status(c, run_id)["status"] == "cancelled"


def test_the_cancel_button_is_shown_only_to_those_allowed(c):
    run_id = post_sleeps(c, OWNER)
    assert 'class="cancel-run"' in c.get(f"/runs/{run_id}", headers=OWNER).text
    assert 'class="cancel-run"' in c.get(f"/runs/{run_id}", headers={**STRANGER, **TEACHER}).text
    assert 'class="cancel-run"' not in c.get(f"/runs/{run_id}", headers=STRANGER).text
    c.post(f"/api/runs/{run_id}/cancel", headers=OWNER)
    wait_for_status(c, run_id)
    assert 'class="cancel-run"' not in c.get(f"/runs/{run_id}", headers=OWNER).text  # over: nothing to cancel


def test_a_script_may_cancel_the_run_its_first_request_started(c):
    # Its first request had no cookie, so the run is owned by its IP address; the cookie that
    # request was given must not lock it out of its own run (a cookie jar: httpx, requests, curl -c).
    c.cookies.clear()
    run_id = post_sleeps(c)
    assert c.cookies.get(COOKIE)  # now it holds one
    assert c.post(f"/api/runs/{run_id}/cancel").status_code == 200
    assert wait_for_status(c, run_id)["status"] == "cancelled"
