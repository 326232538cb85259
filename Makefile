# The two commands: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format docs screenshots bench clean help

help:
	@echo "make run    - set up, initialise the SQLite database, seed the demo and serve it on http://127.0.0.1:8000"
	@echo "make test   - set up and run the whole test suite"
	@echo "make lint   - ruff and mypy --strict"
	@echo "make docs   - regenerate the workflow diagrams in docs/workflows.md"
	@echo "make screenshots - retake docs/screenshots/*.png in chromium"
	@echo "make bench  - the benchmarks (BENCH_SIZE=smoke|default|full; PostgreSQL from ATS_BENCH_DATABASE_URL)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "ATS needs Python 3.11 or newer")'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e . --group dev
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/ats init
	$(BIN)/ats serve --demo

test: $(STAMP)  # one worker process per CPU; a file's tests stay on one worker (module fixtures)
	$(BIN)/pytest -n auto --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

docs: $(STAMP)
	$(BIN)/python -m ats.docs  # workflow diagrams and docs/openapi.json

screenshots: $(STAMP)  # docs/screenshots/*.png, taken by the browser tests (needs chromium)
	ATS_SCREENSHOTS=docs/screenshots $(BIN)/pytest -p no:cacheprovider tests/e2e/test_browser.py -k screenshot

BENCH_SIZE ?= default
bench: $(STAMP)  # figures and ratios to their floors; see docs/performance.md
	$(BIN)/python -m bench --size $(BENCH_SIZE)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
