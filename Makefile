# SEL: `make run` and `make test` do all the set-up themselves (see README).
# GPU=cuda builds llama.cpp with CUDA offload: `make setup GPU=cuda`.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
GPU ?= cpu
STAMP := $(VENV)/.sel-installed-$(GPU)

.PHONY: run test setup models lint format bench clean

run: setup
	@$(PY) -m sel run

test: setup
	$(PY) -m ruff check sel tests scripts
	$(PY) -m mypy
	$(PY) -m pytest

setup: $(STAMP) models

$(STAMP): pyproject.toml scripts/setup.sh
	@GPU=$(GPU) PYTHON=$(PYTHON) VENV=$(VENV) bash scripts/setup.sh
	@rm -f $(VENV)/.sel-installed-*
	@touch $@

models: $(STAMP)
	@$(PY) -m sel models >&2

lint: setup
	$(PY) -m ruff check sel tests scripts
	$(PY) -m ruff format --check sel tests scripts
	$(PY) -m mypy

format: setup
	$(PY) -m ruff format sel tests scripts

bench: setup
	$(PY) -m sel bench --json

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
