"""The app for tests that serve it from a separate uvicorn process (`--factory`): settings from LAB_* variables."""

from __future__ import annotations

from app.settings import Settings
from app.web.server import create_app
from experiments import MODULES


def create():
    return create_app(Settings(), modules=MODULES + ("tests.fixtures.ticker_experiment",))
