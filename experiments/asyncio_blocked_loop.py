"""One task calls a blocking function inside the event loop: every other task stops until it returns."""
from __future__ import annotations

import asyncio
import time

from experiments.harness.params import Choice, Int

ID = "asyncio-blocked-loop"
TITLE = "A blocking call stops the event loop"
SUMMARY = "A task calls time.sleep (or computes) inside the loop: no other task runs until it returns; to_thread fixes it."
KIND = "threads"
# Its lesson is how long the other tasks were held up: executes alone.
MEASURES_TIME = True
NOTICE = (
    "The tickers await a short sleep again and again: a run span on their lanes each time the loop "
    "gives them a step. Then the blocker calls the blocking function directly, inside its own step: "
    "its run span stretches over the whole call, and on every other task's lane there is no run span "
    "under it, only a wait that lasts too long. One thread runs every task, and a task gives it back only "
    "at an await. With variant=fixed the blocker awaits asyncio.to_thread(...): the call runs on a "
    "thread of the loop's pool (its own lane), the blocker waits in `await to_thread`, and the "
    "tickers keep ticking."
)
EXPECTED = "blocked: blocked_ms close to block_ms, no ticker step during the call; fixed: blocked_ms near tick_ms, ticks during the call."
PARAMS = (
    Choice("variant", "blocked", ("blocked", "fixed"), "blocked: call it in the task; fixed: await asyncio.to_thread"),
    Choice("call", "time.sleep", ("time.sleep", "cpu"), "what blocks: time.sleep, or a CPU-bound loop"),
    Int("block_ms", 500, 50, 5000, "how long the blocking call takes"),
    Int("tickers", 3, 1, 8, "tasks that tick while it runs"),
    Int("tick_ms", 50, 10, 1000, "each ticker awaits asyncio.sleep this long between ticks"),
)
FIXED_VARIANT = {"params": {"variant": "fixed"}}


def crunch(seconds):
    """CPU-bound: counts until `seconds` have passed (a computation that long)."""
    end, n = time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        n += 1
    return n


def blocking(rec, call, seconds):
    with rec.activity(f"{call}({seconds})", "sleep" if call == "time.sleep" else "run"):
        if call == "time.sleep":
            time.sleep(seconds)
        else:
            crunch(seconds)


async def ticker(tick_s, ticks, done):
    while not done.is_set():
        await asyncio.sleep(tick_s)
        ticks.append(time.perf_counter())


async def blocker(rec, params, block_s, tick_s, ran):
    call = params["call"]
    await asyncio.sleep(tick_s * 3)  # the tickers tick a few times first
    start = time.perf_counter()
    if params["variant"] == "fixed":
        await asyncio.to_thread(blocking, rec, call, block_s)
    else:
        blocking(rec, call, block_s)  # the whole loop waits here
    ran.append((start, time.perf_counter()))
    await asyncio.sleep(tick_s * 3)  # and a few ticks after


async def main(rec, params, ticks, ran):
    tick_s, block_s = params["tick_ms"] / 1000, params["block_ms"] / 1000
    done = asyncio.Event()
    tickers = [asyncio.create_task(ticker(tick_s, ticks, done), name=f"ticker-{i + 1}")
               for i in range(params["tickers"])]
    await asyncio.create_task(blocker(rec, params, block_s, tick_s, ran), name="blocker")
    done.set()
    await asyncio.gather(*tickers)


def run(params, rec):
    ticks: list[float] = []
    ran: list[tuple[float, float]] = []
    rec.asyncio_run(main(rec, params, ticks, ran))
    (start, end), ticks = ran[0], sorted(ticks)
    # How long the loop went without giving a ticker a step, from the call's start until a step after it.
    during = [start] + [t for t in ticks if start < t < end] + [min([t for t in ticks if t >= end] or [end])]
    blocked = max(b - a for a, b in zip(during, during[1:]))
    return {"call_ms": round((end - start) * 1000, 1), "blocked_ms": round(blocked * 1000, 1),
            "ticks_during_call": sum(start < t < end for t in ticks), "ticks": len(ticks)}


def findings(params, result, python):
    """What this run showed: how long the tickers went without a step while the call ran."""
    from experiments.harness.wording import ms, plural

    call = f"{params['call']}({params['block_ms'] / 1000})" if params["call"] == "time.sleep" else "the CPU-bound loop"
    n, blocked, tick = result["ticks_during_call"], result["blocked_ms"], params["tick_ms"]
    if params["variant"] == "fixed":
        return [f"The blocker awaited asyncio.to_thread: {call} ran on another thread for {ms(result['call_ms'])}, "
                f"and the tickers ticked {plural(n, 'time')} meanwhile.",
                f"The longest the loop went without giving a ticker a step while the call ran was {ms(blocked)}, "
                f"about the {tick} ms sleep the tickers await anyway: the loop was not blocked."]
    return [f"The blocker called {call} inside its step: for {ms(result['call_ms'])} the loop's one thread was in "
            f"that call, and the tickers ticked {plural(n, 'time')} meanwhile.",
            f"The loop was blocked for {ms(blocked)}: that long no ticker, due every {tick} ms, got a step."]


def verdict(params, result, python):
    """The lesson, judged by this run: a blocking call in a task stops every task; to_thread does not."""
    from experiments.harness.wording import ms

    blocked, call = result["blocked_ms"], result["call_ms"]
    if params["variant"] == "fixed":
        if blocked < call / 2:
            return True, (f"With to_thread no ticker waited more than {ms(blocked)} for a step during a {ms(call)} "
                          "call: the other tasks kept running.")
        return False, f"Even with to_thread the tickers went {ms(blocked)} without a step this time."
    if blocked >= call / 2:
        return True, (f"The loop was blocked for {ms(blocked)} while one task was in a {ms(call)} call: "
                      "no other task ran.")
    return False, f"The tickers went only {ms(blocked)} without a step during the {ms(call)} call this time."
