# 3D Pot — every entry point a person or CI needs. Each target sets up the venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv demo test test-unit test-integration lint bench bench-agent clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Run the main job on embedded defaults: a virtual printer printing a sample file, with a progress bar.
demo: $(STAMP)
	$(BIN)/3dpot demo

## Every test: unit and integration (real Mosquitto, PostgreSQL, pty printers).
test: $(STAMP)
	$(BIN)/pytest

test-unit: $(STAMP)
	$(BIN)/pytest tests/unit

test-integration: $(STAMP)
	$(BIN)/pytest -m integration

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## Benchmarks (figures printed side by side with their reference; copy them into the README).
bench: $(STAMP)
	$(BIN)/python -m bench.serial_link

## The agent's RSS and CPU while printing at >= 1,000 lines/s, next to the bare firmware bridge.
bench-agent: $(STAMP)
	$(BIN)/python -m bench.agent_footprint

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
