"""Bad input, generated: schemathesis draws requests from the OpenAPI schema; none gets a 5xx.

The app runs as in production (the real fair-use limits), so valid requests start a few
real runs (cancelled at the end by the lab's shutdown) and the rest meet 404/413/422/429.
Generated strings are valid Unicode; JSON can also carry lone UTF-16 surrogates (`"\\ud800"`),
which no UTF-8 response can hold as they are: the JSON bodies are drawn again with such strings
in their keys and values (tests/web/test_odd_input.py has the cases one by one).
"""

from __future__ import annotations

import json
from typing import Any

import httpx2 as httpx
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core.errors import InvalidSchema
from schemathesis.core.result import Err, Result

from app.model.experiments import catalogue
from app.web.server import create_app
from tests.helpers import TEST_MODULES, make_settings

APP = create_app(
    make_settings(max_runs_in_flight_per_client=2, max_runs_per_minute_per_client=10, admin_token="teacher-secret"),
    modules=TEST_MODULES,
)
SCHEMA = schemathesis.openapi.from_dict(APP.openapi())


def operation(result: Result[schemathesis.APIOperation, InvalidSchema]) -> schemathesis.APIOperation:
    """An operation of the schema; the schema is the app's own, so one schemathesis cannot read is raised."""
    if isinstance(result, Err):
        raise result.err()
    return result.ok()


OPERATIONS = [operation(result) for result in SCHEMA.get_all_operations()]
JSON_BODIES = [op for op in OPERATIONS if any(body.media_type == "application/json" for body in op.body)]
EXPERIMENTS = sorted(catalogue(TEST_MODULES))  # a body naming a real one gets its params read
SURROGATES = st.sampled_from(["\ud800", "\udc00", "\udfff", "\udc00\ud800", "\ud800" * 120])
ROUTER_404 = {"detail": "Not Found"}  # Starlette's answer to a path no route matches


def reached(response: httpx.Response) -> bool:
    """Whether the operation answered, not the router (which knows no such path or method)."""
    return response.status_code != 405 and not (response.status_code == 404 and response.json() == ROUTER_404)


@pytest.fixture(scope="module")
def client():
    with TestClient(APP, raise_server_exceptions=False) as c:
        yield c


def send(client: TestClient, case: schemathesis.Case) -> httpx.Response:
    kwargs = case.as_transport_kwargs(base_url="http://testserver")
    body: dict[str, Any] = {key: kwargs[key] for key in ("json", "data", "files") if key in kwargs}
    if "data" in body and isinstance(body["data"], (str, bytes)):
        body["content"] = body.pop("data")
    return client.request(
        kwargs["method"],
        kwargs["url"],
        headers=kwargs.get("headers"),
        params=kwargs.get("params"),
        cookies=kwargs.get("cookies") or None,
        **body,
    )


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: f"{op.method.upper()} {op.path}")
def test_no_generated_request_gets_a_5xx(client, operation):
    answered = []  # requests the operation answered

    @given(case=operation.as_strategy())
    @settings(max_examples=10, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def check(case):
        response = send(client, case)
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
        )
        if reached(response):
            answered.append(response.status_code)

    check()
    # Else every request missed the operation (a path or method built wrong): a 5xx could not have shown.
    assert answered, f"no request reached {operation.method.upper()} {operation.path}"


def with_surrogates(value, data):
    """`value` with lone surrogates drawn into its strings, and into its keys and beside them."""
    if isinstance(value, str):
        return data.draw(st.one_of(SURROGATES, SURROGATES.map(lambda odd: value + odd)))
    if isinstance(value, list):
        return [with_surrogates(item, data) for item in value] or [data.draw(SURROGATES)]
    if isinstance(value, dict):
        odd = {with_surrogates(key, data): with_surrogates(item, data) for key, item in value.items()}
        if "experiment" in value and data.draw(st.booleans()):
            odd["experiment"] = data.draw(st.sampled_from(EXPERIMENTS))
        return {**odd, data.draw(SURROGATES): data.draw(st.one_of(SURROGATES, st.integers()))}
    return data.draw(st.one_of(st.just(value), SURROGATES))


@pytest.mark.parametrize("operation", JSON_BODIES, ids=lambda op: f"{op.method.upper()} {op.path}")
def test_no_json_body_with_lone_surrogates_gets_a_5xx(client, operation):
    answered = []  # requests the operation answered

    @given(case=operation.as_strategy(), data=st.data())
    @settings(max_examples=10, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def check(case, data):
        body = json.dumps(with_surrogates(case.body, data))  # as JSON.stringify sends them: \\ud800, ASCII
        headers = {**(case.headers or {}), "content-type": "application/json"}
        response = client.request(case.method, case.formatted_path, headers=headers, content=body)
        assert response.status_code < 500, f"{case.method} {case.formatted_path} {body[:200]}: {response.status_code}"
        response.content.decode("utf-8")  # strict: what was sent can be read
        if reached(response):
            answered.append(response.status_code)

    check()
    assert answered, f"no request reached {operation.method.upper()} {operation.path}"


# Numbers JSON may carry that no JSON response may hold: each is sent as written (json.dumps would spell 1e400
# as Infinity), put in place of every value of the drawn body in turn, and of the body itself.
NOT_FINITE = ("NaN", "Infinity", "-Infinity", "1e400", "-1e400")
PLACE = "\x00not-finite\x00"  # stands for the number until the body is written out
CATALOGUE = catalogue(TEST_MODULES)
BEARER = {"authorization": "Bearer teacher-secret"}  # the teacher's routes check their body too


def places(value, path=()):
    """The path of every value in `value` (itself included), to put a number in."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from places(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from places(item, (*path, i))


def put(value, path, new):
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = put(value[path[0]], path[1:], new)
    return copy


def with_real_params(body, data):
    """Sometimes a real experiment with its real params (drawn values), so each param's own check is reached."""
    if not isinstance(body, dict) or not data.draw(st.booleans()):
        return body
    experiment = CATALOGUE[data.draw(st.sampled_from(EXPERIMENTS))]
    params = {p.name: p.default for p in experiment.params}
    ints = [p.name for p in experiment.params if p.type == "int"]
    return {
        **body,
        "experiment": experiment.id,
        "params": params,
        **({"vary": {ints[0]: [params[ints[0]]]}} if ints and "vary" in body else {}),
    }


@pytest.mark.parametrize("operation", JSON_BODIES, ids=lambda op: f"{op.method.upper()} {op.path}")
def test_no_json_body_with_a_number_that_is_not_finite_gets_a_5xx(client, operation):
    answered = []

    @given(case=operation.as_strategy(), data=st.data())
    @settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def check(case, data):
        body = with_real_params(case.body, data)
        for path in places(body):
            for number in NOT_FINITE:
                text = json.dumps(put(body, path, PLACE)).replace(json.dumps(PLACE), number)
                headers = {**(case.headers or {}), **BEARER, "content-type": "application/json"}
                response = client.request(case.method, case.formatted_path, headers=headers, content=text)
                assert response.status_code < 500, (
                    f"{case.method} {case.formatted_path} {text[:200]}: {response.status_code}"
                )
                response.json()  # what was sent can be read back
                if reached(response):
                    answered.append(response.status_code)

    check()
    assert answered, f"no request reached {operation.method.upper()} {operation.path}"
    assert 422 in answered  # a number in place of a field is refused, naming it (tests/web/test_odd_input.py)
