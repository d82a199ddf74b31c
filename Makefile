# The two commands a new user needs: `make demo` and `make test`.
# Both set up a virtual environment in .venv first (Python >= 3.11 must be on PATH).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= out

.PHONY: setup demo test lint typecheck clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'
	touch $@

# Ingest the real sample data bundled in examples/data into a fresh case and describe it.
demo: setup
	mkdir -p $(OUT)
	rm -f $(OUT)/demo.duckdb $(OUT)/demo.duckdb.wal
	$(BIN)/trollscope ingest examples/data/russian_coord_tweets.csv.gz --platform twitter --into $(OUT)/demo.duckdb
	$(BIN)/trollscope ingest examples/data/IRAhandle_tweets_sample.csv --into $(OUT)/demo.duckdb
	$(BIN)/trollscope info $(OUT)/demo.duckdb
	@echo "The case is $(OUT)/demo.duckdb (DuckDB: open it with duckdb, pandas or R)."

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: setup
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest

clean:
	rm -rf $(OUT) .pytest_cache .mypy_cache .ruff_cache
