# The two commands of the README: `make up` runs the whole stack, `make test` the whole suite.
PYTHON ?= python3
# Another Python gets a venv of its own (`make test PYTHON=python3.13`: .venv-python3.13); a name
# pyenv knows but has not put on PATH is looked up among its versions.
VENV := $(if $(filter python3,$(PYTHON)),.venv,.venv-$(notdir $(PYTHON)))
PYTHON_EXE := $(shell command -v $(PYTHON) >/dev/null 2>&1 && $(PYTHON) -c pass >/dev/null 2>&1 \
	&& echo $(PYTHON) || ls -d $$HOME/.pyenv/versions/*/bin/$(PYTHON) 2>/dev/null | tail -1)
BIN := $(VENV)/bin
# Two installs: what running needs (`make up`), then the tests' and the bench's tools on top.
RUN := $(VENV)/.installed-run
DEV := $(VENV)/.installed-dev
# Exact versions with their hashes (requirements/*.txt, from setup.cfg by `make lock`), then the
# project alone: nothing is resolved at install time, so a release upstream changes nothing here.
PIP_LOCKED := $(BIN)/python -m pip install --quiet --require-hashes -r

.PHONY: up test unit lint clean chaos soak bench lock

$(RUN): setup.cfg pyproject.toml requirements/build.txt requirements/run.txt
	@test -n "$(PYTHON_EXE)" || { echo "no $(PYTHON) here (nor under ~/.pyenv/versions)" >&2; exit 2; }
	@test -x $(BIN)/python || $(PYTHON_EXE) -m venv $(VENV)
	$(PIP_LOCKED) requirements/build.txt
	$(PIP_LOCKED) requirements/run.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(RUN)

$(DEV): $(RUN) requirements/dev.txt
	$(PIP_LOCKED) requirements/dev.txt
	@touch $(DEV)

up: $(RUN)
	$(BIN)/python -m devtools.devstack up

test: $(DEV)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

unit: $(DEV)
	$(BIN)/python -m pytest -q tests/unit

lint: $(DEV)
	$(BIN)/ruff check .

# The locks, written by uv from setup.cfg: one file for every platform and Python 3.11-3.13
# (markers where they differ). dev.txt is resolved first and pins the others, so what runs is
# what was tested. Pins stay unless setup.cfg no longer allows them: LOCK_ARGS=--upgrade (or
# "--upgrade-package NAME") moves them on; then raise setup.cfg's floors to the new versions
# (tests/unit/test_lock.py names them).
UV_COMPILE = $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" $(LOCK_ARGS)
lock: $(DEV)
	$(UV_COMPILE) setup.cfg --extra local --extra tracing --extra dev -o requirements/dev.txt
	$(UV_COMPILE) setup.cfg --extra local --extra tracing -c requirements/dev.txt -o requirements/run.txt
	$(UV_COMPILE) setup.cfg --extra tracing -c requirements/dev.txt -o requirements/image.txt
	$(UV_COMPILE) requirements/build.in -c requirements/dev.txt -o requirements/build.txt

clean:
	rm -rf var .pytest_cache

# A chaos run of CHAOS_ORDERS orders (1,000) with parts SIGKILLed; report in bench/results/.
chaos: $(DEV)
	CHAOS_ORDERS=$${CHAOS_ORDERS:-1000} $(BIN)/python -m tests.chaos

# The whole sale (tests/chaos/soak.py): the day's capacity measured, then SOAK_ORDERS orders
# (135,000) at SOAK_RATE_FRACTION (0.7) of it, a part SIGKILLed every SOAK_FAULT_EVERY_S (180);
# memory, the saga store, latency and throughput by tenth, the verdict: bench/results/soak-*.json.
soak: $(DEV)
	SOAK_ORDERS=$${SOAK_ORDERS:-135000} $(BIN)/python -m tests.chaos.soak

# The speed figures (bench/README.md): the local stack, then the same on the machine's
# PostgreSQL and Redis, in one result with their ratios; the store's reads under a million
# finished sagas; the stack as `make up` runs it beside the bench's own. Each writes
# bench/results/<timestamp>-{both,history,make-up}.json. BENCH_ARGS e.g. "--hold 10000".
bench: $(DEV)
	$(BIN)/python -m bench.run --both $(BENCH_ARGS)
	$(BIN)/python -m bench.history
	$(BIN)/python -m bench.make_up
