# Two entry points for a fresh machine (see README): `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.base: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.base

demo: $(VENV)/.base
	$(BIN)/hub demo

lint: $(VENV)/.test
	$(BIN)/ruff check hub consumers tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

bench: $(VENV)/.test
	$(BIN)/python -m benchmarks.ingest_inbox

clean:
	rm -rf $(VENV) .hub .hub-demo .pytest_cache .mypy_cache .ruff_cache
