# gongjian — the two commands of the README, and the rest. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
DEMO_SEED ?= 7
DEMO_SCALE ?= city
STAMP := $(VENV)/.installed
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
NPM ?= npm
NODE_STAMP := node_modules/.installed
VENDOR := src/gongjian/web/static/vendor
VENDOR_STAMP := $(VENDOR)/.copied

.DEFAULT_GOAL := help
.PHONY: help install assets demo serve test fuzz lint typecheck migrations-check bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml uv.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(BIN)/pip install --quiet "uv==0.13.9"
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --extra dev --quiet --compile-bytecode
	$(BIN)/python -m compileall -q src
	@touch $(STAMP)

install: $(STAMP) assets ## Create .venv, install the locked dependencies and the front-end assets

# npm ci only when package.json or its lock changed since the last install (never run
# the packages' install scripts: none of ours needs one).
$(NODE_STAMP): package.json package-lock.json
	$(NPM) ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

# The built files the pages load, served at /static/vendor/ (generated, not committed).
$(VENDOR_STAMP): $(NODE_STAMP)
	rm -rf $(VENDOR)
	mkdir -p $(VENDOR)/leaflet $(VENDOR)/swagger-ui $(VENDOR)/licenses
	cp node_modules/echarts/dist/echarts.min.js $(VENDOR)/echarts.min.js
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx.min.js
	cp node_modules/axe-core/axe.min.js $(VENDOR)/axe.min.js
	cp node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css $(VENDOR)/leaflet/
	cp -r node_modules/leaflet/dist/images $(VENDOR)/leaflet/images
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css $(VENDOR)/swagger-ui/
	for pkg in echarts htmx.org axe-core leaflet swagger-ui-dist; do \
	  cp node_modules/$$pkg/LICENSE $(VENDOR)/licenses/$$pkg.LICENSE.txt || exit 1; done
	@touch $(VENDOR_STAMP)

assets: $(VENDOR_STAMP) ## npm ci (when package.json or its lock changed) and copy the built files into web/static/vendor/

demo: install ## Set up, load the demo city (DEMO_SCALE=city|small, DEMO_SEED=7), serve on :8000
	$(BIN)/gongjian demo --reset --seed $(DEMO_SEED) --scale $(DEMO_SCALE)
	$(BIN)/gongjian serve

serve: install ## Serve the web app on http://127.0.0.1:8000
	$(BIN)/gongjian serve

test: install lint migrations-check ## Install what tests need and run every test, on SQLite and PostgreSQL
	$(BIN)/pytest -q -n 2

fuzz: install ## Fuzz the API from /openapi.json as every role, 100 examples per operation
	GONGJIAN_FUZZ_EXAMPLES=100 $(BIN)/pytest -q -n 2 tests/fuzz

lint: install ## ruff (lint and format check) and mypy
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

migrations-check: install ## alembic upgrade head on a new PostgreSQL database, then alembic check
	$(BIN)/python bin/db-check --admin-url $(PG_TEST_URL)

bench: install ## Run the benchmarks and write bench/results/*.json
	@for script in bench/[!_]*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean: ## Remove the venv, the local database and caches
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache node_modules $(VENDOR)
