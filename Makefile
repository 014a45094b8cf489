# Two entry points for a fresh machine (see README): `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean browser pdf-libs oidc-provider

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
	$(BIN)/lint-imports

# The browser tests drive Debian's Chromium; install it if missing (never a downloaded build).
browser:
	@[ -x /usr/bin/chromium ] || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

# PDFs (review and subject access packs) are printed by WeasyPrint, which needs Debian's Pango
# and a font; install them if missing.
pdf-libs:
	@(ldconfig -p | grep -q libpangoft2-1.0.so.0 && fc-list | grep -qi dejavu) || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core)

# The sign-in tests run a real OpenID provider (oidc-provider, npm) under Node.js: install it
# from its lockfile (tests/oidc_provider/package-lock.json).
oidc-provider:
	@command -v npm >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm)
	@[ -d tests/oidc_provider/node_modules/oidc-provider ] || npm ci --no-audit --no-fund --prefix tests/oidc_provider

test: lint browser pdf-libs oidc-provider
	$(BIN)/pytest

# Every benchmark, one table + benchmarks/results/suite-<ts>.json; BENCH_ARGS=--quick for a smoke run.
bench: $(VENV)/.test
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .hub .hub-demo .pytest_cache .mypy_cache .ruff_cache tests/oidc_provider/node_modules
