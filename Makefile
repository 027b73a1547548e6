# Two entry points for users: `make demo` and `make test`. Both set everything up
# from a fresh clone: virtualenv, Python packages, and (on first use) the Kafka jars.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup tools test lint typecheck schemas pytest demo demo-stop asyncapi bench soak clean

$(STAMP): pyproject.toml devkit/pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]' -e ./devkit
	touch $@

setup: $(STAMP)

# promtool (Debian's prometheus package), kustomize (Go module proxy): checking tools
# used by the operator-kit and Kubernetes tests. A fast no-op once installed.
tools: setup
	scripts/install-tools.sh

lint: setup
	$(BIN)/ruff check .

typecheck: setup
	$(BIN)/mypy

schemas: setup
	$(BIN)/lgsp schemas check

# The pytest session starts its own broker on free ports and stops it at the end,
# whether the tests pass or fail.
pytest: setup tools
	$(BIN)/pytest

test: lint typecheck schemas pytest

demo: setup
	$(BIN)/python -m devkit.demo

# Stops a demo running in another terminal, and everything it started.
demo-stop:
	$(BIN)/python -m devkit.demo stop

# Regenerate docs/asyncapi.json after a schema change (tests/unit/test_asyncapi.py checks it).
asyncapi: setup
	$(BIN)/lgsp schemas asyncapi --out docs/asyncapi.json

# Throughput, latency and memory of the whole pipeline beside raw Kafka and HTTP baselines
# (a few minutes); BENCH_ARGS="--quick" for a smoke run, see `lgsp bench --help`.
bench: setup
	$(BIN)/lgsp bench $(BENCH_ARGS)

# The fault suite's long form: 200,000+ transactions under every fault, plus gateway memory.
soak: setup
	$(BIN)/pytest -m soak tests/faults tests/importer

clean:
	-$(BIN)/lgsp kafka down
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
