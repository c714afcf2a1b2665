"""Error responses whose every message can be sent, whatever the request held.

JSON may carry a lone UTF-16 surrogate (`"\\ud800"`): Python decodes it into a str that no UTF-8
response can hold. An error message that quotes the input (a 404 naming the experiment asked for,
FastAPI's 422 echoing the `input`, an unknown param's name) would then fail to encode, and the
request would end in a 500. Every JSON error goes out through `ErrorResponse`, which shows such a
character as its escape (`\\ud800`), the way `repr()` does: the one place messages are made safe.

JSON may also carry numbers no JSON response may hold: Python's parser reads `NaN`, `Infinity`,
`-Infinity` and any float too large for a double (`1e400`) as floats that are not finite, and a
response is encoded with `allow_nan=False`. FastAPI's 422 echoes such a value back as its `input`:
it is shown as the word the client sent (`"NaN"`, `"Infinity"`, `"-Infinity"`).
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.utils import is_body_allowed_for_status_code
from starlette.exceptions import HTTPException

from app.storage import redis_connection


def printable(value: Any) -> Any:
    """`value` (JSON-like) with every lone surrogate in its strings and keys shown as its escape, and every
    number that is not finite as its word."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {printable(k): printable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [printable(v) for v in value]
    return value


class ErrorResponse(JSONResponse):
    """A JSON response that can always be encoded (see the module's docstring)."""

    def render(self, content: Any) -> bytes:
        return super().render(printable(content))


async def _http_error(request: Request, exc: HTTPException) -> Response:
    # FastAPI's own handler, through ErrorResponse
    headers = getattr(exc, "headers", None)
    if not is_body_allowed_for_status_code(exc.status_code):
        return Response(status_code=exc.status_code, headers=headers)
    return ErrorResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    return ErrorResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)


STORE_AWAY_RETRY_S = 5


STORE_AWAY = redis_connection.ERRORS  # what the storage layer raises when a distributed lab's Redis is away


async def _store_away(request: Request, exc: Exception) -> Response:
    return store_away(exc)


def store_away(exc: Exception) -> Response:
    """503 with Retry-After: a distributed lab's Redis unreachable (restarting, say) or refusing (full), as
    app/storage/redis_connection.py says. Also for middleware (app/web/auth.py), which the app's exception
    handlers do not cover."""
    why = redis_connection.why(exc)
    return ErrorResponse(
        {"detail": f"the lab's shared store (Redis) {why}: try again in {STORE_AWAY_RETRY_S} s"},
        status_code=503,
        headers={"Retry-After": str(STORE_AWAY_RETRY_S)},
    )


def install(app: FastAPI) -> None:
    # FastAPI's decorator, which calls add_exception_handler: Starlette types that for handlers of any
    # Exception, and a handler of one class (which is all it is ever called with) does not fit the type.
    app.exception_handler(HTTPException)(_http_error)
    app.exception_handler(RequestValidationError)(_validation_error)
    for away in STORE_AWAY:
        app.exception_handler(away)(_store_away)
