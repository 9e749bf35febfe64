# asrfleet — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
CONSTRAINTS := requirements/constraints.txt
VENV_STAMP := $(VENV)/.installed
CHART := charts/asrfleet

# One version for both images: the chart's appVersion (override: make images VERSION=0.2.0).
VERSION ?= $(shell sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}/\1/p' $(CHART)/Chart.yaml)
REGISTRY ?= ghcr.io/asrfleet
SERVER_IMAGE := $(REGISTRY)/asr-server:$(VERSION)
OPERATOR_IMAGE := $(REGISTRY)/operator:$(VERSION)
# Benchmarks `make bench` runs; each prints its figures and a ratio against an anchor measured
# in the same run (the peers run only where their git-ignored venvs exist, see bench/*.py).
BENCHES ?= bench/server_latency.py bench/audio_decode.py bench/peer_throughput.py bench/streaming.py
# `make install` settings.
RELEASE ?= asrfleet
NAMESPACE ?= asrfleet-system
HELM_ARGS ?=

##@ Setup
.PHONY: venv
venv: $(VENV_STAMP) ## Create the dev venv (.venv) with both packages editable and the test tools

$(VENV_STAMP): inference_image/pyproject.toml operator/pyproject.toml requirements/dev.txt $(CONSTRAINTS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c $(CONSTRAINTS) -e 'inference_image[models,torch]' -e operator -r requirements/dev.txt
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

.PHONY: e2e
e2e: venv ## End-to-end tests against the cluster in KUBECONFIG (kind/k3d; skipped without one)
	$(PY) -m pytest tests/e2e -m e2e -rs

##@ Run

.PHONY: demo
demo: venv ## Operator + emulated cluster + inference server; transcribe and stream ../shared/audio/jfk.flac
	$(PY) scripts/demo.py

.PHONY: bench
bench: venv ## Run the benchmarks (BENCHES=...; figures and ratios, never part of `make test`)
	@set -e; for script in $(BENCHES); do echo "== $$script"; $(PY) "$$script"; done

##@ Kubernetes

.PHONY: helm-lint
helm-lint: venv ## Lint the chart (helm when on PATH, else Helm's library via helm-sdkpy)
	@if command -v helm >/dev/null; then helm lint $(CHART); \
	else $(PY) scripts/helm_chart.py lint $(CHART); fi

.PHONY: install
install: venv ## helm install the operator into the current kube context (RELEASE, NAMESPACE, HELM_ARGS)
	@if command -v helm >/dev/null; then \
	  helm upgrade --install $(RELEASE) $(CHART) -n $(NAMESPACE) --create-namespace $(HELM_ARGS); \
	else $(PY) scripts/helm_chart.py upgrade --install $(RELEASE) $(CHART) -n $(NAMESPACE) --create-namespace $(HELM_ARGS); fi

.PHONY: sync-crds chart
sync-crds: ## Copy crds/ into the chart (a test fails when they differ)
	cp crds/*.yaml $(CHART)/crds/
chart: sync-crds helm-lint ## Sync the chart's CRDs and lint it

.PHONY: images
images: ## Build both images tagged $(VERSION) (needs a running docker)
	@command -v docker >/dev/null || { echo "images: docker is not installed here; run this on a machine with docker" >&2; exit 1; }
	@docker info >/dev/null 2>&1 || { echo "images: docker is installed but its daemon is not reachable (docker info failed)" >&2; exit 1; }
	docker build -f inference_image/Dockerfile -t $(SERVER_IMAGE) .
	docker build -f operator/Dockerfile -t $(OPERATOR_IMAGE) .
	@echo "built $(SERVER_IMAGE) and $(OPERATOR_IMAGE)"

##@ Maintenance

.PHONY: docs reference
docs: reference ## Regenerate generated documentation
reference: venv ## Regenerate the SpeechRecognizer reference (docs/reference.md) from the CRD schema
	$(PY) scripts/gen_reference.py

.PHONY: constraints
constraints: venv ## Re-pin requirements/constraints.txt from the dev venv
	{ echo "# Every package CI installs, pinned. Regenerate with \`make constraints\` after changing a dependency."; \
	  $(PIP) freeze --exclude-editable | grep -v '^-e '; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)

.PHONY: clean distclean
clean: ## Remove caches and demo state (keeps the venv)
	rm -rf .demo .pytest_cache .ruff_cache .mypy_cache build dist
	find . -path ./.venv -prune -o -name __pycache__ -type d -exec rm -rf {} +
distclean: clean ## Also remove the venv
	rm -rf $(VENV)

##@ Help
.PHONY: help
help: ## List the targets, grouped
	@awk 'BEGIN {FS = ":.*##"} /^##@/ {printf "\n\033[1m%s\033[0m\n", substr($$0, 5)} /^[a-zA-Z0-9_-]+:.*##/ {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)
