# `make run` and `make test` set everything up on a fresh machine (Python 3.11 + venv).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000
TB_PORT ?= 6006
export MLFLOW_TRACKING_URI ?= sqlite:///mlflow.db
export TF_CPP_MIN_LOG_LEVEL ?= 2
# `mlflow run --env-manager local` starts `python` from PATH: make it this venv's.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: install run test test-slow lint format ui tensorboard mlproject clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)  ## the CIFAR-10 CNN lesson end to end (downloads CIFAR-10 once)
	$(BIN)/mlflow run . -e cnn_cifar10 --env-manager local

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint  ## ruff, then the test suite (slow tests excluded)
	$(BIN)/python -m pytest

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow

mlproject: $(STAMP)  ## regenerate MLproject from pipelines/registry.py
	$(BIN)/python -m pipelines.mlproject > MLproject

ui: $(STAMP)  ## MLflow UI on http://$(HOST):$(PORT)
	$(BIN)/mlflow ui --backend-store-uri $(MLFLOW_TRACKING_URI) --host $(HOST) --port $(PORT)

tensorboard: $(STAMP)  ## TensorBoard over every run's traces (RUN=<run id> for one run)
	$(BIN)/tensorboard --logdir $(if $(RUN),$(wildcard mlruns/*/$(RUN)/artifacts/tensorboard),mlruns) \
		--host $(HOST) --port $(TB_PORT)

clean:
	rm -rf .pytest_cache .ruff_cache
