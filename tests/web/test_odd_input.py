"""Odd input never gets a 5xx, and every error message can be sent: lone UTF-16 surrogates, bad bytes.

JSON can carry a lone surrogate (`"\\ud800"`) that no UTF-8 response can hold as it is: a message
that copied it raw could not be encoded, and the server answered 500.
"""

from __future__ import annotations

import json

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from app.web.errors import printable
from app.web.server import create_app
from tests.helpers import TEST_MODULES, make_settings

BEARER = {"authorization": "Bearer teacher-secret"}


@pytest.fixture(scope="module")
def c():
    with TestClient(
        create_app(make_settings(admin_token="teacher-secret"), modules=TEST_MODULES), raise_server_exceptions=False
    ) as client:
        yield client


def post_json(c: TestClient, path: str, body: object) -> httpx.Response:
    # json.dumps escapes the surrogate as \ud800 (ASCII), as a browser's JSON.stringify does
    return c.post(path, content=json.dumps(body), headers={"content-type": "application/json", **BEARER})


@pytest.mark.parametrize(
    "path, body, status",
    [
        ("/api/runs", {"experiment": "\ud800"}, 422),
        ("/api/runs", {"experiment": "race-\udfff-counter", "params": {}}, 422),
        ("/api/runs", {"experiment": "race-counter", "params": {"\udc00": 1}}, 422),
        ("/api/runs", {"experiment": "race-counter", "params": {"window": "\ud800"}}, 422),
        ("/api/runs", {"experiment": "race-counter", "params": {"workers": "\ud800" * 50}}, 422),
        ("/api/runs", {"\ud800": "\udc00"}, 422),
        ("/api/runs", ["\ud800"], 422),
        ("/api/runs", "\ud800", 422),
        ("/api/sweeps", {"experiment": "race-counter", "params": {"\udc00": 1}, "vary": {"workers": [2, 4]}}, 422),
        ("/api/sweeps", {"experiment": "race-counter", "params": {}, "vary": {"\udc00": [2, 4]}}, 422),
        ("/api/sweeps", {"experiment": "\ud800", "params": {}, "vary": {"workers": [2]}}, 422),
        ("/api/pin", {"run_id": "\ud800"}, 422),
        ("/api/pin", {"run_id": "a\udc00b"}, 422),
    ],
)
def test_a_lone_surrogate_gets_a_4xx_whose_message_shows_it_escaped(c, path, body, status):
    response = post_json(c, path, body)
    assert response.status_code == status, response.text
    text = response.content.decode("utf-8")  # strict: the body is valid UTF-8
    assert "\\\\ud800" in text or "\\\\udc00" in text or "\\\\udfff" in text  # shown as \ud800, not dropped
    json.loads(text)


@pytest.mark.parametrize("body", [b'{"experiment": "\xed\xa0\x80"}', b'{"experiment": "\xff"}', b"\xff\xfe{}"])
def test_a_body_that_is_not_utf8_gets_a_4xx(c, body):
    response = c.post("/api/runs", content=body, headers={"content-type": "application/json"})
    assert response.status_code in (400, 422)
    response.content.decode("utf-8")


def test_bad_bytes_in_a_form_or_a_path_get_a_4xx(c):
    assert (
        c.post(
            "/experiments/race-counter/runs",
            content=b"workers=%ED%A0%80&%ED%A0%80=1",
            headers={"content-type": "application/x-www-form-urlencoded"},
        ).status_code
        == 422
    )
    assert c.get("/api/runs/%ED%A0%80").status_code == 404
    assert c.get("/experiments/%ED%A0%80").status_code == 404
    assert (
        c.post(
            "/presenter/pin",
            content=b"run_id=%ED%A0%80",
            headers={"content-type": "application/x-www-form-urlencoded", **BEARER},
        ).status_code
        == 404
    )


def test_printable_escapes_surrogates_in_keys_and_values_and_leaves_the_rest():
    assert printable({"\ud800": ["a\udc00", 1, None, ("é", "\U0001f600")]}) == {
        "\\ud800": ["a\\udc00", 1, None, ["é", "\U0001f600"]]
    }
    assert printable("plain") == "plain"


# JSON numbers no response may hold: Python reads NaN, Infinity and 1e400 (beyond a double) as floats that are
# not finite, which a 422 echoing its input could not encode (allow_nan=False): it answered 500.
NOT_FINITE = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"]
NOT_FINITE_SHOWN = {
    "NaN": "NaN",
    "Infinity": "Infinity",
    "-Infinity": "-Infinity",
    "1e400": "Infinity",
    "-1e400": "-Infinity",
}


def post_literal(c: TestClient, path: str, body: str) -> httpx.Response:
    return c.post(path, content=body, headers={"content-type": "application/json", **BEARER})


@pytest.mark.parametrize("number", NOT_FINITE)
@pytest.mark.parametrize(
    "path, template, field",
    [
        ("/api/runs", '{"experiment": %s}', "experiment"),
        ("/api/runs", '{"experiment": "race-counter", "params": {"workers": %s}}', "workers"),
        ("/api/runs", '{"experiment": "race-counter", "params": {"window": %s}}', "window"),
        ("/api/runs", '{"experiment": "race-counter", "params": %s}', "params"),
        ("/api/runs", "%s", "body"),
        ("/api/sweeps", '{"experiment": "race-counter", "vary": {"workers": [2, %s]}}', "workers"),
        (
            "/api/sweeps",
            '{"experiment": "race-counter", "params": {"iterations": %s}, "vary": {"workers": [2]}}',
            "iterations",
        ),
        ("/api/sweeps", '{"experiment": "race-counter", "vary": {"workers": %s}}', "workers"),
        ("/api/sweeps", '{"experiment": "race-counter", "vary": %s}', "vary"),
        ("/api/sweeps", '{"experiment": %s, "vary": {"workers": [2]}}', "experiment"),
        ("/api/pin", '{"run_id": %s}', "run_id"),
        ("/api/pin", "%s", "body"),
    ],
)
def test_a_number_that_is_not_finite_gets_a_422_naming_its_field(c, path, template, field, number):
    response = post_literal(c, path, template % number)
    assert response.status_code == 422, response.text
    assert field in response.text
    assert NOT_FINITE_SHOWN[number] in response.text  # the value is shown as the word the client sent, not nan/inf


def test_a_repeated_infinity_in_a_sweep_is_named_as_sent(c):
    response = post_literal(c, "/api/sweeps", '{"experiment": "race-counter", "vary": {"workers": [Infinity, 1e400]}}')
    assert response.status_code == 422
    assert "vary.workers: Infinity (or a number too large for a float) is listed twice" in response.json()["errors"]


@pytest.mark.parametrize("number", ["nan", "NaN", "inf", "-Infinity", "1e400"])
def test_a_number_that_is_not_finite_in_a_form_gets_a_422_naming_its_field(c, number):
    for path in ("/experiments/race-counter/runs", "/experiments/race-counter/sweeps"):
        response = c.post(
            path,
            content=f"workers={number}&iterations={number}".encode(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 422, (path, response.text)
        assert "workers" in response.text or "iterations" in response.text


def test_printable_shows_numbers_that_are_not_finite_as_their_words():
    assert printable({"a": [float("nan"), float("inf"), -float("inf"), 1.5]}) == {
        "a": ["NaN", "Infinity", "-Infinity", 1.5]
    }
