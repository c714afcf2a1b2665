"""What gets installed: `make run`, `make test` and the Docker image hold to constraints.txt, and it pins
what these tests run against, so an image built later serves the versions tested now."""

from __future__ import annotations

import re
import sys
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement

from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from freeze_constraints import ROOT as PROJECT  # noqa: E402
from freeze_constraints import closure

CONSTRAINTS = ROOT / "constraints.txt"


def pins() -> dict[str, str]:
    found = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, pinned = line.partition("==")
            assert pinned, f"constraints.txt: {line!r} is not pinned with =="
            found[name.lower().replace("_", "-")] = pinned
    return found


def test_constraints_pin_every_package_serving_needs_at_the_version_tested():
    tested = {name.lower().replace("_", "-"): v for name, v in closure(PROJECT).items()}
    assert pins() == tested, "refresh it: `make constraints`, then `make test` (docs/hosting.md)"


def test_every_dependency_in_pyproject_is_pinned_within_its_bounds():
    import tomllib

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pinned = pins()
    for line in declared:
        requirement = Requirement(line)
        name = requirement.name.lower().replace("_", "-")
        assert name in pinned, f"{name} is in pyproject.toml but not in constraints.txt: `make constraints`"
        assert requirement.specifier.contains(pinned[name], prereleases=True)
    assert version("uvicorn") == pinned["uvicorn"]


def test_the_image_and_both_make_targets_install_under_the_constraints():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^COPY .*constraints\.txt", dockerfile, re.M)
    installs = re.findall(r"pip install[^\n]*", dockerfile)
    assert installs and all("-c constraints.txt" in line for line in installs)
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^INSTALL :?= .*install .*-c constraints\.txt", makefile, re.M)
    assert "$(INSTALL) --no-compile -r constraints.txt" in makefile  # make run: the pinned set, nothing else
    assert '$(INSTALL) -e ".[test]"' in makefile
    assert re.search(
        r"^\$\(VENV\)/\.installed-run: .*constraints\.txt", makefile, re.M
    )  # changed pins: installed again
    assert Path(CONSTRAINTS).read_text().startswith("# What serving needs")
