"""The JSON the API's routes return, as TypedDicts: what mypy checks each route's dict against. Types only.

app/web/schemas.py's pydantic models describe the same objects for OpenAPI and serialise them; these say
them to mypy, built on the model's documents (app/model/documents.py). A key the one has, the other has.
"""

from __future__ import annotations

from typing import Any, TypedDict

from app.model.documents import RunJson
from app.model.status import Status
from app.model.sweeps import SweepStatus


class HealthJson(TypedDict):
    status: str  # "ok" while the server answers


class RunCreatedJson(TypedDict):
    id: str
    status: Status
    url: str  # the run's live page


class RunView(RunJson):
    """GET /api/runs/{id}: the run, with its page and its place in the queue (schemas.RunOut)."""

    url: str
    queue_position: int | None


class RunCancelledJson(TypedDict):
    id: str
    status: Status


class SweepPointJson(TypedDict):
    params: dict[str, Any]  # the experiment's own params
    run_id: str
    status: str  # its run's Status
    result: dict[str, Any] | None  # as GET /api/runs/{id} shows it (Run.result_json): the experiment's own keys


class SweepJson(TypedDict):
    id: str
    experiment: str
    status: SweepStatus
    params: dict[str, Any]  # the params every point shares
    vary: dict[str, list[Any]]
    url: str
    created_at: float
    points: list[SweepPointJson]


class SweepCreatedJson(TypedDict):
    id: str
    url: str
    runs: list[str]  # a run per point, in the order of the points


class SweepCancelledJson(TypedDict):
    id: str
    cancelled: list[str]


class PinJson(TypedDict):
    pinned: str | None
