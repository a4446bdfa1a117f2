# The two set-up commands (README "Quick start"):
#   make demo   - virtualenv + sensorkit, then a simulated run through the whole pipeline
#   make test   - everything the tests need (Python and Debian packages), then the whole suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DEMO_ARGS ?= --speed 30 --duration-min 32
PYTEST_ARGS ?=

.PHONY: demo test check bench system-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $(VENV)/.runtime $@

demo: $(VENV)/.runtime
	$(BIN)/sensorkit demo $(DEMO_ARGS)

system-deps:
	./scripts/install-system-deps

test: $(VENV)/.dev system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check: $(VENV)/.dev
	$(BIN)/ruff check sensorkit tests bench
	$(BIN)/mypy

bench: $(VENV)/.dev
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
