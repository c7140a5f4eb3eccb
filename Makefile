# The verbs: make demo, make test, make lint, make bench.
# Everything installs into .venv from pinned versions (requirements.lock).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Azurite (the Azure Storage emulator) for the pull tests, from npm at the version in its lock file.
# Without npm the Azure pull test is skipped and says why.
AZURITE := tools/azurite/node_modules/.installed
NPM     := $(shell command -v npm)

.PHONY: install demo test test-fast lint bench docs report-preview clean

install: $(STAMP) $(AZURITE)

$(STAMP): pyproject.toml requirements.lock requirements-dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.lock -r requirements-dev.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

$(AZURITE): tools/azurite/package.json tools/azurite/package-lock.json
ifneq ($(NPM),)
	$(NPM) ci --prefix tools/azurite --no-audit --no-fund --loglevel=error
	touch $(AZURITE)
else
	@echo "npm not found: the Azure (Azurite) pull test will be skipped"
endif

# The demo company (examples/demo/: its generator and its own config) into examples/demo/landing,
# warehouse and reports.
demo: $(STAMP)
	$(BIN)/costledger demo

test: install
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not slow"

lint: install
	$(BIN)/ruff check pipeline dags tests tools examples
	$(BIN)/ruff format --check pipeline dags tests tools examples

# docs/data-dictionary.md from the tables' contracts (sql/<schema>/<table>.yml); a test fails when it is stale.
docs: install
	$(BIN)/costledger docs

bench: install
	$(BIN)/python tools/bench.py $(BENCH_ARGS)

# The latest (or MONTH=YYYY-MM) report rendered in headless Chromium to a PNG you can look at.
# Needs Debian's chromium (and fonts-wqy-zenhei for zh-CN): apt-get install chromium fonts-wqy-zenhei
report-preview: install
	$(BIN)/python -m pipeline.report.preview --config examples/demo/config $(if $(MONTH),--month $(MONTH))

clean:
	rm -rf warehouse reports examples/demo/landing examples/demo/warehouse examples/demo/reports .pytest_cache
