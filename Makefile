# Two entry points: `make demo` runs the demo, `make test` installs and runs the checks.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test bench lint

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

test: lint
	$(BIN)/python -m pytest

bench: $(BIN)/python
	$(BIN)/pip install -q -e '.[all,bench]'
	$(BIN)/secretcache bench
