"""Parameter specs for experiments and their validation: plain data, plain functions.

Shared by the runner (which re-checks what it is given) and the server (which turns a
bad request into a 422 that names the parameter, its bounds and the value received).
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any, Mapping, Sequence

# A named tuple, not a dataclass: every spawned child of an experiment imports this module, and
# dataclasses would bring inspect, ast and dis along, tens of milliseconds of start-up per child.
_ParamFields = namedtuple("_ParamFields", "name type default help min max choices labels refused",
                          defaults=("", None, None, (), (), ()))


class Param(_ParamFields):
    """One parameter: `name`, `type` ("int" or "choice"), `default`, `help`, and `min`/`max` (int) or
    `choices` (with `labels`, the words a form shows for them, if they are not the choices themselves), and
    `refused`: (value, why) pairs, values known but not allowed here (an interpreter that cannot run it)."""

    __slots__ = ()

    def bounds(self) -> str:
        """The rule a value must follow, in words, for error messages."""
        if self.type == "int":
            return f"an integer from {self.min} to {self.max}"
        return "one of " + ", ".join(repr(c) for c in self.choices)

    def describe(self) -> dict[str, Any]:
        """The JSON shape of `GET /api/experiments`."""
        out: dict[str, Any] = {"type": self.type, "default": self.default, "min": self.min, "max": self.max}
        if self.choices:
            out["choices"] = list(self.choices)
        if self.labels:
            out["labels"] = dict(zip(self.choices, self.labels))
        if self.help:
            out["help"] = self.help
        if self.refused:
            out["refused"] = dict(self.refused)
        return out


def Int(name: str, default: int, min: int, max: int, help: str = "") -> Param:
    assert min <= default <= max, f"{name}: default {default} outside {min}..{max}"
    return Param(name, "int", default, help, min=min, max=max)


def Choice(name: str, default: str, choices: Sequence[str], help: str = "", labels: Sequence[str] = (),
           refused: Sequence[tuple[str, str]] = ()) -> Param:
    assert default in choices, f"{name}: default {default!r} not in {choices}"
    assert not labels or len(labels) == len(choices), f"{name}: one label per choice"
    return Param(name, "choice", default, help, choices=tuple(choices), labels=tuple(labels), refused=tuple(refused))


class ParamError(ValueError):
    """Raised with one message per bad parameter."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


def shown(value: Any) -> str:
    """A value as an error message quotes it: a number that is not finite as the JSON word that made it
    (Python reads `NaN`, `Infinity` and a float beyond a double's range, `1e400`, as nan and inf)."""
    if isinstance(value, float) and value != value:
        return "NaN"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "Infinity (or a number too large for a float)" if value > 0 else "-Infinity (or a number too large for a float)"
    return repr(value)


def _check(spec: Param, value: Any) -> str | None:
    if spec.type == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
        if ok and spec.min is not None and spec.max is not None and spec.min <= value <= spec.max:
            return None
    elif isinstance(value, str) and value in spec.choices:
        return None
    why = dict(spec.refused).get(value) if isinstance(value, str) else None
    if why:
        return f"{spec.name}: {value!r} cannot run this experiment: {why}; must be {spec.bounds()}"
    return f"{spec.name}: must be {spec.bounds()}, got {shown(value)}"


def validate(specs: Sequence[Param], raw: Mapping[str, Any]) -> dict[str, Any]:
    """Every param of its type and within its bounds (one left out takes its default), and no unknown ones."""
    known = {p.name for p in specs}
    errors = [
        f"{name}: unknown parameter (known: {', '.join(sorted(known))})" for name in raw if name not in known
    ]
    for spec in specs:
        if spec.name not in raw:
            continue
        problem = _check(spec, raw[spec.name])
        if problem:
            errors.append(problem)
    if errors:
        raise ParamError(errors)
    return {spec.name: raw.get(spec.name, spec.default) for spec in specs}


def from_form(specs: Sequence[Param], form: Mapping[str, str]) -> dict[str, Any]:
    """HTML forms send strings: turn integer fields into ints where they parse, leave the rest for validate()."""
    out: dict[str, Any] = dict(form)
    for spec in specs:
        value = out.get(spec.name)
        if spec.type == "int" and isinstance(value, str):
            try:
                out[spec.name] = int(value.strip())
            except ValueError:
                pass
    return out


def defaults(specs: Sequence[Param]) -> dict[str, Any]:
    return {spec.name: spec.default for spec in specs}
