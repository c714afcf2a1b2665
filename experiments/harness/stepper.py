"""The race stepper's controller: race-counter's or lock-counter's threads, one bytecode instruction at a time.

Runs inside the interpreter a student chose (3.9 to free-threaded 3.13t), so it is stdlib only and
derives everything from that interpreter's own `dis`: the instructions, their lines, which one reads
or writes the shared counter, which one takes the lock, and where the interpreter could switch threads.

Each thread runs the experiment's own function, parked before each of its instructions until the
controller lets it execute exactly that one (experiments/harness/baton.py). A thread whose next instruction
would block on the lock is not stepped: it is reported waiting, and the lock's owner named. Here: what
each step read, wrote and lost, and replay of a schedule; "find one for me" is experiments/harness/preemption.py.

Run as `python -m experiments.harness.stepper` with a JSON request on stdin; prints one JSON answer (see `answer`).
"""
from __future__ import annotations

import dis
import importlib
import json
import sys
import threading
from dataclasses import asdict, dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple, cast

from experiments.harness.baton import Stuck, Threads, Worker
from experiments.harness.preemption import find

EXPERIMENTS = ("race-counter", "lock-counter")
WINDOWS = ("none", "call")
MIN_THREADS, MAX_THREADS = 2, 4
MIN_ITERATIONS, MAX_ITERATIONS = 1, 5
MAX_STEPS = 1000  # 4 threads x 5 iterations of the longest loop (3.9's `with lock:` window) is under 600
# `with lock:` calls lock.__enter__ in this instruction (3.9-3.10, 3.11-3.13): it blocks while another holds the lock.
WITH_ENTRY = ("SETUP_WITH", "BEFORE_WITH")
NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


@dataclass(frozen=True)
class Instruction:
    offset: int
    opname: str
    argrepr: str
    line: Optional[int]
    line_start: bool
    role: str  # "load" / "store" of the shared counter, "acquire" (`with lock:`), or ""
    switch: bool  # whether this interpreter, scheduling normally, may switch threads right after it


def switch_rule() -> str:
    """Where this interpreter may switch threads: "any" (between any two instructions: CPython 3.9,
    and a free-threaded build, whose threads run at once) or "checks" (3.10+ with the GIL: only
    where the eval loop looks at a switch request)."""
    if sys.version_info < (3, 10):
        return "any"
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    return "checks" if gil else "any"


def checks_for_switch(ins: dis.Instruction) -> bool:
    """Whether the eval loop (3.10+) looks at a switch request at this instruction, from what it does:
    a call (the callee's entry or the call's end), the function's entry, or a jump backwards (a loop
    going round; not the NO_INTERRUPT ones that `yield from`/`await` use)."""
    name = ins.opname
    if name == "RESUME" or (name.startswith("CALL") and not name.startswith("CALL_INTRINSIC")):
        return True
    return ("JUMP" in name and "NO_INTERRUPT" not in name and isinstance(ins.argval, int)
            and ins.argval <= ins.offset)


def instructions(function: Callable[..., Any], rule: str) -> List[Instruction]:
    """The function's instructions as this interpreter's `dis` gives them, each with its part in the race."""
    found = list(dis.get_instructions(function))
    shared = {i.argval for i in found if i.opname == "STORE_GLOBAL"}
    listed = []
    line = None
    for ins in found:
        if isinstance(ins.starts_line, bool):  # 3.13: a flag, the number in line_number
            start, line = ins.starts_line, getattr(ins, "line_number", None)
        else:
            start = ins.starts_line is not None
            line = ins.starts_line if start else line
        role = ""
        if ins.opname == "LOAD_GLOBAL" and ins.argval in shared:
            role = "load"
        elif ins.opname == "STORE_GLOBAL" and ins.argval in shared:
            role = "store"
        elif ins.opname in WITH_ENTRY:
            role = "acquire"
        listed.append(Instruction(ins.offset, ins.opname, ins.argrepr, line, start, role,
                                  rule == "any" or checks_for_switch(ins)))
    return listed


def words(n: int, noun: str) -> str:
    return f"{NUMBERS[n] if n < len(NUMBERS) else n} {noun}{'' if n == 1 else ('es' if noun.endswith(('ch', 's')) else 's')}"


# --- one stepping of the experiment: threads, counter, lock, and what each step did ------------------------

@dataclass
class Write:
    thread: int
    value: int


