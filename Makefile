# The two commands of the README: `make up` runs the whole stack, `make test` the whole suite.
PYTHON ?= python3
# Another Python gets a venv of its own (`make test PYTHON=python3.13`: .venv-python3.13); a name
# pyenv knows but has not put on PATH is looked up among its versions.
VENV := $(if $(filter python3,$(PYTHON)),.venv,.venv-$(notdir $(PYTHON)))
PYTHON_EXE := $(shell command -v $(PYTHON) >/dev/null 2>&1 && $(PYTHON) -c pass >/dev/null 2>&1 \
	&& echo $(PYTHON) || ls -d $$HOME/.pyenv/versions/*/bin/$(PYTHON) 2>/dev/null | tail -1)
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test unit lint clean chaos bench

$(STAMP): setup.cfg pyproject.toml
	@test -n "$(PYTHON_EXE)" || { echo "no $(PYTHON) here (nor under ~/.pyenv/versions)" >&2; exit 2; }
	@test -x $(BIN)/python || $(PYTHON_EXE) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[local,dev,tracing]'
	@touch $(STAMP)

up: $(STAMP)
	$(BIN)/python -m devtools.devstack up

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf var .pytest_cache

# A chaos run of CHAOS_ORDERS orders (1,000) with parts SIGKILLed; report in bench/results/.
chaos: $(STAMP)
	CHAOS_ORDERS=$${CHAOS_ORDERS:-1000} $(BIN)/python -m tests.chaos

# The speed figures (bench/README.md): the local stack, then the same on the machine's
# PostgreSQL and Redis when they answer, then the store's reads under a million finished sagas;
# each writes bench/results/<timestamp>[-production|-history].json.
# BENCH_ARGS e.g. "--hold 10000".
bench: $(STAMP)
	$(BIN)/python -m bench.run $(BENCH_ARGS)
	$(BIN)/python -m bench.run --production $(BENCH_ARGS)
	$(BIN)/python -m bench.history
