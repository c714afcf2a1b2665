# The two commands: `make run` (serve on http://127.0.0.1:8000) and `make test`; `make bench` prints the benchmarks.
# Each creates .venv on first use and installs what it needs into it (again when pyproject.toml
# changes): `run` only what serving needs, `test` the test tools besides.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check

.PHONY: run test bench pythons

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
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
