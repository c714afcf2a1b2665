"""The Bytecode view: `dis` text from the runner, each line tagged with its part in a race. Pure.

The runner disassembles the functions an experiment's workers run, with the interpreter that
runs them, and sends the text in the run's header. Here each instruction line is tagged:
`load` and `store` of a shared global (a name the function stores with STORE_GLOBAL), the
arithmetic (`modify`) between them, and, where the interpreter only looks at switch requests
at certain instructions (CPython 3.10+: calls, function entry, backward jumps), those
instructions: `switch`, or `window` when it sits between the load and the store, where a
switch loses updates. On 3.9 a switch can come between almost any two instructions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.model.documents import HeaderInfo
from experiments.harness import wording

# An instruction line: optional line number, jump-target mark (">>" or "L1:"), optional offset,
# then the opname, its argument and the argument's meaning in parentheses.
INSTRUCTION = re.compile(r"\b([A-Z][A-Z0-9_]{2,})\b(?:\s+-?\d+)?(?:\s+\((.*)\))?\s*$")
MODIFY = re.compile(r"^(BINARY_OP|INPLACE_\w+|BINARY_(ADD|SUBTRACT|MULTIPLY))$")
SWITCH = re.compile(r"^(CALL\w*|RESUME|JUMP_BACKWARD|JUMP_ABSOLUTE)$")  # where 3.10+ checks for a switch


@dataclass(frozen=True, slots=True)
class Line:
    text: str
    role: str = ""  # "load", "modify", "store", "switch", "window" or ""


@dataclass(frozen=True, slots=True)
class Listing:
    function: str
    lines: tuple[Line, ...]
    shared: tuple[str, ...]  # the globals it stores: what other threads see


def switches_only_at_calls_and_jumps(python: str | None) -> bool:
    """CPython 3.10 and later check for a thread switch only at calls and backward jumps (an
    unknown version: as older ones, between almost any two instructions)."""
    return bool(wording.switches_only_at_calls_and_jumps(python))


def _instruction(line: str) -> tuple[str, str] | None:
    found = INSTRUCTION.search(line)
    return (found.group(1), found.group(2) or "") if found else None


def annotate(function: str, text: str, python: str | None) -> Listing:
    instructions = [_instruction(line) for line in text.splitlines()]
    shared = tuple(dict.fromkeys(arg for op, arg in filter(None, instructions) if op == "STORE_GLOBAL"))
    switches = switches_only_at_calls_and_jumps(python)
    lines = []
    loaded = False  # between a load of a shared global and its store: the race window
    for line, instruction in zip(text.splitlines(), instructions):
        role = ""
        if instruction:
            op, arg = instruction
            if op == "LOAD_GLOBAL" and arg in shared:
                role, loaded = "load", True
            elif op == "STORE_GLOBAL" and arg in shared:
                role, loaded = "store", False
            elif loaded and MODIFY.match(op):
                role = "modify"
            elif switches and SWITCH.match(op):
                role = "window" if loaded else "switch"
        lines.append(Line(line, role))
    return Listing(function, tuple(lines), shared)


def listings(header: HeaderInfo | None) -> list[Listing]:
    """The Bytecode view of a run, from its header (empty if the experiment shows none)."""
    if not header or not isinstance(header.get("bytecode"), dict):
        return []
    python = header.get("python")
    return [annotate(name, str(text), python) for name, text in header["bytecode"].items()]
