"""The race stepper's page, as data: each thread's bytecode column, its state, what the last step did,
the switches the schedule makes and whether the interpreter could make them. Pure.

Every sentence is computed from the controller's answer (app/model/schedules.py), that is from the
interpreter that ran the threads: its `dis`, its counter, its lock.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.model.schedules import StepAnswer, StepInstruction, StepState, encode, runs

NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def words(n: int, noun: str) -> str:
    return f"{NUMBERS[n] if 0 <= n < len(NUMBERS) else n} {noun}{'' if n == 1 else ('es' if noun.endswith(('ch', 's')) else 's')}"


@dataclass(frozen=True)
class Row:
    offset: int
    line: int | None  # shown on the instruction that starts a source line
    text: str
    role: str
    switch: bool
    current: bool


@dataclass(frozen=True)
class Column:
    index: int  # 0-based
    name: str  # "thread 1"
    kind: str  # increment / decrement
    function: str
    rows: tuple[Row, ...]
    status: str  # ready / waiting / done
    says: str  # where it is, or why it cannot go on
    holds: str  # what it read and has not written back, if anything
    can_step: bool


@dataclass(frozen=True)
class Switch:
    step: int  # 1-based: the step that switched
    before: int  # threads, 0-based
    after: int
    instruction: str  # the last instruction the thread switched away from executed
    kind: str  # "forced" or "never"


@dataclass(frozen=True)
class Page:
    python: str
    rule_says: str
    columns: tuple[Column, ...]
    step: int
    counter: int
    expected: int
    lost: int
    owner: int | None
    last: tuple[str, ...]  # what the last step did
    log: tuple[tuple[int, str], ...]  # every read, write, lock and loss so far: (step, sentence)
    switches: tuple[Switch, ...]
    never: int  # switches this interpreter never makes
    schedule: str  # for the URL
    schedule_says: str
    refused: str
    found_says: str
    finished: bool


def _text(ins: StepInstruction) -> str:
    return f"{ins['opname']} {ins['argrepr']}".rstrip()


def rule_says(answer: StepAnswer) -> str:
    py = answer["python"]
    name = f"Python {py['version']}{' (free-threaded)' if py['free_threaded'] else ''}"
    if py["free_threaded"]:
        return (
            f"On {name} threads run at the same time, on several cores: any interleaving of their "
            "instructions can happen, so a switch can come after any instruction (each is marked ⇄)."
        )
    if py["rule"] == "any":
        return (
            f"{name} may switch threads between almost any two instructions when its switch interval "
            "expires: each is marked ⇄ (its eval loop skips the check after a few simple ones, such as "
            "LOAD_FAST and LOAD_CONST, which the marks do not tell apart)."
        )
    return (
        f"{name} switches threads only where its eval loop checks for a switch request: after the "
        "instructions marked ⇄ (a call, the function's entry, a jump back to the loop's start). A schedule "
        "that switches anywhere else shows a switch this interpreter never makes."
    )


def _column(answer: StepAnswer, state: StepState, index: int) -> Column:
    function = answer["functions"][index % len(answer["functions"])]
    thread = state["threads"][index]
    at = thread["at"]
    by_offset = {ins["offset"]: ins for ins in function["instructions"]}
    rows = tuple(
        Row(
            ins["offset"],
            ins["line"] if ins["line_start"] else None,
            _text(ins),
            ins["role"],
            ins["switch"],
            ins["offset"] == at,
        )
        for ins in function["instructions"]
    )
    name = f"thread {index + 1}"
    if thread["status"] == "done":
        says = f"{name} has finished."
    elif thread["status"] == "waiting":
        owner = thread["waits_for"]
        holder = f"thread {owner + 1}" if owner is not None else "another thread"
        says = f"{name} waits for the lock, which {holder} holds: it cannot go on until {holder} releases it."
    else:
        ins = by_offset.get(at) if at is not None else None
        says = f"{name} executes {_text(ins)} next (offset {at})." if ins else f"{name} is ready."
    holds = f"{name} read {thread['loaded']} and has not written it back yet." if thread["loaded"] is not None else ""
    return Column(
        index,
        name,
        answer["kinds"][index],
        function["name"],
        rows,
        thread["status"],
        says,
        holds,
        thread["status"] == "ready",
    )


def _switches(answer: StepAnswer) -> tuple[Switch, ...]:
    """The forced switches: steps of another thread while the one stepped before could have gone on."""
    states = answer["states"]
    found = []
    for k in range(2, len(states)):
        did, before = states[k]["did"], states[k - 1]["did"]
        if did is None or before is None or not did["switch"]:
            continue
        function = answer["functions"][before["thread"] % len(answer["functions"])]
        ins = next((i for i in function["instructions"] if i["offset"] == before["offset"]), None)
        found.append(Switch(k, before["thread"], did["thread"], _text(ins) if ins else "", did["switch"]))
    return tuple(found)


def _schedule_says(schedule: list[int]) -> str:
    if not schedule:
        return "No step yet: every thread waits before its first instruction."
    return (
        "Thread "
        + ", then thread ".join(f"{t + 1} for {n} instruction{'' if n == 1 else 's'}" for t, _, n in runs(schedule))
        + "."
    )


def _found_says(answer: StepAnswer, python: str) -> str:
    found = answer["found"]
    if found is None:
        return ""
    schedule = found.get("found")
    if schedule:
        n = found.get("preemptions", 0)
        said = (
            f"Found: {words(len(schedule), 'step')} with {words(n, 'forced switch')} lose an update "
            f"(the shortest such, among {found.get('tried', 0)} schedules tried)."
        )
        if found.get("never"):
            said += (
                f" It needs a switch {python} never makes: on this interpreter a run does not lose updates this way."
            )
        return said
    bound = found.get("bound", 0)
    if not found.get("complete", True):
        return (
            f"No schedule found that loses an update in the time allowed ({found.get('tried', 0)} schedules "
            f"tried, with up to {words(max(bound, 0), 'forced switch')})."
        )
    return (
        f"None exists: no schedule with at most {words(bound, 'forced switch')} loses an update "
        f"({found.get('tried', 0)} schedules tried)."
    )


def page(answer: StepAnswer, index: int | None = None) -> Page:
    """The page after `index` steps (default: all of the answer's schedule)."""
    states = answer["states"]
    k = len(states) - 1 if index is None else max(0, min(index, len(states) - 1))
    state = states[k]
    schedule = answer["schedule"][:k]
    py = answer["python"]
    python = f"Python {py['version']}{' (free-threaded)' if py['free_threaded'] else ''}"
    log = tuple((s["step"], said) for s in states[1 : k + 1] if s["did"] for said in s["did"]["said"])
    switches = tuple(s for s in _switches(answer) if s.step <= k)
    refused = answer["refused"]
    return Page(
        python=python,
        rule_says=rule_says(answer),
        columns=tuple(_column(answer, state, i) for i in range(len(state["threads"]))),
        step=k,
        counter=state["counter"],
        expected=answer["expected"],
        lost=state["lost"],
        owner=state["owner"],
        last=tuple(state["did"]["said"]) if state["did"] else (),
        log=log,
        switches=switches,
        never=sum(1 for s in switches if s.kind == "never"),
        schedule=encode(schedule),
        schedule_says=_schedule_says(schedule),
        refused=f"Step {refused['at'] + 1} was not taken: {refused['why']}." if refused else "",
        found_says=_found_says(answer, python),
        finished=all(t["status"] == "done" for t in state["threads"]),
    )