class Race:
    """The experiment's threads stepped by a schedule, and the ledger of what they read, wrote and lost."""

    def __init__(self, experiment: str, window: str, threads: int, iterations: int):
        self.module: Any = cast(Any, importlib.import_module("experiments." + experiment.replace("-", "_")))  # its `counter`
        names = ("increment", "decrement") if window == "none" else ("increment_with_window", "decrement_with_window")
        self.functions = [getattr(self.module, name) for name in names]
        self.lock = threading.Lock() if experiment == "lock-counter" else None
        self.rule = switch_rule()
        self.listings = [instructions(f, self.rule) for f in self.functions]
        self.by_offset = [{i.offset: i for i in listing} for listing in self.listings]
        self.kinds = [("increment" if i % 2 == 0 else "decrement") for i in range(threads)]
        self.expected = ((threads + 1) // 2 - threads // 2) * iterations
        args: Tuple[Any, ...] = (iterations,) if self.lock is None else (self.lock, iterations)
        self.module.counter = 0
        self.threads = Threads([Worker(i, self.functions[i % 2], args) for i in range(threads)])
        self.loaded: List[Optional[Tuple[int, int]]] = [None] * threads  # (value read, writes seen then)
        self.writes: List[Write] = []
        self.owner: Optional[int] = None
        self.lost = 0
        self.schedule: List[int] = []
        self.last: List[Optional[Instruction]] = [None] * threads  # the instruction each executed last
        self.threads.start()

    # What each thread is doing now.
    def next_instruction(self, index: int) -> Optional[Instruction]:
        w = self.threads.workers[index]
        return None if w.done or w.at is None else self.by_offset[index % 2].get(w.at)

    def waits_for(self, index: int) -> Optional[int]:
        """The owner of the lock, if this thread's next instruction would block taking it."""
        ins = self.next_instruction(index)
        if ins is not None and ins.role == "acquire" and self.lock is not None and self.lock.locked():
            return self.owner
        return None

    def status(self, index: int) -> str:
        if self.threads.workers[index].done:
            return "done"
        return "waiting" if self.waits_for(index) is not None else "ready"

    def runnable(self) -> List[int]:
        return [i for i in range(len(self.threads.workers)) if self.status(i) == "ready"]

    def refusal(self, index: int) -> Optional[str]:
        """Why this thread cannot be stepped now (None: it can)."""
        if not 0 <= index < len(self.threads.workers):
            return f"there is no thread {index + 1}"
        status = self.status(index)
        if status == "done":
            return f"thread {index + 1} has finished"
        if status == "waiting":
            return f"thread {index + 1} waits for the lock, which thread {self.waits_for(index) + 1} holds"  # type: ignore[operator]
        if len(self.schedule) >= MAX_STEPS:
            return f"a schedule has at most {MAX_STEPS} steps"
        return None

    def switch(self, index: int) -> str:
        """What a step of this thread is, as a switch: "" (no switch, or the last thread could not go on),
        "forced" (a preemption the interpreter could make here), "never" (one it never makes here)."""
        if not self.schedule or self.schedule[-1] == index:
            return ""
        previous = self.schedule[-1]
        if self.status(previous) != "ready":
            return ""  # it finished or waits for the lock: any interpreter switches then
        last = self.last[previous]
        return "forced" if last is None or last.switch else "never"

    def step(self, index: int) -> Dict[str, Any]:
        """Execute one instruction of this thread (it must be able to go: see `refusal`); what it did."""
        ins = self.next_instruction(index)
        assert ins is not None
        switch = self.switch(index)
        before = self.module.counter
        self.threads.step(index)
        after = self.module.counter
        self.schedule.append(index)
        self.last[index] = ins
        said = []
        name = f"thread {index + 1}"
        if ins.role == "load":
            self.loaded[index] = (before, len(self.writes))
            said.append(f"{name} read {before}")
        elif ins.role == "store":
            seen = self.loaded[index][1] if self.loaded[index] is not None else len(self.writes)  # type: ignore[index]
            over = [w for w in self.writes[seen:] if w.thread != index]
            self.writes.append(Write(index, after))
            self.loaded[index] = None
            if over:
                self.lost += len(over)
                kinds = {self.kinds[w.thread] for w in over}
                what = words(len(over), kinds.pop() if len(kinds) == 1 else "update")
                overwritten = " and ".join(f"thread {w.thread + 1}'s {w.value}" for w in over)
                said.append(f"{name} wrote {after} over {overwritten}: {what} lost")
            else:
                said.append(f"{name} wrote {after}")
        if self.lock is not None:
            if ins.role == "acquire" and self.lock.locked() and self.owner is None:
                self.owner = index
                said.append(f"{name} took the lock")
            elif self.owner == index and not self.lock.locked():
                self.owner = None
                said.append(f"{name} released the lock")
        error = self.threads.workers[index].error
        if error:
            said.append(f"{name} failed: {error}")
        return {"thread": index, "offset": ins.offset, "switch": switch, "said": said}

    def state(self, did: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        threads = []
        for i, w in enumerate(self.threads.workers):
            loaded = self.loaded[i]
            threads.append({"at": w.at, "status": self.status(i), "loaded": loaded[0] if loaded else None,
                            "waits_for": self.waits_for(i)})
        return {"step": len(self.schedule), "did": did, "counter": self.module.counter, "lost": self.lost,
                "owner": self.owner, "threads": threads}

    def stop(self) -> None:
        self.threads.stop()
        self.module.counter = 0


# --- moves, replay and search -------------------------------------------------------------------------------

def replay(race: Race, schedule: List[int], then: Optional[Tuple[int, str]] = None) -> Dict[str, Any]:
    """Step `schedule` from the start (then the move `then`); each state, and the first step refused."""
    states = [race.state()]
    refused = None
    for k, thread in enumerate(schedule):
        why = race.refusal(thread)
        if why is not None:
            refused = {"at": k, "thread": thread, "why": why}
            break
        states.append(race.state(race.step(thread)))
    if refused is None and then is not None:
        thread, until = then
        why = race.refusal(thread)
        if why is not None:
            refused = {"at": len(race.schedule), "thread": thread, "why": why}
        while why is None:
            did = race.step(thread)
            states.append(race.state(did))
            ins = race.next_instruction(thread)
            if until == "instruction" or (until == "line" and ins is not None and ins.line_start):
                break
            why = race.refusal(thread)
    return {"schedule": list(race.schedule), "states": states, "refused": refused}


def describe(race: Race) -> Dict[str, Any]:
    return {
        "python": {"version": sys.version.split()[0], "free_threaded": switch_rule() == "any" and sys.version_info >= (3, 10),
                   "rule": race.rule},
        "functions": [{"name": f.__name__, "instructions": [asdict(i) for i in listing]}
                      for f, listing in zip(race.functions, race.listings)],
        "expected": race.expected,
        "kinds": race.kinds,
    }


def check(request: Dict[str, Any]) -> List[str]:
    """The request's errors, each naming the field and its bounds (the server checks first: this is the last word)."""
    errors = []
    if request.get("experiment") not in EXPERIMENTS:
        errors.append(f"experiment: one of {', '.join(EXPERIMENTS)}")
    if request.get("window") not in WINDOWS:
        errors.append(f"window: one of {', '.join(WINDOWS)}")
    for name, low, high in (("threads", MIN_THREADS, MAX_THREADS), ("iterations", MIN_ITERATIONS, MAX_ITERATIONS)):
        if not isinstance(request.get(name), int) or not low <= request[name] <= high:
            errors.append(f"{name}: an integer from {low} to {high}")
    schedule = request.get("schedule", [])
    if not isinstance(schedule, list) or len(schedule) > MAX_STEPS or not all(isinstance(t, int) for t in schedule):
        errors.append(f"schedule: a list of at most {MAX_STEPS} thread indices")
    return errors


def answer(request: Dict[str, Any]) -> Dict[str, Any]:
    """Request: experiment, window, threads, iterations, schedule (0-based thread indices), optional
    then = [thread, "instruction" | "line" | "end"], optional find (true: search instead of the schedule).
    Answer: the interpreter, the functions' instructions, the accepted schedule, the state before the first
    step and after each, the step refused (why), and what the search found."""
    errors = check(request)
    if errors:
        return {"errors": errors}

    def make() -> Race:
        return Race(request["experiment"], request["window"], request["threads"], request["iterations"])

    found = None
    schedule = request.get("schedule", [])
    if request.get("find"):
        found = find(make, request["threads"])
        schedule = found["found"] or []
    then = request.get("then")
    race = make()
    try:
        stepped = replay(race, schedule, (int(then[0]), str(then[1])) if then else None)
        return {**describe(race), **stepped, "found": found}
    finally:
        race.stop()


def main() -> None:
    request = json.loads(sys.stdin.read())
    try:
        out = answer(request)
    except Stuck as exc:
        out = {"errors": [f"stuck: {exc}"]}
    sys.stdout.write(json.dumps(out))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
