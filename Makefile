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

# One version for all images: the chart's appVersion (override: make images VERSION=0.2.0).
VERSION ?= $(shell sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}/\1/p' $(CHART)/Chart.yaml)
REGISTRY ?= ghcr.io/asrfleet
SERVER_IMAGE := $(REGISTRY)/asr-server:$(VERSION)
# The server image's PyTorch build (engine: torch), named as the chart and operator default it.
TORCH_SERVER_IMAGE := $(SERVER_IMAGE)-torch
OPERATOR_IMAGE := $(REGISTRY)/operator:$(VERSION)
# `make images`: docker where its daemon answers, else podman (or IMAGE_ENGINE=...), found once.
ifndef IMAGE_ENGINE
IMAGE_ENGINE = $(eval IMAGE_ENGINE := $(shell if docker info >/dev/null 2>&1; then echo docker; \
  elif command -v podman >/dev/null 2>&1; then echo podman; fi))$(IMAGE_ENGINE)
endif
# The images' base (default: the Dockerfiles' python:3.11-slim).
BASE_IMAGE ?=
# Where the PyTorch build's pip finds torch's CPU build (default: the Dockerfile's, PyTorch's
# CPU index); TORCH_INDEX_URL= (empty) for the build machine's own pip sources.
TORCH_INDEX_URL ?= https://download.pytorch.org/whl/cpu
torch_flags = --build-arg ENGINE_EXTRAS=torch --build-arg TORCH_INDEX_URL=$(TORCH_INDEX_URL)
# podman 4 reads no <Dockerfile>.dockerignore, and its default OCI format drops HEALTHCHECK.
image_flags = $(if $(filter podman,$(IMAGE_ENGINE)),--format docker --ignorefile $(1).dockerignore) \
  $(if $(BASE_IMAGE),--build-arg BASE_IMAGE=$(BASE_IMAGE))
# `make image-test`'s private podman configuration and storage (git-ignored).
PODMAN_WORK := .podman
# Benchmarks `make bench` runs; each prints its figures and a ratio against an anchor measured
# in the same run (the peers run only where their git-ignored venvs exist, see bench/*.py).
BENCHES ?= bench/server_latency.py bench/audio_decode.py bench/peer_throughput.py bench/streaming.py bench/model_cache.py
# `make demo DEMO_ARGS=--keep-running` keeps the demo's processes (and its console) up until Ctrl-C.
DEMO_ARGS ?=
# `make install` settings.
RELEASE ?= asrfleet
NAMESPACE ?= asrfleet-system
HELM_ARGS ?=
# The management console's front end: npm sources, bundled into the console package (git-ignored).
CONSOLE_UI := operator/console-ui
CONSOLE_STATIC := operator/asrfleet_operator/console/static
CONSOLE_UI_STAMP := $(CONSOLE_STATIC)/index.html
CONSOLE_PORT ?= 8090

##@ Setup
.PHONY: venv
venv: $(VENV_STAMP) ## Create the dev venv (.venv) with both packages editable and the test tools

