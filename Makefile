# uniads-bench: every target installs what it needs into $(VENV) first (pip takes torch from local files
# where a machine has them). Override VENV to reuse a virtual environment kept elsewhere (CI does).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The install stamp changes with pyproject.toml and with the checkout's path (the install is editable).
STAMP := $(VENV)/.installed-$(shell { cat pyproject.toml; echo $(CURDIR); } | sha256sum | cut -c1-16)
SUITE ?= digits
DATA ?= $(CURDIR)/data
IMAGE ?= uniads-bench
ARGS ?=

.PHONY: install test test-all test-gpu demo bench-cifar bench-imagenet lint docker-build docker-run clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

test: install  ## unit, golden and end-to-end tests (not slow, not gpu)
	$(BIN)/python -m pytest -m "not slow and not gpu" -q

test-all: install  ## everything that runs on a CPU, slow tests included
	$(BIN)/python -m pytest -m "not gpu" -q

test-gpu: install  ## the device suite (needs CUDA)
	$(BIN)/python -m pytest -m gpu -q

demo: install  ## the digits suite, offline, a few minutes on a laptop CPU
	$(BIN)/uniads-bench run digits $(ARGS)

bench-cifar: install
	$(BIN)/uniads-bench run cifar100 --data-dir $(DATA) $(ARGS)

bench-imagenet: install
	$(BIN)/uniads-bench run imagenet --data-dir $(DATA) $(ARGS)

lint: install
	$(BIN)/ruff check uniads_bench baselines tests benchmarks

docker-build:
	docker build -t $(IMAGE) .

docker-run:
	docker run --rm --gpus all --ipc=host -v $(DATA):/data:ro -v $(CURDIR)/results:/results $(IMAGE) $(SUITE) $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
