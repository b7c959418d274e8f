# tradewarden: one task runner. `make up` runs the service, `make test` passes the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/tradewarden_test

.PHONY: up test test-sqlite test-postgres lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.server-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[server]'
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.server-installed

## up: install, migrate and run the warden on embedded defaults (SQLite, no Redis)
up: $(VENV)/.server-installed
	$(BIN)/tradewarden db upgrade
	$(BIN)/tradewarden up

## test: lint, then the whole suite on SQLite and on PostgreSQL, with the coverage floor
test: $(VENV)/.dev-installed
	scripts/ensure-services.sh
	$(MAKE) --no-print-directory lint
	rm -f .coverage .coverage.*
	$(BIN)/pytest --cov --cov-report= -p no:cacheprovider
	TW_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest --cov --cov-append --cov-report= -p no:cacheprovider
	$(BIN)/coverage report --fail-under=85

test-sqlite: $(VENV)/.dev-installed
	$(BIN)/pytest -p no:cacheprovider

test-postgres: $(VENV)/.dev-installed
	TW_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest -p no:cacheprovider

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy
	MYPYPATH=tests $(BIN)/mypy examples

format: $(VENV)/.dev-installed
	$(BIN)/ruff format src tests bench examples
	$(BIN)/ruff check --fix src tests bench examples

bench: $(VENV)/.dev-installed
	$(BIN)/python bench/api.py

clean:
	rm -rf $(VENV) .coverage .coverage.* .mypy_cache .ruff_cache build dist
