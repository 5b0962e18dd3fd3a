# shipdeck — every target creates/reuses .venv and installs what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: demo test lint bench screenshots system clean format

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q -U pip >/dev/null
	@$(PY) -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

# Debian packages the rig and the demo drive (dockerd, sshd, registry, nginx, HAProxy, Prometheus, wrk, hey).
system:
	@bash console/demo/rig/system-packages.sh

demo: $(STAMP) system
	@$(PY) -m console demo

test: $(STAMP) system
	@$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: $(STAMP)
	@$(VENV)/bin/ruff check console engines tests bench
	@$(VENV)/bin/ruff format --check console engines tests bench
	@$(VENV)/bin/lint-imports
	@$(VENV)/bin/mypy console/core engines

format: $(STAMP)
	@$(VENV)/bin/ruff check --fix console engines tests bench
	@$(VENV)/bin/ruff format console engines tests bench

bench: $(STAMP) system
	@$(PY) -m bench

screenshots: $(STAMP) system
	@$(PY) -m console demo --screenshots screenshots

clean:
	@$(PY) -m console demo --down 2>/dev/null || true
	rm -rf $(VENV) .pytest_cache .ruff_cache
