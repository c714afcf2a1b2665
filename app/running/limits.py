"""Fair-use limits on starting a run: which limit refuses it, its value, and when to retry.

Checked, in this order, before a run is created (by the API and by the form alike):
the queue's length (only when the run would have to wait), the client's runs in flight
(queued or executing), then its runs per minute and its IP address's runs per minute
(sliding windows). A request refused by the client's own limits does not count against the rates; one
refused because the queue is full counts in its address's window (checked first): a script retrying
without pause from one address, whatever cookies it sends, is refused by that window within
`max_runs_per_minute_per_ip` tries, so it cannot take every place the moment it frees and hold the queue.

The two windows are a seam, `Rates`: `MemoryRates` (app/running/ratelimit.py's SlidingWindow, in this
process) embedded, `RedisRates` (app/running/redis_rates.py) when web replicas share them (issue 15), so a
client's limit holds whichever replica answers. Either checks both windows and counts the request in both as one step, so
requests racing for a client's last run cannot all have it.

A sweep (app/model/sweeps.py) is one request of several runs, checked once: the queue must have room
for every one of its runs that would wait, and it counts as one run in flight and one run per
minute, so its own later points are never refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypedDict

from app.running.ratelimit import SlidingWindow, whole_seconds
from app.settings import Settings


@dataclass(frozen=True)
class Client:
    """Who asks (app/web/clients.py tells from a request): the holder of a cookie, or an IP address."""

    id: str  # the cookie's value, or "ip:<address>" without one
    ip: str


MINUTE_S = 60.0


class RefusalJson(TypedDict):
    """A refusal as the API answers it (429, or 503 for a full queue): app/web/schemas.py's Refused."""

    detail: str
    limit: str
    value: int
    retry_after_s: int


@dataclass(frozen=True)
class Refusal:
    limit: str  # the setting's name
    value: int
    retry_after_s: int
    message: str
    status: int = 429

    def to_json(self) -> RefusalJson:
        return {"detail": self.message, "limit": self.limit, "value": self.value, "retry_after_s": self.retry_after_s}

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


@dataclass(frozen=True)
class Load:
    """What the lab holds now, as far as the limits care."""

    would_wait: int  # how many of the request's runs could not start at once (one run: 0 or 1)
    queued: int
    in_flight_of_client: int  # the client's requests queued or executing: a run, or a sweep however many runs


@dataclass(frozen=True)
class Window:
    """One of the two per-minute windows a request is counted in: by the client's id, or by its IP address."""

    kind: str  # "client" or "ip"
    limit_name: str  # the setting that bounds it
    who: str  # whom the refusal speaks of

    def key(self, client: Client) -> str:
        return client.id if self.kind == "client" else client.ip

    def limit(self, settings: Settings) -> int:
        return int(getattr(settings, self.limit_name))

    def refusal(self, settings: Settings, wait_s: float) -> Refusal:
        """Refused for `wait_s` more seconds, until the oldest run it counts leaves the window."""
        limit, retry = self.limit(settings), whole_seconds(wait_s)
        return Refusal(
            self.limit_name,
            limit,
            retry,
            f"{self.who} started {limit} runs in the last minute ({self.limit_name} = {limit}): try again in {retry} s",
        )


WINDOWS = (
    Window("client", "max_runs_per_minute_per_client", "you"),
    Window("ip", "max_runs_per_minute_per_ip", "your IP address"),
)  # checked in this order
ADDRESS_ONLY = ("ip",)  # the windows a request refused for the full queue counts in


QUEUE_LIMIT = "max_queued_runs"


class Rates(Protocol):
    """The per-minute windows of every client, wherever they are kept."""

    async def take(self, client: Client, check: bool = True, kinds: tuple[str, ...] = ()) -> Refusal | None:
        """In one step: if every window (WINDOWS, in order; only those of `kinds` if given) allows one more
        request from `client`, count it in each and return None; else count nothing and return the first
        window's refusal. `check=False` counts it without asking (the admin, held to no rate, whose runs
        still count)."""
        ...


class MemoryRates:
    """The windows in this process (one server: the embedded lab). `take` never awaits, so it is one step."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        self.windows = [(window, SlidingWindow(window.limit(settings), MINUTE_S, clock)) for window in WINDOWS]

    async def take(self, client: Client, check: bool = True, kinds: tuple[str, ...] = ()) -> Refusal | None:
        windows = [(window, counts) for window, counts in self.windows if not kinds or window.kind in kinds]
        for window, counts in windows if check else ():
            wait = counts.retry_after(window.key(client))
            if wait > 0:
                return window.refusal(self.settings, wait)
        for window, counts in windows:
            counts.record(window.key(client))
        return None


class Limits:
    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic, rates: Rates | None = None):
        self.settings = settings
        self.rates: Rates = rates if rates is not None else MemoryRates(settings, clock)

    async def admit(self, client: Client, load: Load, admin: bool = False, runs: int = 1) -> Refusal | None:
        """Why this client may not start a request of `runs` runs now (a run, or a sweep's points), or None,
        and then it is counted against the client's rates (a sweep once, however many runs).
        The admin is held only to the queue's length (its request still counts).
        Refused for the full queue, the request still counts in its address's window, or that window
        refuses it if it is spent (see the module's docstring)."""
        refusal = self.check_load(load, admin, runs)
        if refusal is not None and refusal.limit == QUEUE_LIMIT and not admin:
            return await self.rates.take(client, kinds=ADDRESS_ONLY) or refusal
        if refusal is not None:
            return refusal
        return await self.rates.take(client, check=not admin)

    def check_load(self, load: Load, admin: bool = False, runs: int = 1) -> Refusal | None:
        """The limits on what the lab holds now: the queue's length, then (not for the admin) the client's
        requests in flight."""
        s = self.settings
        if load.would_wait and load.queued + load.would_wait > s.max_queued_runs:
            # No way to know when a slot frees: a run lasts up to the time limit, most far less.
            retry = whole_seconds(min(s.run_timeout_s, 30))
            if runs == 1:
                message = (
                    f"the queue is full ({s.max_queued_runs} runs waiting, max_queued_runs): try again in {retry} s"
                )
            else:
                message = (
                    f"the queue cannot hold this sweep: {load.would_wait} of its {runs} runs would wait "
                    f"behind the {load.queued} waiting, and it holds {s.max_queued_runs} (max_queued_runs): "
                    f"try again in {retry} s, or sweep fewer points"
                )
            return Refusal(QUEUE_LIMIT, s.max_queued_runs, retry, message)
        if admin:
            return None
        if load.in_flight_of_client >= s.max_runs_in_flight_per_client:
            retry = whole_seconds(min(s.run_timeout_s, 10))
            return Refusal(
                "max_runs_in_flight_per_client",
                s.max_runs_in_flight_per_client,
                retry,
                f"you already have {load.in_flight_of_client} runs queued or running, a sweep counting as one "
                f"(max_runs_in_flight_per_client = {s.max_runs_in_flight_per_client}): "
                f"try again when one ends, in about {retry} s, or cancel one",
            )
        return None
