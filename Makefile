# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
CHROMIUM ?= /usr/bin/chromium

# requirements*.txt are pinned with hashes from requirements*.in: production (what the Procfile runs), the local
# default (embedded PostgreSQL and Redis, Radicale for the sandbox) and development (tests, lint).
RUN_REQUIREMENTS := requirements.txt requirements-local.txt
DEV_REQUIREMENTS := $(RUN_REQUIREMENTS) requirements-dev.txt
PIP_VERSION := 26.3

.PHONY: run test check lint bench chromium lock test-packages

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is required (python3.11 not found)."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet pip==$(PIP_VERSION)

$(VENV)/.installed-run: $(RUN_REQUIREMENTS) | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes $(addprefix -r ,$(RUN_REQUIREMENTS))
	@touch $@

$(VENV)/.installed-dev: $(DEV_REQUIREMENTS) | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes $(addprefix -r ,$(DEV_REQUIREMENTS))
	@touch $@ $(VENV)/.installed-run

# After editing a requirements*.in: re-pin every requirements*.txt (pip-tools in a throwaway venv).
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet pip==25.0.1 pip-tools==7.6.2
	for name in requirements requirements-local requirements-dev; do \
		.venv-lock/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
			--no-emit-find-links --output-file $$name.txt $$name.in || exit 1; \
	done
	rm -rf .venv-lock

run: $(VENV)/.installed-run
	$(BIN)/python -m local

chromium:
	@if [ ! -x "$(CHROMIUM)" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing Debian's chromium for the browser tests..."; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "The browser tests need Chromium at $(CHROMIUM): install it (Debian: sudo apt-get install chromium)."; \
			exit 1; \
		fi; \
	fi

# Debian packages two tests start themselves on loopback (never as services): nginx, as the TLS reverse proxy in
# front of gunicorn, and a PostgreSQL server built with TLS (the embedded one is not), for sslmode in DATABASE_URL.
test-packages:
	@missing=""; \
	command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing Debian's$$missing for the transport tests..."; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else \
			echo "The transport tests need Debian's$$missing: sudo apt-get install$$missing"; \
			exit 1; \
		fi; \
	fi

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

# One pytest-xdist worker per core; `pytest -m "not slow"` skips browsers and real-process tests while iterating.
test: $(VENV)/.installed-dev chromium test-packages lint
	$(BIN)/pytest -q -n auto --dist worksteal

# The quick loop while working: lint and every test not marked slow (no browser, no real-process drills).
check: $(VENV)/.installed-dev lint
	$(BIN)/pytest -q -n auto --dist worksteal -m "not slow"

# Every benchmark in bench/__main__.py, tables with the targets beside them, figures in bench/results/*.json;
# QUICK=1: tiny sizes (checks they still run), SCALE=10: ten times the users.
bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench $(if $(QUICK),--quick) $(if $(SCALE),--scale $(SCALE))
