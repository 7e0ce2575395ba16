# mediamon: `make demo` and `make test` are all a fresh machine needs (Python 3.11, a JDK 17+,
# Maven; Go for the compose check in `make lint`). Everything else installs from
# requirements.lock into .venv (and Go modules pinned by deploy/composecheck/go.sum).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install demo test test-unit test-integration test-faults test-containers bench-alerts lint compose-check k8s-check audit format lock clean stack-up stack-down

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  %-18s %s\n", $$1, $$2}'

# the native module (native/, Rust) builds with cargo from rustup; without cargo it is left out
export PATH := $(HOME)/.cargo/bin:$(PATH)

$(STAMP): requirements.lock pyproject.toml native/Cargo.toml native/Cargo.lock $(wildcard native/src/*.rs native/src/*/*.rs)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-virtualenv -r requirements.lock
	@# the native module is optional to setuptools-rust: a failed build must not leave an
	@# older one in place (tests/unit/test_native.py then fails for want of the module)
	rm -f pipeline/_native*.so
	$(BIN)/pip install --quiet --no-deps -e .
	@# bytecode as an installed package has it: where PYTHONDONTWRITEBYTECODE is set, an
	@# editable install would compile ~25 modules at every start (0.31 -> 0.23 s)
	$(BIN)/python -m compileall -q mediamon pipeline connectors > /dev/null
	touch $@

install: $(STAMP) ## Create .venv with the pinned dependencies and mediamon itself

demo: $(STAMP) ## Start the stack and run the pipeline on the sample feeds
	$(BIN)/mediamon demo

test: $(STAMP) ## Lint, then the whole suite, fault injection included (starts its own servers)
	$(MAKE) lint
	$(BIN)/pytest

test-unit: $(STAMP) ## Unit tests only (no services)
	$(BIN)/pytest tests/unit

test-integration: $(STAMP) ## Integration and end-to-end tests (real servers)
	$(BIN)/pytest tests/integration

test-faults: $(STAMP) ## Fault injection (own Kafka/Elasticsearch on 29092/29200; docs/fault-injection.md)
	$(BIN)/pytest tests/faults

test-containers: $(STAMP) ## The image built with podman and run as containers (root, podman, debootstrap)
	$(BIN)/pytest tests/containers

RULES ?= 1000
RATE ?= 200
bench-alerts: $(STAMP) ## Alert latency on its own stack (RULES=1000 RATE=200); ends with the figure in one line
	$(BIN)/python -m benchmarks alerts --rules $(RULES) --rate $(RATE) --windows 0.25 --presearch on --no-matcher

lint: $(STAMP) ## ruff (lint and format check), mypy, the layer contracts, rustfmt and clippy, the dependency audit
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	cd native && cargo fmt --check && cargo clippy --release --locked --quiet -- -D warnings
	$(BIN)/python -m deploy.runtime_lock --check
	$(MAKE) --no-print-directory compose-check
	$(MAKE) --no-print-directory k8s-check
	$(MAKE) --no-print-directory audit

GOENV := GOFLAGS=-mod=readonly GOMODCACHE=$(CURDIR)/.cache/go/mod GOCACHE=$(CURDIR)/.cache/go/build
compose-check: ## Load both compose files with compose-go (docker compose's own loader): no error, no warning
	cd deploy/composecheck && $(GOENV) go build -o $(CURDIR)/.cache/composecheck .
	.cache/composecheck

k8s-check: $(STAMP) ## Render deploy/kubernetes and its examples; strict Kubernetes schemas and cross-checks (offline)
	$(BIN)/python -m deploy.k8s_check

audit: $(STAMP) ## pip-audit of requirements.lock (exceptions: audit-exceptions.toml); says so when it cannot
	$(BIN)/python -m deploy.audit

format: $(STAMP) ## Apply ruff's formatting and safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lock: ## Re-resolve requirements.lock from pyproject.toml (needs network)
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/pip install --quiet -e '.[dev]'
	.lockenv/bin/pip freeze --exclude-editable | grep -v '^mediamon' > requirements.lock
	rm -rf .lockenv

stack-up: $(STAMP) ## Start local Kafka and Elasticsearch
	$(BIN)/mediamon stack up

stack-down: $(STAMP) ## Stop them
	$(BIN)/mediamon stack down

clean: ## Remove the virtualenv and local state (not the jar cache)
	rm -rf $(VENV) .audit-venv .state .pytest_cache .mypy_cache .ruff_cache native/target pipeline/_native*.so
