"""All configuration, from environment variables prefixed LAB_ (docs/settings.md has the table)."""

from __future__ import annotations

import ipaddress
import sys
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

HTMX_VERSION = "2.0.11"
HTMX_WS_VERSION = "2.0.4"


class Settings(BaseSettings):
    # A variable set to nothing counts as unset (compose passes `${LAB_RETAIN_DAYS:-}` when .env has none).
    model_config = SettingsConfigDict(env_prefix="LAB_", env_ignore_empty=True)

    host: str = "127.0.0.1"
    port: int = 8000
    python: str = Field(
        default=sys.executable, description="interpreter that runs experiments unless a run picks another"
    )
    pythons: list[str] = Field(
        default_factory=list,
        description="interpreters a run may pick (paths); empty: every CPython >= 3.9 found (app/running/pythons.py)",
    )
    htmx_source: Literal["cdn", "local"] = "cdn"
    frame_rate: float = Field(default=20.0, gt=0, le=60, description="live frames per second per run")

    lessons_dir: Path | None = Field(
        default=None,
        description="a directory of the teacher's own lessons (*.toml, docs/lessons.md), offered beside the repository's lessons/",
    )

    # Running one experiment
    run_timeout_s: float = Field(default=120.0, gt=0, description="wall-time limit of one run")
    oncpu: bool = Field(
        default=True, description="sample when the kernel had each worker on a CPU (experiments/harness/sampler.py)"
    )
    oncpu_source: Literal["auto", "proc"] = Field(
        default="auto",
        description="auto: the kernel's context-switch records where it allows them, else the /proc sampler; proc: always the /proc sampler",
    )
    oncpu_pretend_paranoid: int | None = Field(
        default=None,
        ge=-1,
        le=4,
        description="act as if kernel.perf_event_paranoid were this (3: see the fallback and its hint on a machine that allows the exact source)",
    )
    hang_after_s: float = Field(
        default=3.0, gt=0, description="silence, with every live worker blocked, that ends a run as hung"
    )
    cancel_grace_s: float = Field(default=0.5, ge=0, description="SIGTERM to SIGKILL delay on cancel, timeout or hang")
    run_memory_mb: int = Field(
        default=1024, ge=64, description="address-space limit of each runner process (RLIMIT_AS)"
    )
    run_cpu_s: int = Field(default=120, ge=1, description="CPU-seconds limit of each runner process (RLIMIT_CPU)")
    run_processes: int = Field(
        default=64, ge=4, description="processes a run may add to the server user's (RLIMIT_NPROC)"
    )

    experiments_dir: Path | None = Field(
        default=None,
        description="a directory of the teacher's own experiment modules, one per NAME.py (docs/experiments.md)",
    )

    # Fair use: admission and limits (a client is its cookie, the IP address as a backstop)
    max_concurrent_runs: int = Field(
        default=2, ge=1, description="runs executing at once; a run that measures time always runs alone"
    )
    max_queued_runs: int = Field(default=50, ge=0, description="runs waiting in the queue; past it, 429")
    max_runs_in_flight_per_client: int = Field(default=2, ge=1, description="queued or running runs of one client")
    max_runs_per_minute_per_client: int = Field(default=10, ge=1, description="runs one client may start in a minute")
    max_runs_per_minute_per_ip: int = Field(
        default=300, ge=1, description="backstop for clients that drop their cookie"
    )

    # Persistence
    database: str = Field(default="lab.db", description="SQLite file of runs and their event logs")
    max_log_mb: float = Field(default=50.0, gt=0, description="stored event log of one run, at most")
    retain_days: float | None = Field(
        default=None,
        gt=0,
        description="runs created longer ago than this are deleted, at start and daily; unset: kept for good",
    )

    # Runner nodes on Redis (docs/distributed.md; the web side does not read these yet)
    redis_url: str | None = Field(
        default=None,
        description="a distributed lab's Redis, redis://host:port/db: web replicas queue runs there, runner nodes run them",
    )
    node_ttl_s: float = Field(
        default=10.0,
        gt=0,
        description="a node's heartbeat lives this long; a node silent for it is dead and its run is reaped",
    )

    # Security
    admin_token: SecretStr | None = Field(default=None, description="teacher's token: presenter mode, cancel any run")
    admin_token_file: str | None = Field(
        default=None,
        description="where `concurrency-lab class` keeps the token it made (mode 0600, reused); unset: admin-token beside the database",
    )
    public_url: str | None = Field(
        default=None,
        description="the address students use behind a proxy, e.g. https://lab.school.example: an allowed origin and host, shown as the join address",
    )
    allowed_origins: list[str] = Field(
        default_factory=list, description="origins allowed to open websockets; empty: the server's own"
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="host names answered besides IP addresses, localhost and the allowed origins' hosts; '*': any",
    )
    max_body_bytes: int = Field(default=16_384, ge=1024, description="largest request body accepted")
    body_timeout_s: float = Field(
        default=10.0, gt=0, description="a request body not received in full by then gets 408"
    )
    max_ws_message_bytes: int = Field(
        default=4_096, ge=256, description="largest websocket message accepted from a browser"
    )
    ws_send_timeout_s: float = Field(
        default=5.0,
        gt=0,
        description="a viewer whose socket takes longer to accept a message is dropped (it reconnects)",
    )

    # Who a client is, and headers that never finish (issue 22): signed cookies, trusted proxies, header bounds
    secret: SecretStr | None = Field(
        default=None,
        description="key that signs client cookies; unset: one made once and kept beside the database (or in Redis)",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="addresses (or networks) of the reverse proxies whose X-Forwarded-For is believed; empty: none",
    )

    header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="a request line and headers not received in full by then (from the connection's opening, or its last response) get 408",
    )
    max_header_bytes: int = Field(
        default=16_384, ge=1024, description="largest request line and headers accepted; larger get 431"
    )

    @field_validator("trusted_proxies", mode="after")
    @classmethod
    def _proxies_are_addresses(cls, proxies: list[str]) -> list[str]:
        # "*" would believe the leftmost X-Forwarded-For, which the client writes: every address invented.
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy.strip(), strict=False)
            except ValueError:
                raise ValueError(
                    f'{proxy!r} is not an IP address or network: name the proxies ("*" is not allowed)'
                ) from None
        return [proxy.strip() for proxy in proxies]

    @field_validator("experiments_dir", mode="after")
    @classmethod
    def _experiments_dir_is_absolute(cls, directory: Path | None) -> Path | None:
        # Runners start in the repository (app/running/runners.py), not where the lab was started.
        return directory.expanduser().resolve() if directory is not None else None

    @field_validator("public_url", mode="after")
    @classmethod
    def _public_url_is_an_origin(cls, url: str | None) -> str | None:
        if url is None or not url.strip():
            return None
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/") or parts.query:
            raise ValueError(f"LAB_PUBLIC_URL must be scheme://host[:port] (http or https, no path), got {url!r}")
        return f"{parts.scheme}://{parts.netloc.lower()}"

    def origins(self) -> list[str]:
        """The origins allowed besides the lab's own address as a browser reached it: LAB_ALLOWED_ORIGINS and LAB_PUBLIC_URL."""
        return [*self.allowed_origins, *([self.public_url] if self.public_url else [])]

    def token_file(self) -> Path:
        return Path(self.admin_token_file) if self.admin_token_file else Path(self.database).parent / "admin-token"

    @field_validator("admin_token", "secret", mode="after")
    @classmethod
    def _blank_token_is_none(cls, token: SecretStr | None) -> SecretStr | None:
        # LAB_ADMIN_TOKEN= (say `${TOKEN}` unset) must not turn presenter mode on: the admin cookie
        # is an HMAC keyed by the token, and under an empty key anyone can compute it.
        return token if token is not None and token.get_secret_value().strip() else None


@lru_cache
def get_settings() -> Settings:
    return Settings()