$(VENV_STAMP): inference_image/pyproject.toml operator/pyproject.toml requirements/dev.txt $(CONSTRAINTS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet -c $(CONSTRAINTS) pip
	$(PIP) install --quiet -c $(CONSTRAINTS) -e 'inference_image[models,torch]' -e operator -r requirements/dev.txt
	# helm-sdkpy (Helm's engine for the chart tests) declares Python >= 3.12 but works on 3.11
	$(PIP) install --quiet -c $(CONSTRAINTS) --ignore-requires-python helm-sdkpy
	touch $@

##@ Quality
.PHONY: test
test: venv console-ui ## Run the unit and integration tests (the console's in a real browser)
	$(PY) -m pytest

.PHONY: lint
lint: venv ## Lint (ruff) and type-check (mypy)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy inference_image/asr_server operator/asrfleet_operator
	@# scripts/ import their neighbours and tests/support as top-level modules
	MYPYPATH=scripts:scripts/images:tests $(VENV)/bin/mypy scripts

.PHONY: e2e
e2e: venv ## End-to-end tests against the cluster in KUBECONFIG (kind/k3d; skipped without one)
	$(PY) -m pytest tests/e2e -m e2e -rs

##@ Run

.PHONY: demo
demo: venv console-ui ## Operator + emulated cluster + inference server + console; transcribe and stream ../shared/audio/jfk.flac (DEMO_ARGS=--keep-running)
	$(PY) scripts/demo.py $(DEMO_ARGS)

.PHONY: bench
bench: venv ## Run the benchmarks (BENCHES=...; figures and ratios, never part of `make test`)
	@set -e; for script in $(BENCHES); do echo "== $$script"; $(PY) "$$script"; done

##@ Console
.PHONY: console-ui console-screenshots console
console-ui: $(CONSOLE_UI_STAMP) ## Build the console's front end (npm ci + esbuild, pinned by package-lock.json)

$(CONSOLE_UI_STAMP): $(CONSOLE_UI)/package.json $(CONSOLE_UI)/package-lock.json $(CONSOLE_UI)/build.mjs $(wildcard $(CONSOLE_UI)/src/*)
	npm ci --prefix $(CONSOLE_UI) --no-audit --no-fund --loglevel=error
	node $(CONSOLE_UI)/build.mjs

console-screenshots: venv console-ui ## Retake docs/console.md's screenshots (the console's browser tests, saved to docs/images/)
	ASRFLEET_CONSOLE_SCREENSHOTS=docs/images $(PY) -m pytest tests/integration/console -q

console: venv console-ui ## Serve the console against the current kube context (ASRFLEET_CONSOLE_TOKEN; CONSOLE_PORT=8090)
	$(PY) -m asrfleet_operator.console --port $(CONSOLE_PORT)

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

##@ Images

.PHONY: images image-test image-clean
images: ## Build the server image, its PyTorch build (-torch) and the operator image tagged $(VERSION): docker, else podman (BASE_IMAGE=..., TORCH_INDEX_URL=...)
	@test -n "$(IMAGE_ENGINE)" || { echo "images: neither docker (with a running daemon) nor podman is available here" >&2; exit 1; }
	$(IMAGE_ENGINE) build $(call image_flags,inference_image/Dockerfile) -f inference_image/Dockerfile -t $(SERVER_IMAGE) .
	$(IMAGE_ENGINE) build $(call image_flags,inference_image/Dockerfile) $(torch_flags) -f inference_image/Dockerfile -t $(TORCH_SERVER_IMAGE) .
	$(IMAGE_ENGINE) build $(call image_flags,operator/Dockerfile) -f operator/Dockerfile -t $(OPERATOR_IMAGE) .
	@echo "built $(SERVER_IMAGE), $(TORCH_SERVER_IMAGE) and $(OPERATOR_IMAGE) with $(IMAGE_ENGINE)"

image-test: venv ## Build the images here from nothing with podman and run them as their manifests do (archives in .images/)
	$(PY) scripts/images/image_test.py --server-image $(SERVER_IMAGE) \
	  --torch-server-image $(TORCH_SERVER_IMAGE) --operator-image $(OPERATOR_IMAGE)

image-clean: ## Remove .images/ and image-test's private podman storage (.podman/)
	@if [ -f $(PODMAN_WORK)/containers.conf ]; then \
	  CONTAINERS_CONF=$(PODMAN_WORK)/containers.conf CONTAINERS_STORAGE_CONF=$(PODMAN_WORK)/storage.conf podman system reset --force; fi
	rm -rf .images $(PODMAN_WORK)

##@ Maintenance

.PHONY: docs reference api-reference contract
docs: reference api-reference ## Regenerate generated documentation
reference: venv ## Regenerate the SpeechRecognizer and SpeechModel reference (docs/reference.md) from the CRDs
	$(PY) scripts/gen_reference.py
api-reference: venv ## Regenerate the HTTP API reference in docs/server-api.md from the server's OpenAPI document
	$(PY) scripts/gen_api_reference.py
contract: venv ## Write the SpeechRecognizer contract (operator spec/contract.py) into the CRDs and the server, then the reference
	$(PY) scripts/gen_contract.py
	$(PY) scripts/gen_reference.py

.PHONY: constraints
constraints: venv ## Re-pin requirements/constraints.txt from the dev venv
	{ echo "# Every package CI installs, pinned. Regenerate with \`make constraints\` after changing a dependency."; \
	  $(PIP) freeze --all --exclude-editable | grep -v '^-e '; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)

.PHONY: clean distclean
clean: ## Remove caches and demo state (keeps the venv)
	rm -rf .demo .pytest_cache .ruff_cache .mypy_cache build dist $(CONSOLE_STATIC) $(CONSOLE_UI)/node_modules
	find . -path ./.venv -prune -o -name __pycache__ -type d -exec rm -rf {} +
distclean: clean ## Also remove the venv
	rm -rf $(VENV)

##@ Help
.PHONY: help
help: ## List the targets, grouped
	@awk 'BEGIN {FS = ":.*##"} /^##@/ {printf "\n\033[1m%s\033[0m\n", substr($$0, 5)} /^[a-zA-Z0-9_-]+:.*##/ {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)
