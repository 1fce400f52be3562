# 3D Pot — every entry point a person or CI needs. Each target sets up the venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

WEB     := dashboards/web
WEB_OUT := $(WEB)/dist/index.html
WEB_DEPS := $(WEB)/node_modules/.installed
WEB_SRC := $(shell find $(WEB)/src -type f 2>/dev/null) $(wildcard $(WEB)/public/*) $(WEB)/index.html \
	$(WEB)/package.json $(WEB)/vite.config.ts $(WEB)/tsconfig.json $(WEB)/tsconfig.node.json

.PHONY: venv demo test test-unit test-integration lint bench bench-agent bench-slicer bench-ingest bench-api bench-load bench-designs bench-design-turns clean web chaos soak

venv: $(STAMP)

# compileall: the .pyc files an install would have. An editable checkout run with PYTHONDONTWRITEBYTECODE=1
# recompiles every module it imports at each start otherwise (20-40 ms of a `python -m slicing` run).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/python -m compileall -q -x /node_modules/ contract firmware_bridge edge_agent cloud slicing dashboards threedpot
	touch $(STAMP)

## Run the main job on embedded defaults: broker, cloud on SQLite, three virtual printers with agents, a job printing.
demo: $(STAMP) web
	$(BIN)/3dpot demo

## The fleet web UI (served by the cloud at /): npm ci, then a type-checked Vite build into $(WEB)/dist.
web: $(WEB_OUT)

$(WEB_DEPS): $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund
	touch $@

$(WEB_OUT): $(WEB_DEPS) $(WEB_SRC)
	cd $(WEB) && npm run build

## Every test: unit and integration (real Mosquitto, PostgreSQL, pty printers, Chromium on the web UI).
test: $(STAMP) web
	$(BIN)/pytest

test-unit: $(STAMP)
	$(BIN)/pytest tests/unit

test-integration: $(STAMP) web
	$(BIN)/pytest -m integration

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## Benchmarks (figures printed side by side with their reference; copy them into the README).
bench: $(STAMP)
	$(BIN)/python -m bench.serial_link
	$(MAKE) bench-slicer

## Our slicer vs CuraEngine and PrusaSlicer (apt-get install cura-engine prusa-slicer) on the same meshes.
bench-slicer: $(STAMP)
	$(BIN)/python -m bench.slicer

## Design studio: build and 512 px preview of every family at default size, next to the goals.
bench-designs: $(STAMP)
	$(BIN)/python -m bench.designs

## Design studio: turn latency (median, p95) of the scripted conversations, built-in engine, goal p95 < 200 ms.
bench-design-turns: $(STAMP)
	$(BIN)/python -m bench.design_turns

## The agent's RSS and CPU while printing at >= 1,000 lines/s, next to the bare firmware bridge.
bench-agent: $(STAMP)
	$(BIN)/python -m bench.agent_footprint

## Cloud MQTT ingest: 10,000 simulated printers through Mosquitto, msg/s and publish-to-API latency,
## next to mosquitto_sub's raw rate. ARGS="--database-url postgresql://... --replicas 2" for PostgreSQL.
bench-ingest: $(STAMP)
	$(BIN)/python -m bench.cloud_ingest $(ARGS)

## Cloud API: the fleet summary of 1,000 printers under wrk (apt-get install wrk), next to /healthz.
bench-api: $(STAMP)
	$(BIN)/python -m bench.cloud_api $(ARGS)

## Both cloud loads at once on one cloud: 10,000 printers ingested and wrk on the fleet summary, next to
## each alone, in one run (apt-get install wrk). ARGS="--replicas 2 --database-url postgresql://..." as above.
bench-load: $(STAMP)
	$(BIN)/python -m bench.cloud_load $(ARGS)

## Chaos, full: a real farm (cloud on its own PostgreSQL, Mosquitto, 3 agents) through every fault,
## longer outages (a 60 s broker cut). Report path printed at the end. docs/RELIABILITY.md has the figures.
chaos: $(STAMP)
	CHAOS_FULL=1 $(BIN)/pytest tests/system/test_chaos.py

## Soak: SOAK_AGENTS agents (50) printing for SOAK_S seconds (600); RSS slopes, logs, every job accounted for.
soak: $(STAMP)
	SOAK=1 $(BIN)/pytest tests/system/test_soak.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache $(WEB)/dist $(WEB)/node_modules
