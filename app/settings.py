"""All configuration, from environment variables prefixed LAB_ (see the README's table)."""
from __future__ import annotations

import sys
from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

HTMX_VERSION = "2.0.11"
HTMX_WS_VERSION = "2.0.4"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LAB_")

    host: str = "127.0.0.1"
    port: int = 8000
    python: str = Field(default=sys.executable, description="interpreter that runs experiments")
    run_timeout_s: float = Field(default=120.0, gt=0, description="wall-time limit of one run")
    max_concurrent_runs: int = Field(default=1, ge=1, description="runs executing at once; more wait in the queue")
    frame_rate: float = Field(default=20.0, gt=0, le=60, description="live frames per second per run")
    hang_after_s: float = Field(default=3.0, gt=0, description="silence, with every live worker blocked, that ends a run as hung")
    cancel_grace_s: float = Field(default=0.5, ge=0, description="SIGTERM to SIGKILL delay on cancel, timeout or hang")
    htmx_source: Literal["cdn", "local"] = "cdn"
    database: str = Field(default="", description="reserved: path of the run store (not used yet)")


@lru_cache
def get_settings() -> Settings:
    return Settings()
