# The two commands: `make run` (serve on http://127.0.0.1:8000) and `make test`; `make check` checks the code before
# the tests (under a minute); `make bench` prints the benchmarks;
# `make class` serves a class on this machine's network (docs/teacher.md).
# Each creates .venv on first use and installs what it needs into it (again when pyproject.toml or
# constraints.txt changes): `run` only what serving needs, `test` the test tools besides. Every install
# is held to constraints.txt, the versions the Dockerfile installs too (docs/hosting.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# A venv's own pip (ensurepip) costs 5-10 s of CPU here, half of `make run` on a fresh clone. When $(PYTHON)
# has a pip that installs into another environment (pip >= 22.3: --python), the venv is made without
# one and that pip installs into it; otherwise (no pip beside $(PYTHON)) the venv gets its own.
PIP = $$(if [ -x $(BIN)/pip ]; then echo "$(BIN)/python -m pip"; else echo "$(PYTHON) -m pip --python $(BIN)/python"; fi)
INSTALL = $(PIP) install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: run class check test bench mutation pythons constraints

$(BIN)/python:
	if $(PYTHON) -c 'import pip, sys; sys.exit(tuple(map(int, pip.__version__.split(".")[:2])) < (22, 3))' 2>/dev/null; \
	then $(PYTHON) -m venv --without-pip $(VENV); else $(PYTHON) -m venv $(VENV); fi

# Serving needs the packages constraints.txt lists, not the project built: `python -m app` runs from here.
# Not byte-compiled at install: Python compiles what it imports, at its first start.
$(VENV)/.installed-run: pyproject.toml constraints.txt | $(BIN)/python
	$(INSTALL) --no-compile -r constraints.txt
	touch $@

# Bytecode for the processes the tests start (servers, nodes, CLI commands: well over a hundred). Where
# PYTHONDONTWRITEBYTECODE is set (the Dockerfile, CI), Python writes none at import, so each `python -m app`
# compiled its ~500 modules from source again: ~1.8 s of CPU a start, of its ~3.4. compileall writes it
# anyway: the venv's packages once, after their install; the project's code at each `make test` (only what
# changed since: it compares each file's mtime with its .pyc).
$(VENV)/.installed-test: $(VENV)/.installed-run
	$(INSTALL) -e ".[test]"
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib
	touch $@

run: $(VENV)/.installed-run
	$(BIN)/python -m app $(ARGS)

# Every interface, the students' address and a QR code printed, the teacher signed in by a printed link.
class: $(VENV)/.installed-run
	$(BIN)/python -m app class $(ARGS)

# The code before the tests, in under a minute (as Starlette's scripts/check): the formatter and the linter
# ([tool.ruff]), the types ([tool.mypy]), the layers ([tool.importlinter]), then the fast unit tests of the pure
# core and the renderer: no server, no runner process, no redis-server.
# ruff format checks everything but experiments/, which keeps the tutorial's code as it was written.
FORMATTED ?= app benchmarks scripts tests
UNIT_TESTS := $(addprefix tests/, \
	model/test_timeline.py model/test_cpu_bins.py model/test_events.py model/test_hangs.py model/test_overlap.py \
	model/test_schedules.py model/test_oncpu.py model/test_sweeps_logic.py model/test_lesson_files.py model/test_lesson_state.py \
	model/test_lesson_reveal.py drawing/test_placement.py drawing/test_render.py drawing/test_output_pane.py \
	drawing/test_result_words.py drawing/test_bytecode.py running/test_admission.py running/test_limits.py \
	running/test_ratelimit.py storage/test_redis_mirror.py experiments/test_params.py experiments/test_findings.py \
	experiments/test_findings_words.py experiments/test_switch_records.py model/test_findings.py)
# The docs drawn from the code (a change to a sentence or a setting is a change to them): no server.
DOC_TESTS := $(addprefix tests/test_docs.py::, test_the_table_of_sentences_is_what_the_code_prints \
	test_every_lab_variable_named_is_a_setting_and_every_setting_is_documented)
check: $(VENV)/.installed-test
	$(BIN)/ruff format --check $(FORMATTED)
	$(BIN)/ruff check app experiments benchmarks scripts tests
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -p no:playwright $(UNIT_TESTS) $(DOC_TESTS)

