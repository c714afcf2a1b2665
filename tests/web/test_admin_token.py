"""An empty LAB_ADMIN_TOKEN (e.g. `LAB_ADMIN_TOKEN=${TOKEN}` with TOKEN unset) must not turn presenter mode on:
the admin cookie would be an HMAC under the empty key, a value anyone can compute."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from fastapi.testclient import TestClient

from app.web.auth import ADMIN_COOKIE, admin_cookie_value
from app.web.server import create_app
from tests.helpers import TEST_MODULES, make_settings

FORGED = hmac.new(b"", b"concurrency-lab admin cookie", hashlib.sha256).hexdigest()


@pytest.mark.parametrize("token", ["", "   "])
def test_an_empty_admin_token_means_no_presenter(token):
    settings = make_settings(admin_token=token)
    assert settings.admin_token is None
    assert admin_cookie_value(settings) is None
    with TestClient(create_app(settings, modules=TEST_MODULES)) as c:
        c.cookies.set(ADMIN_COOKIE, FORGED)
        refused = c.post("/api/pin", json={"run_id": "x"}, headers={"origin": "http://testserver"})
        assert refused.status_code == 403
        assert "Presenter mode is off" in c.get("/presenter").text


def test_wrong_admin_tokens_are_throttled_per_address():
    """Guessing the token online: after ADMIN_GUESSES_PER_MINUTE wrong ones from an address, every token
    it presents (the right one too) gets 429 for the rest of the minute; the signed-in cookie still works."""
    from app.web.auth import ADMIN_GUESSES_PER_MINUTE

    settings = make_settings(admin_token="teacher-secret")
    with TestClient(create_app(settings, modules=TEST_MODULES)) as c:
        same_site = {"origin": "http://testserver"}
        for i in range(ADMIN_GUESSES_PER_MINUTE):
            wrong = c.delete("/api/pin", headers={**same_site, "authorization": f"Bearer guess-{i}"})
            assert wrong.status_code == 403
        throttled = c.delete("/api/pin", headers={**same_site, "authorization": "Bearer teacher-secret"})
        assert throttled.status_code == 429
        assert int(throttled.headers["retry-after"]) >= 1
        assert "wrong admin tokens" in throttled.json()["detail"]
        form = c.post("/presenter", data={"token": "teacher-secret"}, headers=same_site, follow_redirects=False)
        assert form.status_code == 429 and "wrong admin tokens" in form.text
        signed_in = admin_cookie_value(settings)
        assert signed_in is not None  # the lab has an admin token
        c.cookies.set(ADMIN_COOKIE, signed_in)
        assert c.delete("/api/pin", headers=same_site).status_code == 200


def test_a_wrong_token_on_a_run_page_counts_as_one_guess():
    """The run page asks twice (its cancel button, its pin controls): one view is one guess, not two."""
    from app.web.auth import ADMIN_GUESSES_PER_MINUTE

    with TestClient(create_app(make_settings(admin_token="teacher-secret"), modules=TEST_MODULES)) as c:
        run_id = c.post("/api/runs", json={"experiment": "test-sleeps", "params": {"workers": 1, "seconds": 1}}).json()[
            "id"
        ]
        wrong = {"authorization": "Bearer guess"}
        views = [c.get(f"/runs/{run_id}", headers=wrong).status_code for _ in range(ADMIN_GUESSES_PER_MINUTE + 1)]
    assert views == [200] * ADMIN_GUESSES_PER_MINUTE + [429]
