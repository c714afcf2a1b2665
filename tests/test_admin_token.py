"""An empty LAB_ADMIN_TOKEN (e.g. `LAB_ADMIN_TOKEN=${TOKEN}` with TOKEN unset) must not turn presenter mode on:
the admin cookie would be an HMAC under the empty key, a value anyone can compute."""
from __future__ import annotations

import hashlib
import hmac

import pytest
from fastapi.testclient import TestClient

from app.auth import ADMIN_COOKIE, admin_cookie_value
from app.server import create_app
from tests.conftest import TEST_MODULES, make_settings

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
