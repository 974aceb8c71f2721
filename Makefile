# gqlorders — the two commands of README: `make demo` and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install demo serve test test-postgres test-sqlite lint schema

$(BIN)/gqlorders: pyproject.toml
	scripts/system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,bench]"
	touch $@

install: $(BIN)/gqlorders

## Set up, migrate SQLite under ./var, create demo data, print the token and serve.
demo: install
	$(BIN)/gqlorders demo --host $(HOST) --port $(PORT)
	REDIS_URL= $(BIN)/gqlorders serve --host $(HOST) --port $(PORT)

serve: install
	$(BIN)/gqlorders migrate
	$(BIN)/gqlorders serve --host $(HOST) --port $(PORT)

## Set up and run the whole suite on PostgreSQL, then on SQLite.
test: install
	scripts/ensure-services
	$(BIN)/ruff check src adapters workers tests bench
	$(BIN)/mypy
	$(BIN)/pytest
	GQLORDERS_TEST_DATABASE=sqlite $(BIN)/pytest

test-postgres: install
	$(BIN)/pytest

test-sqlite: install
	GQLORDERS_TEST_DATABASE=sqlite $(BIN)/pytest

## ruff, mypy over src, adapters, workers, tests and bench (pyproject.toml [tool.mypy]), and
## the import arrows of docs/architecture.md (scripts/import_arrows.py).
lint: install
	$(BIN)/ruff check src adapters workers tests bench
	$(BIN)/ruff format --check src adapters workers tests bench
	$(BIN)/mypy
	$(BIN)/python scripts/import_arrows.py --check

schema: install
	$(BIN)/gqlorders export-schema
