# Two entry points: `make demo` runs the demo, `make test` installs and runs the checks.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

CORE_VENV ?= .venv-core

.PHONY: demo test test-core bench lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

demo: $(BIN)/python
	$(BIN)/pip install -q -e '.[demo]'
	$(BIN)/secretcache demo

lint: $(BIN)/python
	$(BIN)/pip install -q -e '.[all,test]'
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Coverage follows the CLI into its subprocesses; the gate is on core and integrations.
test: lint
	$(BIN)/python -m coverage erase
	$(BIN)/python -m coverage run -m pytest
	$(BIN)/python -m coverage combine -q
	$(BIN)/python -m coverage report --fail-under=90 --skip-covered
	$(MAKE) test-core

# The suite must also pass with no optional extra installed (integration tests skip).
test-core:
	test -x $(CORE_VENV)/bin/python || $(PYTHON) -m venv $(CORE_VENV)
	$(CORE_VENV)/bin/pip install -q -e '.[test]'
	$(CORE_VENV)/bin/python -m pytest -q -p no:cacheprovider -rfE

bench: $(BIN)/python
	$(BIN)/pip install -q -e '.[all,bench]'
	$(BIN)/secretcache bench
