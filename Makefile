# Tandem: `make run` serves the embedded default, `make test` runs the whole suite.
PYTHON ?= python3
# Where `make run` listens: `make run PORT=8080 HOST=0.0.0.0`.
HOST ?= 127.0.0.1
PORT ?= 5000
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit prism-setup migrate demo bench clean screenshots

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Tandem needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

## The service on its embedded default: SQLite in ./instance, SMS to the log, API + scheduler.
## It blocks (Ctrl-C stops it): run `make demo` and `make test` in a second terminal.
run: $(STAMP)
	$(BIN)/tandem db upgrade
	$(BIN)/tandem run --host $(HOST) --port $(PORT)

## The whole suite: lint, types, unit + API + Twilio contract (Prism) tests.
test: $(STAMP) lint typecheck prism-setup unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

prism-setup:
	bash scripts/prism-setup

## Branch coverage of the production packages, gated by fail_under in pyproject.toml.
unit: $(STAMP)
	$(BIN)/pytest --cov --cov-report=

migrate: $(STAMP)
	$(BIN)/tandem db upgrade

demo: $(STAMP)
	$(BIN)/tandem db upgrade
	$(BIN)/tandem demo

clean:
	rm -rf $(VENV) .cache .mypy_cache .ruff_cache .pytest_cache .hypothesis

## The README's web screenshots (docs/web-*.png), from the demo data in the suite's browser.
screenshots: $(STAMP)
	TANDEM_DOCS_SCREENSHOTS=1 $(BIN)/pytest tests/web/test_docs_screenshots.py -q
