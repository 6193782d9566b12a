# Two commands on a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := conformance/node_modules/.installed
CLIENTS_STAMP := clients/node_modules/.installed
EXAMPLE_STAMP := examples/frontends/node_modules/.installed
HOST ?= 127.0.0.1
PORT ?= 8787
DATABASE ?= .wakeful/wakeful.db
REGISTRY ?= examples.app:registry

.PHONY: run test lint typecheck pytest conformance bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(NODE_STAMP): conformance/package.json conformance/package-lock.json
	cd conformance && npm install --no-audit --no-fund --no-save --loglevel=error
	touch $@

# The front-end clients (the AI SDK, AG-UI) the threads tests drive from Node.
$(CLIENTS_STAMP): clients/package.json clients/package-lock.json
	cd clients && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The useChat example page (React, @ai-sdk/react, esbuild), which the browser tests build.
$(EXAMPLE_STAMP): examples/frontends/package.json examples/frontends/package-lock.json
	cd examples/frontends && npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: $(STAMP)
	mkdir -p $(dir $(DATABASE))
	$(BIN)/wakeful serve $(REGISTRY) --host $(HOST) --port $(PORT) --database $(DATABASE)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) $(NODE_STAMP) $(CLIENTS_STAMP) $(EXAMPLE_STAMP)
	$(BIN)/pytest -q

test: lint typecheck pytest

conformance: $(STAMP) $(NODE_STAMP)
	$(BIN)/pytest -q tests/streams/test_conformance.py

bench: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/streams_bench.py
	$(BIN)/python bench/entities_bench.py
	$(BIN)/python bench/agent_bench.py

clean:
	rm -rf $(VENV) conformance/node_modules clients/node_modules \
		examples/frontends/node_modules examples/frontends/dist
