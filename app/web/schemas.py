"""The JSON API's responses as pydantic models: what the OpenAPI schema (`/docs`, `/openapi.json`) shows.

They describe the dicts the routes return (`Run.to_json()`, `Experiment.describe()`, ...) without changing
them: routes serialise through them with `response_model_exclude_unset=True`, so a key the dict leaves out
stays out, and each model allows extra keys, so one a dict gains is kept. What a run's experiment decides
(its params, its result, what it ran under) stays an open object. The routes' dicts are typed for mypy by
app/web/documents.py's TypedDicts.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.model.status import Status


class Schema(BaseModel):
    model_config = ConfigDict(extra="allow")


class Health(Schema):
    status: str = Field(description='"ok" while the server answers')


class Detail(Schema):
    """An error: what went wrong, in words (a 422 from FastAPI's own checks lists them instead)."""

    detail: Any


class Refused(Detail):
    """A fair-use limit refused the request (429, with `Retry-After`): which one, and when to try again."""

    limit: Any = None
    value: Any = None
    retry_after_s: int | None = None


class ParamSpec(Schema):
    """One parameter an experiment takes, with its bounds."""

    type: str = Field(description='"int" (min..max) or "choice" (one of choices)')
    default: Any
    min: int | None = None
    max: int | None = None
    choices: list[Any] | None = Field(None, description="a choice's values (only for a choice)")
    labels: dict[str, str] | None = Field(None, description="the words a form shows for each choice, if not the choice")
    refused: dict[str, str] | None = Field(
        None, description="values known but not allowed here, each with why (an interpreter that cannot run it)"
    )
    help: str | None = None


class ExperimentOut(Schema):
    id: str
    title: str
    summary: str
    kind: str
    measures_time: bool = Field(description="timing runs are admitted one at a time")
    params: dict[str, ParamSpec]


class PythonOut(Schema):
    """An interpreter a run may pick as its `python` param (its `key`)."""

    key: str
    label: str
    version: str
    implementation: str
    free_threaded: bool
    gil_enabled: bool
    start_method: str
    interpreter_pool: str = Field(
        "",
        description='its InterpreterPoolExecutor: "stdlib" (3.14+), "backport" (3.13 with interpreters-pep-734), "" none',
    )


class RunCreated(Schema):
    id: str
    status: Status
    url: str = Field(description="the run's live page")


class Truncated(Schema):
    at_mb: float = Field(description="the stored log's size when it reached LAB_MAX_LOG_MB")
    after_events: int = Field(description="events stored in full before that")


class EventLog(Schema):
    events: int = Field(description="events received so far (GET /api/runs/{id}/events pages them)")
    truncated: Truncated | None


class RunOut(Schema):
    id: str
    experiment: str
    params: dict[str, Any]
    status: Status
    result: dict[str, Any] | None = Field(
        description="the experiment's result; with `error` (its exception) if it "
        "raised, `blocked` (who waited on what) if it hung"
    )
    error: str | None = Field(description="why the run failed or was stopped, in words")
    python: str | None = Field(description="the interpreter's version, once the runner said it")
    conditions: dict[str, Any] = Field(description="what it ran under (cores, interpreter, runs beside it, ...)")
    cpu: dict[str, Any] | None = Field(description="how many cores its workers and other programs kept busy")
    created_at: float
    started_at: float | None
    ended_at: float | None
    url: str
    sweep: str | None = Field(description="the sweep it is a point of")
    log: EventLog
    queue_position: int | None = Field(description="1-based place in the queue while queued")


class RunCancelled(Schema):
    id: str
    status: Status = Field(
        description="`cancelled` at once for a queued run; a running one ends within the grace period"
    )


class SweepCreated(Schema):
    id: str
    url: str
    runs: list[str] = Field(description="a run per point, in the order of the points")


class SweepCancelled(Schema):
    id: str
    cancelled: list[str] = Field(description="the points' runs that were not finished: each now ends `cancelled`")


class SweepPoint(Schema):
    params: dict[str, Any]
    run_id: str
    status: Status
    result: dict[str, Any] | None


class SweepOut(Schema):
    id: str
    experiment: str
    status: Literal["queued", "running", "finished"]
    params: dict[str, Any] = Field(description="the params every point shares")
    vary: dict[str, list[Any]]
    url: str
    created_at: float
    points: list[SweepPoint]


class Pin(Schema):
    pinned: str | None = Field(description="the id of the run pinned to every home page, if any")
