# asrfleet — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
CONSTRAINTS := requirements/constraints.txt
VENV_STAMP := $(VENV)/.installed

##@ Setup
.PHONY: venv
venv: $(VENV_STAMP) ## Create the dev venv (.venv) with both packages editable and the test tools

$(VENV_STAMP): inference_image/pyproject.toml operator/pyproject.toml requirements/dev.txt $(CONSTRAINTS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c $(CONSTRAINTS) -e 'inference_image[models]' -e operator -r requirements/dev.txt
	# helm-sdkpy declares Python >= 3.12 but works on 3.11 (see DESIGN.md)
	$(PIP) install --quiet -c $(CONSTRAINTS) --ignore-requires-python helm-sdkpy
	touch $@

##@ Quality
.PHONY: test
test: venv ## Run the unit and integration tests
	$(PY) -m pytest

.PHONY: lint
lint: venv ## Lint (ruff) and type-check (mypy)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy inference_image/asr_server operator/asrfleet_operator

##@ Help
.PHONY: help
help: ## List the targets, grouped
	@awk 'BEGIN {FS = ":.*##"} /^##@/ {printf "\n\033[1m%s\033[0m\n", substr($$0, 5)} /^[a-zA-Z_-]+:.*##/ {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)