# Everything: TEST_WORKERS tests at a time (pytest-xdist; most of a test's time is waiting on servers, runners
# and browsers), then those marked `alone` (a speedup, a handover: how a run used the two cores) one at a time
# with nothing beside them; both parts run even if the first fails. The slowest 15 named at the end of each.
TEST_WORKERS ?= 4
test: $(VENV)/.installed-test
	$(BIN)/python -m compileall -q -j 0 app experiments benchmarks tests
	@failed=0; \
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) -m "not alone" --durations=15 || failed=1; \
	$(BIN)/python -m pytest -q -m alone --durations=15 || failed=1; \
	exit $$failed

# The benchmarks also need the `bench` extra (VizTracer, to compare with).
$(VENV)/.installed-bench: $(VENV)/.installed-test
	$(INSTALL) -e ".[test,bench]"
	touch $@

bench: $(VENV)/.installed-bench
	$(BIN)/python -m benchmarks $(ARGS)

# Mutation testing of the pure core with its fast unit tests ([tool.mutmut] in pyproject.toml), from
# scratch, then the kill score per module (scripts/mutation-scores: fails under 90 %). Some minutes on
# 2 cores (docs/benchmarks.md, Mutation testing); mutmut's own output is kept in mutants/run.log.
$(VENV)/.installed-mutation: $(VENV)/.installed-test
	$(INSTALL) -e ".[test,mutation]"
	touch $@

MUTATION_CHILDREN ?= 2
# The mutants run (mutmut's names: module.x_function__mutmut_N): every one of app/ and experiments/harness/, and of
# each experiment module only those of findings(), verdict() and the helpers they call, the lab's worded result.
# The rest of an experiment module is the tutorial's code: no process-free test runs it, and students read it,
# so it carries no pragma; its mutants stay "not checked" and out of the score.
MUTANTS := 'app.*' 'experiments.harness.*' 'experiments.*.x_findings*' 'experiments.*.x_verdict*' \
	'experiments.cpu_threads_vs_processes.x__threads*' 'experiments.cpu_threads_vs_processes.x_process_pool_shortfall*' \
	'experiments.interpreters_cpu.x__interpreters*' 'experiments.io_threads_vs_processes.x_rounds*' \
	'experiments.process_pool_starmap.x_starmap_chunksize*' 'experiments.process_pool_starmap.x_best_schedule_units*' \
	'experiments.thread_subclass.x__overlapped*'
mutation: $(VENV)/.installed-mutation
	rm -rf mutants && mkdir mutants
	@start=$$(date +%s); $(BIN)/mutmut run --max-children $(MUTATION_CHILDREN) $(MUTANTS) > mutants/run.log 2>&1 \
		|| { tail -c 3000 mutants/run.log; exit 1; }; \
		echo "mutmut run: $$(( $$(date +%s) - start )) s on $(MUTATION_CHILDREN) children (its output: mutants/run.log)"
	$(BIN)/python scripts/mutation-scores $(ARGS)

# Interpreters for experiments beside the server's (app/running/pythons.py finds them in .pythons/):
# a free-threaded CPython by default; e.g. `make pythons PYTHONS="3.13.5t 3.9.25"` for more. First the
# pinned pure-Python packages some experiments import where the standard library lacks them
# (experiments/backports.txt: InterpreterPoolExecutor on 3.13), into .pythons/site-packages.
PYTHONS ?= 3.13.5t
# Whichever pip the venv's installs use (its own, or $(PYTHON)'s: see PIP above) fetches them.
pythons: | $(BIN)/python
	PYTHON=$$(if [ -x $(BIN)/pip ]; then echo $(BIN)/python; else echo $(PYTHON); fi) scripts/experiment-packages
	for spec in $(PYTHONS); do scripts/build-python $$spec || exit 1; done

# Refresh constraints.txt: the newest versions of what serving needs, installed into a fresh venv without
# constraints and frozen (then `make test` installs and tests them; commit both if it passes).
constraints:
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && $(PYTHON) -m venv "$$tmp" \
	  && "$$tmp/bin/python" -m pip install --quiet --disable-pip-version-check -e . \
	  && "$$tmp/bin/python" scripts/freeze_constraints.py > constraints.txt.new && mv constraints.txt.new constraints.txt
