# The only commands a newcomer needs: make run, make test, make lint, make fmt, make bench.
# Everything runs from the project's virtualenv in .venv, made on first use.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
# Reinstalled whenever pyproject.toml is newer than this stamp.
STAMP := $(VENV)/.installed
PYTHON ?= $(shell command -v python3.11 || command -v python3)
ADDR ?= 127.0.0.1:8000

.PHONY: help venv run lint fmt test bench schema clean distclean

help:
	@echo "make run    - web, worker and scheduler on SQLite with the demo apps ($(ADDR))"
	@echo "make test   - lint, unit suite on SQLite, integration suite on PostgreSQL"
	@echo "make lint   - ruff check, ruff format --check, mypy"
	@echo "make fmt    - ruff format and ruff check --fix"
	@echo "make bench  - bench/run.py (its own PostgreSQL and Redis under var/bench/)"
	@echo "make schema - rewrite schema.graphql from the code (commit it with API changes)"
	@echo "make clean  - caches and test reports (distclean: also .venv and var/)"

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "make venv: no python3.11 or python3 on PATH" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "make venv: $(PYTHON) is older than Python 3.11" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

run: venv
	@bash scripts/run $(ADDR)

lint: venv
	@bash scripts/lint

fmt: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: venv
	@bash scripts/test

# bench/run.py starts its own durable PostgreSQL (fsync on) and Redis under var/bench/.
bench: venv
	$(BIN)/python bench/run.py

schema: venv
	DJANGO_SETTINGS_MODULE=dajian.settings $(BIN)/python -c 'import django; django.setup(); \
		from dajian.schema import schema; open("schema.graphql", "w").write(str(schema).strip() + "\n")'

clean:
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m tests.pgcluster stop; fi
	rm -rf .pytest_cache .mypy_cache .ruff_cache build dist var/test-reports
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) var *.egg-info
