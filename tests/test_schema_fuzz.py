"""Bad input, generated: schemathesis draws requests from the OpenAPI schema; none gets a 5xx.

The app runs as in production (the real fair-use limits), so valid requests start a few
real runs (cancelled at the end by the lab's shutdown) and the rest meet 404/413/422/429.
"""
from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from app.server import create_app
from tests.helpers import TEST_MODULES, make_settings

APP = create_app(make_settings(max_runs_in_flight_per_client=2, max_runs_per_minute_per_client=10,
                               admin_token="teacher-secret"), modules=TEST_MODULES)
SCHEMA = schemathesis.openapi.from_dict(APP.openapi())
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
ROUTER_404 = {"detail": "Not Found"}  # Starlette's answer to a path no route matches


@pytest.fixture(scope="module")
def client():
    with TestClient(APP, raise_server_exceptions=False) as c:
        yield c


def send(client: TestClient, case) -> object:
    kwargs = case.as_transport_kwargs(base_url="http://testserver")
    body = {key: kwargs[key] for key in ("json", "data", "files") if key in kwargs}
    if "data" in body and isinstance(body["data"], (str, bytes)):
        body["content"] = body.pop("data")
    return client.request(kwargs["method"], kwargs["url"], headers=kwargs.get("headers"), params=kwargs.get("params"),
                          cookies=kwargs.get("cookies") or None, **body)


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: f"{op.method.upper()} {op.path}")
def test_no_generated_request_gets_a_5xx(client, operation):
    reached = []  # requests the operation answered, not the router (which knows no such path or method)

    @given(case=operation.as_strategy())
    @settings(max_examples=10, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def check(case):
        response = send(client, case)
        assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
        if response.status_code != 405 and not (response.status_code == 404 and response.json() == ROUTER_404):
            reached.append(response.status_code)

    check()
    # Else every request missed the operation (a path or method built wrong): a 5xx could not have shown.
    assert reached, f"no request reached {operation.method.upper()} {operation.path}"
