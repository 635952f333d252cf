# Monero Marketplace: one entry point per job. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8080
# Debian packages are installed with apt-get only when missing: monero and gnupg for `make run`
# (system-deps-run); postgresql, chromium, monero
# (monerod and monero-wallet-rpc for the regtest tests), gnupg, prometheus (with promtool),
# prometheus-alertmanager (with amtool) and prometheus-node-exporter for `make test` (system-deps-test),
# wrk, monero and gnupg for `make bench` (system-deps-bench; the escrow figures run on regtest).

.PHONY: help run test lint bench format clean system-deps-run system-deps-test system-deps-bench

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

run: $(BIN)/.runtime system-deps-run ## Install what is needed and run the whole stack on Monero regtest at http://127.0.0.1:8080 (Ctrl-C stops it)
	@# `marketplace dev`: monerod, the signer wallets, a demo buyer wallet with coins, web, worker,
	@# demo data, a block every 5 s; the chain and the data are kept in $${MARKETPLACE_DATA_DIR:-data}.
	MARKETPLACE_ENV=development $(BIN)/marketplace dev --host $(HOST) --port $(PORT) --data-dir $${MARKETPLACE_DATA_DIR:-data}

test: $(BIN)/.dev system-deps-test ## Install what is needed and run every test (SQLite, PostgreSQL, Chromium, Monero regtest)
	@# The regtest tests share one Monero chain: they run in one process of their own, beside
	@# the others (xdist); the target fails if either run fails.
	$(BIN)/pytest -q -m regtest > .regtest-tests.log 2>&1 & regtest=$$!; \
	$(BIN)/pytest -n auto -m "not regtest"; others=$$?; \
	wait $$regtest; status=$$?; cat .regtest-tests.log; rm -f .regtest-tests.log; \
	exit $$(( others || status ))

lint: $(BIN)/.dev ## ruff (lint and format check) and mypy (strict)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: $(BIN)/.dev ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

bench: $(BIN)/.dev system-deps-bench ## Run the benchmarks in bench/ and print their tables
	$(BIN)/python -m bench

clean: ## Remove the virtualenv and local data
	rm -rf $(VENV) data

# The virtualenv: created with the system Python, filled from the hash-locked requirements only.
$(VENV)/.created:
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; }
	$(PYTHON) -m venv $(VENV)
	touch $@

$(BIN)/.runtime: $(VENV)/.created requirements.lock pyproject.toml
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

$(BIN)/.dev: $(VENV)/.created requirements-dev.lock pyproject.toml
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@ $(BIN)/.runtime

system-deps-test:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v monerod >/dev/null || missing="$$missing monero"; \
	command -v gpg >/dev/null || missing="$$missing gnupg"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v amtool >/dev/null || missing="$$missing prometheus-alertmanager"; \
	command -v prometheus-node-exporter >/dev/null || missing="$$missing prometheus-node-exporter"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

system-deps-run:
	@missing=""; \
	command -v monerod >/dev/null || missing="$$missing monero"; \
	command -v gpg >/dev/null || missing="$$missing gnupg"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

system-deps-bench:
	@missing=""; \
	command -v wrk >/dev/null || missing="$$missing wrk"; \
	command -v monerod >/dev/null || missing="$$missing monero"; \
	command -v gpg >/dev/null || missing="$$missing gnupg"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
