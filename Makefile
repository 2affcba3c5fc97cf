# The verbs of the README. Everything installs itself into .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CODE := shared/portal_import functions cli/portal_import_cli local/portal_import_local
# The unit tests' fakes are type-checked too: each is held to the port it stands in for.
FAKES := tests/unit/fakes.py
# checkov pins a boto3 older than the project's, so it lives in a venv of its own. Bumping the version
# names a new stamp, which reinstalls it.
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)
# The AWS CLI (v1, from PyPI) pins its own botocore: a venv of its own too. The local serve test drives it.
AWSCLI_VERSION := 1.45.11
AWSCLI_VENV := .venv-awscli
AWSCLI_STAMP := $(AWSCLI_VENV)/.installed-$(AWSCLI_VERSION)

.PHONY: install demo check test unit integration e2e lint format typecheck checkov awscli chromium screenshot clean bench \
	soak docs

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

$(AWSCLI_STAMP):
	$(PYTHON) -m venv $(AWSCLI_VENV)
	$(AWSCLI_VENV)/bin/python -m pip install --quiet "awscli==$(AWSCLI_VERSION)"
	touch $(AWSCLI_STAMP)

awscli: $(AWSCLI_STAMP)

## chromium: Debian's chromium, which Playwright drives in the activation page's browser test (Playwright's own
## browsers are not downloaded); apt-get as root, or through sudo
chromium:
	@command -v chromium >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

## screenshot: the browser tests again, keeping their pictures of the pages as docs/activation-*.png and docs/console-*.png
screenshot: $(STAMP) $(AWSCLI_STAMP) chromium
	PORTAL_IMPORT_KEEP_SCREENSHOT=1 $(BIN)/python -m pytest -q tests/e2e/test_activation_serve.py tests/e2e/test_console_browser.py

$(CHECKOV_STAMP):
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet "checkov==$(CHECKOV_VERSION)"
	touch $(CHECKOV_STAMP)

install: $(STAMP)

## demo: import the bundled sample (every kind of row) on the embedded local stack, emails on
demo: $(STAMP)
	$(BIN)/portal-import local run local/portal_import_local/sample/import.csv --send-activation-email

## test: lint, type-check, checkov, the strict docs build, then every suite (unit, infrastructure incl. cfn-lint,
## integration, end-to-end), on every core (pytest-xdist), a module to one worker (--dist loadscope: a module's
## fixtures, its local runs and servers, are set up once, not once per worker that gets one of its tests)
test: lint typecheck checkov awscli chromium docs
	$(BIN)/python -m pytest -q -n auto --dist loadscope

## check: the loop to run while you work: lint, types, and the unit tests (the architecture's among them), in under
## two minutes on two cores; `make test` is the whole suite
check: lint typecheck
	$(BIN)/python -m pytest -q -n auto tests/unit

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest -q tests/integration tests/infrastructure

e2e: $(STAMP) $(AWSCLI_STAMP) chromium
	$(BIN)/python -m pytest -q tests/e2e

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(STAMP)
	$(BIN)/mypy $(CODE) $(FAKES)

## docs: the docs site (mkdocs, Material theme) into site/, in strict mode: a broken link or anchor fails it; the CLI
## and parameters references are generated from the parser and template.yaml (docs/hooks/reference.py)
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

## checkov: security checks on template.yaml; a skipped check carries its reason in the template (Metadata).
## Offline: --skip-download and BC_SKIP_MAPPING keep it from fetching Prisma Cloud's guidelines, and
## CKV_SKIP_PACKAGE_UPDATE_CHECK from asking PyPI for a newer checkov.
checkov: $(CHECKOV_STAMP)
	BC_SKIP_MAPPING=TRUE CKV_SKIP_PACKAGE_UPDATE_CHECK=true $(CHECKOV_VENV)/bin/checkov --file template.yaml \
		--framework cloudformation --skip-download --compact --quiet

## bench: requests per row, throughput against a per-row script, a 1M-row file, splitter memory, email rate and
## cost; not part of `make test` (hours for the full run; bench/README.md has the quick one)
bench: $(STAMP)
	PORTAL_IMPORT_BENCH_SMOKE=1 $(BIN)/python -m pytest -q tests/e2e/test_bench_smoke.py
	$(BIN)/python bench/run.py

## soak: the fault-equivalence check on many seeds (SEEDS=20, from 1001) at 0.1/0.5/0.5 and 0.03/0.3/0.3, 600 rows,
## two runs at a time: one line a seed, then totals; exit 1 on any discrepancy. Not part of `make test` (about 5 minutes)
soak: $(STAMP)
	$(BIN)/python tests/soak.py

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) $(AWSCLI_VENV) import-results site .aws-sam build *.egg-info shared/*.egg-info local/*.egg-info cli/*.egg-info
