"""What routes declare instead of looking it up by hand (FastAPI dependencies): the lab, the settings, the
lobby, an experiment, a run or a sweep by the id in the path (a 404 naming it if there is none), and a run the
asking client may cancel (403 if not).

Each is `async`: FastAPI would call a plain function in a worker thread. A dependency is solved before
the route's own query and body are checked, so a route with more to check than the path's id (a zoomed
run page, a page of events) makes those checks part of the dependency that finds its run: a bad query to
an unknown run is then still a 422, not a 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from starlette.requests import HTTPConnection

from app.model.experiments import Experiment
from app.model.runs import Run
from app.model.sweeps import Sweep
from app.running.lab import Lab
from app.settings import Settings
from app.web.auth import is_admin
from app.web.clients import client_of
from app.web.lobby import Lobby


# app.state holds anything: each is annotated with what app/web/server.py put there.
async def get_lab(connection: HTTPConnection) -> Lab:
    lab: Lab = connection.app.state.lab
    return lab


async def get_settings(connection: HTTPConnection) -> Settings:
    settings: Settings = connection.app.state.settings
    return settings


async def get_lobby(connection: HTTPConnection) -> Lobby:
    lobby: Lobby = connection.app.state.lobby
    return lobby


LabDep = Annotated[Lab, Depends(get_lab)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
LobbyDep = Annotated[Lobby, Depends(get_lobby)]


async def find_run(lab: Lab, run_id: str) -> Run:
    """The run (in memory, or loaded from the database), or a 404 naming the id asked for."""
    run = await lab.store.find(run_id)
    if run is None:
        raise HTTPException(404, f"no run with id {run_id!r}")
    return run


async def get_run(run_id: str, lab: LabDep) -> Run:
    return await find_run(lab, run_id)


RunDep = Annotated[Run, Depends(get_run)]


async def get_experiment(experiment_id: str, lab: LabDep) -> Experiment:
    experiment = lab.experiments.get(experiment_id)
    if experiment is None:
        raise HTTPException(404, f"no experiment {experiment_id!r}")
    return experiment


ExperimentDep = Annotated[Experiment, Depends(get_experiment)]


async def get_sweep(sweep_id: str, lab: LabDep) -> Sweep:
    sweep = await lab.sweeps.find(sweep_id)
    if sweep is None:
        raise HTTPException(404, f"no sweep with id {sweep_id!r}")
    return sweep


SweepDep = Annotated[Sweep, Depends(get_sweep)]


def may_cancel(request: Request, owner: str) -> bool:
    """Only the client that started a run or a sweep (`owner`: its cookie), or the teacher (admin token),
    may cancel it.

    A run started without a cookie is owned by its IP address (app/web/clients.py): a request from that
    address may cancel it, with the cookie that first response gave it or without one.
    """
    if is_admin(request, request.app.state.settings):
        return True
    client = client_of(request)
    return bool(owner) and owner in (client.id, f"ip:{client.ip}")


async def get_cancellable_run(request: Request, run: RunDep) -> Run:
    if not may_cancel(request, run.owner):
        raise HTTPException(
            403, "only the client that started this run, or the teacher with the admin token, may cancel it"
        )
    return run


CancellableRunDep = Annotated[Run, Depends(get_cancellable_run)]
