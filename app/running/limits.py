"""Fair-use limits on starting a run: which limit refuses it, its value, and when to retry.

Checked, in this order, before a run is created (by the API and by the form alike):
the queue's length (only when the run would have to wait), the client's runs in flight
(queued or executing), then its runs per minute and its IP address's runs per minute
(sliding windows, app/running/ratelimit.py). A refused request does not count against the rates.

A sweep (app/drawing/sweeps.py) is one request of several runs, checked once: the queue must have room
for every one of its runs that would wait, and it counts as one run in flight and one run per
minute, so its own later points are never refused.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from app.running.ratelimit import SlidingWindow, whole_seconds
from app.settings import Settings


@dataclass(frozen=True)
class Client:
    """Who asks (app/web/clients.py tells from a request): the holder of a cookie, or an IP address."""

    id: str  # the cookie's value, or "ip:<address>" without one
    ip: str


MINUTE_S = 60.0


@dataclass(frozen=True)
class Refusal:
    limit: str  # the setting's name
    value: int
    retry_after_s: int
    message: str
    status: int = 429

    def to_json(self) -> dict[str, Any]:
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


class Limits:
    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        self.per_client = SlidingWindow(settings.max_runs_per_minute_per_client, MINUTE_S, clock)
        self.per_ip = SlidingWindow(settings.max_runs_per_minute_per_ip, MINUTE_S, clock)

    def check(self, client: Client, load: Load, admin: bool = False, runs: int = 1) -> Refusal | None:
        """Why this client may not start a request of `runs` runs now (a run, or a sweep's points), or None.
        The admin is held only to the queue's length."""
        s = self.settings
        if load.would_wait and load.queued + load.would_wait > s.max_queued_runs:
            # No way to know when a slot frees: a run lasts up to the time limit, most far less.
            retry = whole_seconds(min(s.run_timeout_s, 30))
            if runs == 1:
                message = f"the queue is full ({s.max_queued_runs} runs waiting, max_queued_runs): try again in {retry} s"
            else:
                message = (f"the queue cannot hold this sweep: {load.would_wait} of its {runs} runs would wait "
                           f"behind the {load.queued} waiting, and it holds {s.max_queued_runs} (max_queued_runs): "
                           f"try again in {retry} s, or sweep fewer points")
            return Refusal("max_queued_runs", s.max_queued_runs, retry, message)
        if admin:
            return None
        if load.in_flight_of_client >= s.max_runs_in_flight_per_client:
            retry = whole_seconds(min(s.run_timeout_s, 10))
            return Refusal("max_runs_in_flight_per_client", s.max_runs_in_flight_per_client, retry,
                           f"you already have {load.in_flight_of_client} runs queued or running, a sweep counting as one "
                           f"(max_runs_in_flight_per_client = {s.max_runs_in_flight_per_client}): "
                           f"try again when one ends, in about {retry} s, or cancel one")
        for window, key, name, who in ((self.per_client, client.id, "max_runs_per_minute_per_client", "you"),
                                       (self.per_ip, client.ip, "max_runs_per_minute_per_ip", "your IP address")):
            wait = window.retry_after(key)
            if wait > 0:
                retry = whole_seconds(wait)
                return Refusal(name, window.limit, retry,
                               f"{who} started {window.limit} runs in the last minute ({name} = {window.limit}): "
                               f"try again in {retry} s")
        return None

    def record(self, client: Client) -> None:
        """Count a request that was started: a run, or a sweep (once, however many runs)."""
        self.per_client.record(client.id)
        self.per_ip.record(client.ip)
