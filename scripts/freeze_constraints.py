"""Print constraints.txt: the version installed here of everything serving needs (no test or bench tools).

Walks the requirements of the `concurrency-lab` distribution (without its extras) through the
installed packages' metadata, with the extras each one asks of the next (uvicorn[standard]),
under this interpreter's markers (the Docker image's Python, 3.11 on Linux). `make constraints`
runs it in a fresh venv holding the newest versions (docs/hosting.md, "What the image installs").
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, distribution
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # mypy reads packaging's types; pip's vendored copy is the same code, untyped
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
else:
    try:
        from packaging.requirements import Requirement
        from packaging.utils import canonicalize_name
    except ImportError:  # a venv with only what serving needs: pip's own copy
        from pip._vendor.packaging.requirements import Requirement
        from pip._vendor.packaging.utils import canonicalize_name

ROOT = "concurrency-lab"


def wanted(requirement: Requirement, extras: frozenset[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in (extras or {""}))


def closure(root: str) -> dict[str, str]:
    """{distribution name: installed version} of `root`'s requirements, transitively."""
    pins: dict[str, str] = {}
    todo: list[tuple[str, frozenset[str]]] = [(root, frozenset())]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            sys.exit(f"{name} is required but not installed here: pip install -e . first")
        if name != root:
            pins[dist.metadata["Name"]] = dist.version
        for line in dist.requires or ():
            requirement = Requirement(line)
            if wanted(requirement, extras):
                todo.append((canonicalize_name(requirement.name), frozenset(requirement.extras)))
    return pins


def main() -> None:
    pins = closure(ROOT)
    print("# What serving needs, pinned: `make run`, `make test` and the Dockerfile install with `-c constraints.txt`,")
    print(f"# so an image built later is the one tested now. Python {sys.version.split()[0]} on {sys.platform}.")
    print("# Made by scripts/freeze_constraints.py; refresh it with `make constraints` (docs/hosting.md).")
    for name in sorted(pins, key=str.lower):
        print(f"{name}=={pins[name]}")


if __name__ == "__main__":
    main()
