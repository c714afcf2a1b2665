# The two commands: `make run` (serve on http://127.0.0.1:8000) and `make test`; `make bench` prints the benchmarks.
# Both create .venv and install the project into it on first use (again when pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test bench pythons

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

run: $(BIN)/.installed
	$(BIN)/concurrency-lab $(ARGS)

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q

# The benchmarks also need the `bench` extra (VizTracer, to compare with).
$(BIN)/.bench-installed: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	touch $@

bench: $(BIN)/.bench-installed
	$(BIN)/python -m benchmarks $(ARGS)

# Interpreters for experiments beside the server's (app/pythons.py finds them in .pythons/):
# a free-threaded CPython by default; e.g. `make pythons PYTHONS="3.13.5t 3.9.25"` for more.
PYTHONS ?= 3.13.5t
pythons:
	for spec in $(PYTHONS); do scripts/build-python $$spec || exit 1; done
