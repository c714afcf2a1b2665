# The two commands: `make run` (serve on http://127.0.0.1:8000) and `make test`; `make bench` prints the benchmarks.
# Each creates .venv on first use and installs what it needs into it (again when pyproject.toml or
# constraints.txt changes): `run` only what serving needs, `test` the test tools besides. Every install
# is held to constraints.txt, the versions the Dockerfile installs too (docs/hosting.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: run test bench pythons constraints

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: pyproject.toml constraints.txt | $(BIN)/python
	$(INSTALL) -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed-run
	$(INSTALL) -e ".[test]"
	touch $@

run: $(VENV)/.installed-run
	$(BIN)/concurrency-lab $(ARGS)

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q

# The benchmarks also need the `bench` extra (VizTracer, to compare with).
$(VENV)/.installed-bench: $(VENV)/.installed-test
	$(INSTALL) -e ".[test,bench]"
	touch $@

bench: $(VENV)/.installed-bench
	$(BIN)/python -m benchmarks $(ARGS)

# Interpreters for experiments beside the server's (app/pythons.py finds them in .pythons/):
# a free-threaded CPython by default; e.g. `make pythons PYTHONS="3.13.5t 3.9.25"` for more.
PYTHONS ?= 3.13.5t
pythons:
	for spec in $(PYTHONS); do scripts/build-python $$spec || exit 1; done

# Refresh constraints.txt: the newest versions of what serving needs, installed into a fresh venv without
# constraints and frozen (then `make test` installs and tests them; commit both if it passes).
constraints:
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && $(PYTHON) -m venv "$$tmp" \
	  && "$$tmp/bin/python" -m pip install --quiet --disable-pip-version-check -e . \
	  && "$$tmp/bin/python" scripts/freeze_constraints.py > constraints.txt.new && mv constraints.txt.new constraints.txt
