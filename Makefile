# The two commands: `make run` (serve on http://127.0.0.1:8000) and `make test`; `make bench` prints the benchmarks.
# Both create .venv and install the project into it on first use (again when pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test bench mutation pythons

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

# Mutation testing of the pure core with its fast unit tests ([tool.mutmut] in pyproject.toml), from
# scratch, then the kill score per module (scripts/mutation-scores: fails under 90 %). Some minutes on 2 cores.
$(BIN)/.mutation-installed: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e ".[test,mutation]"
	touch $@

MUTATION_CHILDREN ?= 2
mutation: $(BIN)/.mutation-installed
	rm -rf mutants && mkdir mutants
	@start=$$(date +%s); $(BIN)/mutmut run --max-children $(MUTATION_CHILDREN) > mutants/run.log 2>&1 \
		|| { tail -c 3000 mutants/run.log; exit 1; }; \
		echo "mutmut run: $$(( $$(date +%s) - start )) s on $(MUTATION_CHILDREN) children (its output: mutants/run.log)"
	$(BIN)/python scripts/mutation-scores $(ARGS)

# Interpreters for experiments beside the server's (app/pythons.py finds them in .pythons/):
# a free-threaded CPython by default; e.g. `make pythons PYTHONS="3.13.5t 3.9.25"` for more.
PYTHONS ?= 3.13.5t
pythons:
	for spec in $(PYTHONS); do scripts/build-python $$spec || exit 1; done
