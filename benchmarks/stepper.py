"""The race stepper's answer times: a replay per click, a search per "find one for me", per interpreter.

    .venv/bin/python -m benchmarks.stepper [--quick] [--repeat N]

Each request is what the page asks (app/running/stepping.py): a fresh child of the interpreter that
replays the schedule, or searches. Wall time of the whole request (child start included), median of N,
for race-counter and lock-counter at the page's defaults (2 threads, 2 iterations), window=call.
The issue's target: a click answers in well under a second, a search "within a few seconds".
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time

from benchmarks.serve import header


async def _free(client: object, admin: bool) -> None:
    return None


def timed(stepping: object, request: object, repeat: int) -> tuple[float, object]:
    from app.running.limits import Client

    times, answer = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        answer = asyncio.run(stepping.answer(request, Client("bench", "127.0.0.1"), counts=False))  # type: ignore[attr-defined]
        times.append(time.perf_counter() - started)
    return statistics.median(times), answer


def main(argv: list[str]) -> None:
    from app.model.schedules import StepRequest
    from app.running import pythons
    from app.running.stepping import Stepping

    parser = argparse.ArgumentParser(prog="benchmarks.stepper")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    offered = pythons.offered(sys.executable, [])
    chosen = offered[:1] if args.quick else offered
    repeat = 1 if args.quick else args.repeat
    stepping = Stepping(offered, 1, _free)
    print(header(f"median of {repeat}, wall time per request (child start included); a busy machine is noisy"))
    print("\n| interpreter | empty replay s | 40-step replay s | find race s | find lock s | find race / replay |")
    print("| --- | --- | --- | --- | --- | --- |")
    for interpreter in chosen:

        def ask(experiment: str, schedule: tuple[int, ...] = (), find: bool = False) -> StepRequest:
            return StepRequest(experiment, "call", 2, 2, interpreter.key, schedule, None, find)  # noqa: B023 (this iteration's)

        empty, _ = timed(stepping, ask("race-counter"), repeat)
        longer, _ = timed(stepping, ask("race-counter", (0,) * 20 + (1,) * 20), repeat)
        race, _ = timed(stepping, ask("race-counter", find=True), repeat)
        lock, _ = timed(stepping, ask("lock-counter", find=True), repeat)
        print(
            f"| {interpreter.label} | {empty:.2f} | {longer:.2f} | {race:.2f} | {lock:.2f} | {race / empty:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
