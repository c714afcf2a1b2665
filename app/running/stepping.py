"""Stepping a race: each request replays its schedule in a fresh child process of the chosen interpreter.

The controller (experiments/harness/stepper.py) starts the experiment's threads and steps them by the
schedule from the start: one short child per request (some 0.1-0.5 s), never a child kept per
student. The schedule is the whole state, so replay is exact (Undo is a shorter schedule, a shared
link shows the same state) and there is nothing to expire, leak or take over: a student's page
holds no process between clicks, and a link opened by another student replays in that student's
own child.

Fair use: children at once are bounded by `max_concurrent_runs`, each client has at most one at a
time, opening a stepping session (a first page without a schedule) and a search ("find one for me",
seconds of CPU) count as a run in the client's per-minute limits, and every child is killed
(its whole process group) past its time limit or when its request is abandoned.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Awaitable, Callable

from app import ROOT
from app.model.schedules import StepAnswer, StepRequest
from app.running import pythons
from app.running.limits import Client, Refusal
from app.running.pythons import Interpreter
from app.running.runners import runner_env
from experiments.harness.preemption import SEARCH_BUDGET_S

# A replay of the longest schedule is well under a second even on a busy machine; a search is bounded
# by its budget inside the child.
REPLAY_TIMEOUT_S = 20.0
SEARCH_TIMEOUT_S = SEARCH_BUDGET_S + 20.0
SLOT_WAIT_S = 10.0


class StepFailed(Exception):
    """The child did not answer: its message says why (a timeout, an exit, unreadable output)."""


class Stepping:
    def __init__(
        self,
        interpreters: tuple[Interpreter, ...],
        children: int,
        count_run: Callable[[Client, bool], Awaitable[Refusal | None]],
    ):
        self.interpreters = interpreters
        self.slots = asyncio.Semaphore(children)
        self.children = children
        # Counts a run in the client's per-minute limits (app/running/limits.py), the admin's too, unchecked.
        self.count_run = count_run
        self.busy: set[str] = set()  # clients with a child now

    def interpreter(self, key: str) -> Interpreter | None:
        return next((i for i in self.interpreters if i.key == key), None)

    async def answer(
        self, request: StepRequest, client: Client, counts: bool, admin: bool = False
    ) -> StepAnswer | Refusal:
        """The controller's answer to `request` for `client`, or why the limits refuse it. `counts`: it opens a
        stepping session or searches, and counts as a run in the client's per-minute limits (the admin is
        held to none, as for runs)."""
        if client.id in self.busy:
            return Refusal(
                "stepping", 1, 1, "you are already stepping a race (one step at a time): try again in a second"
            )
        if counts:
            refusal = await self.count_run(client, admin)
            if refusal is not None:
                return refusal
        self.busy.add(client.id)
        try:
            try:
                await asyncio.wait_for(self.slots.acquire(), SLOT_WAIT_S)
            except TimeoutError:
                return Refusal(
                    "max_concurrent_runs",
                    self.children,
                    5,
                    f"{self.children} races are being stepped right now (max_concurrent_runs): try again in 5 s",
                )
            try:
                return await self._child(request)
            finally:
                self.slots.release()
        finally:
            self.busy.discard(client.id)

    async def _child(self, request: StepRequest) -> StepAnswer:
        python = pythons.path_of(self.interpreters, {pythons.PARAM_NAME: request.python})
        timeout = SEARCH_TIMEOUT_S if request.find else REPLAY_TIMEOUT_S
        proc = await asyncio.create_subprocess_exec(
            python,
            "-m",
            "experiments.harness.stepper",
            cwd=ROOT,
            env=runner_env(),
            start_new_session=True,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(json.dumps(request.to_json()).encode()), timeout)
        except TimeoutError:
            raise StepFailed(f"the stepper on {request.python} did not answer in {timeout:.0f} s") from None
        finally:
            if proc.returncode is None:  # timed out, or the request was abandoned: the child's whole group goes
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                await proc.wait()
        if proc.returncode != 0:
            raise StepFailed(
                f"the stepper on {request.python} exited with {proc.returncode}: "
                f"{err.decode(errors='replace').strip()[-500:]}"
            )
        try:
            answer = json.loads(out)
        except ValueError:
            raise StepFailed(f"the stepper on {request.python} answered unreadably: {out[:200]!r}") from None
        if answer.get("errors"):
            raise StepFailed("; ".join(answer["errors"]))
        result: StepAnswer = answer
        return result
