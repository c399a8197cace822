# Local development and CI entry points. `make run` starts everything on this machine; `make test` is
# what CI runs (through .ci/run). Every tool comes from .venv, which `make venv` keeps up to date.

VENV := .venv
PYTHON := $(VENV)/bin/python
PYTEST := $(VENV)/bin/pytest
PYTEST_ARGS ?= --durations=30

.DEFAULT_GOAL := help
.PHONY: help run test lint unit integration e2e venv rabbitmq chromium keys bench clean migrate

help:
	@echo "make run          start RabbitMQ and the four services on SQLite under var/, with demo API keys"
	@echo "make test         venv + rabbitmq + chromium + lint + every test (what CI runs)"
	@echo "make lint         ruff and the import-linter contracts"
	@echo "make unit         unit tests only (no broker needed)"
	@echo "make integration  integration tests (RabbitMQ, PostgreSQL)"
	@echo "make e2e          end-to-end tests"
	@echo "make venv         create/update .venv"
	@echo "make rabbitmq     install/start RabbitMQ and enable its plugins"
	@echo "make keys [NAME=n ROLE=r [DEPARTMENT=d]]   list the API keys, or add one"
	@echo "make bench        every benchmark under bench/, then one table of figures, baselines and targets"
	@echo "                  (bench/results/latest.json); BENCH_QUICK=1: short rounds, BENCH_ONLY='a b': some"
	@echo "make clean        remove var/ (databases, keys, logs)"
	@echo "make migrate [SERVICES='a b']   upgrade each service's database to its head revision (Alembic)"

venv:
	@bash scripts/ensure-venv.sh

rabbitmq:
	@bash scripts/ensure-rabbitmq.sh

# Debian's Chromium for the console's browser test (tests/e2e/test_console_browser.py)
chromium:
	@bash scripts/ensure-chromium.sh

run: venv rabbitmq
	$(PYTHON) scripts/run_local.py

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

test: venv rabbitmq chromium lint
	$(PYTEST) $(PYTEST_ARGS)

unit: venv
	$(PYTEST) tests/unit $(PYTEST_ARGS)

integration: venv rabbitmq
	$(PYTEST) tests/integration $(PYTEST_ARGS)

e2e: venv rabbitmq
	$(PYTEST) tests/e2e $(PYTEST_ARGS)

# `make keys` lists the keys; `make keys NAME=desk-1 ROLE=operator [DEPARTMENT=D1]` adds one and prints it.
# Only a NAME given on the command line counts (some shells export NAME as the host name).
keys: venv
ifeq ($(origin NAME),command line)
	$(VENV)/bin/xiaoneng keys add '$(NAME)' --role '$(ROLE)' $(if $(DEPARTMENT),--department '$(DEPARTMENT)')
else
	$(VENV)/bin/xiaoneng keys list
endif

# Each benchmark's output goes to bench/results/logs/ (BENCH_VERBOSE=1: to the terminal too); the table and
# bench/results/latest.json (quick mode: quick.json) come from bench/_table.py.
bench: venv rabbitmq
	$(PYTHON) bench/_table.py

clean:
	rm -rf var/

# Each service's database as its config says (services/<name>/config.yaml, env substituted): a fresh one is
# created and stamped, one behind the head revision upgraded. Containers do the same before they start.
migrate: venv
	$(PYTHON) -m deploy migrate $(SERVICES)
