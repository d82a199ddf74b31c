# The two commands a new user needs: `make demo` and `make test`.
# Both set up a virtual environment in .venv first (Python >= 3.11 must be on PATH).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= out

.PHONY: setup setup-core demo test lint typecheck clean

# `setup` installs what the tests need (the dev and Spark extras); `make demo` needs only
# the package itself (`setup-core`): no pyspark, no test tools.
setup: $(VENV)/.installed

setup-core: $(VENV)/.installed-core

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'
	touch $@

$(VENV)/.installed-core: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# The pipeline so far, on the real sample data bundled in examples/data and on a small
# simulated data set with planted farms: ingest, describe, co-action edges, detection
# (pair tests, networks, verdicts, evidence), and the detection scored against the
# planted labels, and the HTML reports.
demo: setup-core
	mkdir -p $(OUT)
	rm -rf $(OUT)/demo.duckdb $(OUT)/demo.duckdb.wal $(OUT)/sim $(OUT)/scan
	$(BIN)/trollscope ingest examples/data/russian_coord_tweets.csv.gz --platform twitter --into $(OUT)/demo.duckdb
	$(BIN)/trollscope ingest examples/data/IRAhandle_tweets_sample.csv --into $(OUT)/demo.duckdb
	$(BIN)/trollscope info $(OUT)/demo.duckdb
	$(BIN)/trollscope edges $(OUT)/demo.duckdb --trace co-repost --window 60 -o $(OUT)/demo-co-repost.csv
	$(BIN)/trollscope detect $(OUT)/demo.duckdb --min-participation 2
	$(BIN)/trollscope report $(OUT)/demo.duckdb -o $(OUT)/demo-report.html
	$(BIN)/trollscope simulate --posts 50000 --days 7 --formats twarc2 --out $(OUT)/sim
	$(BIN)/trollscope scan $(OUT)/sim/twarc2.jsonl -o $(OUT)/scan
	$(BIN)/trollscope evaluate $(OUT)/scan/case.duckdb --labels $(OUT)/sim/labels.csv
	@echo "Reports: $(OUT)/scan/report.html (simulated data with planted farms; labels in"
	@echo "$(OUT)/sim/labels.csv) and $(OUT)/demo-report.html (the real sample data). Open them"
	@echo "in a browser; they work offline. Cases: $(OUT)/scan/case.duckdb and $(OUT)/demo.duckdb."

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

typecheck: setup
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest

clean:
	rm -rf $(OUT) .pytest_cache .mypy_cache .ruff_cache
