# The verbs of the README. Everything installs itself into .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CODE := shared/portal_import functions local/portal_import_local

.PHONY: install demo test unit integration e2e lint format typecheck clean bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## demo: import the bundled sample (every kind of row) on the embedded local stack, emails on
demo: $(STAMP)
	$(BIN)/portal-import local run local/portal_import_local/sample/import.csv --send-activation-email

## test: lint, type-check, then every suite (unit, infrastructure incl. cfn-lint, integration, end-to-end)
test: lint typecheck
	$(BIN)/python -m pytest -q

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest -q tests/integration tests/infrastructure

e2e: $(STAMP)
	$(BIN)/python -m pytest -q tests/e2e

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(STAMP)
	$(BIN)/mypy $(CODE)

## bench: requests per row, throughput against a per-row script, a 1M-row file, splitter memory, email rate and
## cost; not part of `make test` (hours for the full run; bench/README.md has the quick one)
bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) import-results .aws-sam build *.egg-info shared/*.egg-info local/*.egg-info
