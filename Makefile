# `make run` and `make test` set everything up on a fresh machine (Python 3.11 + venv).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000
TB_PORT ?= 6006
# Host names the dashboards answer to besides 127.0.0.1, localhost and HOST (comma-separated)
ALLOWED_HOSTS ?=
export MLFLOW_TRACKING_URI ?= sqlite:///mlflow.db
# `mlflow run --env-manager local` starts `python` from PATH: make it this venv's.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: install install-ui run test test-slow test-ui lint format ui server serve tensorboard mlproject docs clean clean-runs bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# `make test-ui` adds Playwright (the ui extra) and drives Chromium from the system.
UI_STAMP := $(VENV)/.installed-ui
CHROMIUM ?= chromium
export CHROMIUM

$(UI_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,ui]'
	touch $(UI_STAMP)

install-ui: $(UI_STAMP)

# mlflow run . -e cnn_cifar10 --env-manager local; when CIFAR-10 cannot be downloaded (and
# only then: its run is tagged error_kind=download), the digits CNN: -e image_classify.
run: $(STAMP)  ## the CIFAR-10 CNN lesson end to end (downloads CIFAR-10 once; offline: digits)
	$(BIN)/python -m pipelines.first_run

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# One worker more than there are CPUs: a test spends part of its time waiting on the processes
# and servers it starts, and a third worker on 2 CPUs ran the suite in 5 min, not 6.
TEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print((os.cpu_count() or 1) + 1)")

test: lint  ## ruff, then the test suite (slow tests excluded)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal --durations=15  # idle workers take queued tests

test-slow: $(STAMP)  ## the tests marked slow: every entry point end to end, devices, notebook, outcomes
	$(BIN)/python -m pytest -m slow -n auto --dist worksteal --durations=15

test-ui: $(UI_STAMP)  ## the MLflow UI and TensorBoard as a person sees them, in headless Chromium
	@command -v "$(CHROMIUM)" >/dev/null || { echo "error: make test-ui needs Chromium: \
	install it (Debian, Ubuntu: sudo apt-get install chromium) or name it with \
	CHROMIUM=/path/to/chromium" >&2; exit 2; }
	$(BIN)/python -m pytest -m ui tests/tools/test_ui.py  # collecting the whole suite costs 17 s

mlproject: $(STAMP)  ## regenerate MLproject from pipelines/params.py and pipelines/entry_points.py
	$(BIN)/python -m pipelines.mlproject > MLproject

docs: $(STAMP)  ## regenerate the tables of README.md and docs/ from the declarations they copy
	$(BIN)/python -m pipelines.docs

ui: $(STAMP)  ## MLflow UI on http://$(HOST):$(PORT)
	$(BIN)/mlflow ui --backend-store-uri $(MLFLOW_TRACKING_URI) --host $(HOST) --port $(PORT)

# MLflow's scoring server over one model, in this environment (--env-manager local)
SERVE_PORT ?= 5001
MODEL ?=
serve: $(STAMP)  ## MLflow's scoring server for MODEL=models:/NAME@champion on http://$(HOST):$(SERVE_PORT)
	$(BIN)/python -m tools.servers serve --model "$(MODEL)" --host $(HOST) --port $(SERVE_PORT)

# A tracking server for a team: runs and models in BACKEND (a database URL; keep its password in
# PGPASSWORD or ~/.pgpass), artifacts proxied by the server to ARTIFACTS (a folder, s3://...).
# Clients set MLFLOW_TRACKING_URI=http://HOST:PORT and need nothing else. SERVER_OPTS go to
# `mlflow server` as they are (--app-name basic-auth, --workers 8, --cors-allowed-origins ...).
BACKEND ?= sqlite:///mlflow-server.db
ARTIFACTS ?= mlartifacts
SERVER_OPTS ?=
server: $(STAMP)  ## MLflow's tracking server with proxied artifacts on http://$(HOST):$(PORT) (BACKEND=, ARTIFACTS=)
	$(BIN)/python -m tools.servers tracking --backend "$(BACKEND)" --artifacts "$(ARTIFACTS)" \
		--host $(HOST) --port $(PORT) --allowed-hosts "$(ALLOWED_HOSTS)" $(SERVER_OPTS)

tensorboard: $(STAMP)  ## TensorBoard over the runs' traces by name (EXP=<experiment>, RUN=<run id or name>)
	$(BIN)/python -m tools.servers tensorboard --experiment "$(EXP)" --run "$(RUN)" \
		--host $(HOST) --port $(TB_PORT) --allowed-hosts "$(ALLOWED_HOSTS)"

bench: $(STAMP)  ## side-by-side speed measurements (not part of make test); results in bench-results/
	$(BIN)/python bench/run.py --docs  # docs/performance.md's speed table is this run's

clean-runs: $(STAMP)  ## mark runs left RUNNING by a dead process as KILLED (DRY=1 to list only)
	$(BIN)/python -m tools.stale_runs $(if $(DRY),--dry-run,)

clean:
	rm -rf .pytest_cache .ruff_cache

# Optuna: the dashboard, and several workers on one study
.PHONY: optuna-dashboard tune-workers
# The study's storage URL, read from the environment by tune and the dashboard: a password
# in it stays off every command line (better still: PGPASSWORD or ~/.pgpass, see docs/tuning.md).
export OPTUNA_STORAGE ?= sqlite:///optuna.db
OPTUNA_PORT ?= 8080
N ?= 2
TUNE_ARGS ?= -P model=dnn -P dataset=breast_cancer -P n_trials=20

optuna-dashboard: $(STAMP)  ## Optuna's dashboard over OPTUNA_STORAGE on http://$(HOST):$(OPTUNA_PORT)
	$(BIN)/python -m tools.servers optuna --host $(HOST) --port $(OPTUNA_PORT) \
		--allowed-hosts "$(ALLOWED_HOSTS)"

# N workers on one study (OPTUNA_STORAGE, TUNE_ARGS), then one run that retrains the best.
# With PostgreSQL: OPTUNA_STORAGE=postgresql://... MLFLOW_TRACKING_URI=postgresql://...
# On a machine with GPUs (GPUS: how many nvidia-smi lists), worker i sees only GPU (i-1) mod
# GPUS: one trial per device, rather than each trial over all of them. GPUS=0: no pinning.
GPUS ?= $(shell nvidia-smi -L 2>/dev/null | grep -c '^GPU')
tune-workers: $(STAMP)  ## N Optuna workers sharing one study (N=2), one GPU each where there are GPUs, then the best retrained
	$(BIN)/python -c "import os, optuna, mlflow; optuna.storages.RDBStorage(os.environ['OPTUNA_STORAGE']); \
		c = mlflow.MlflowClient(); c.get_experiment_by_name('tune') or c.create_experiment('tune')"
	pids=""; for i in $$(seq 1 $(N)); do \
		gpu=""; [ "$(GPUS)" -gt 0 ] 2>/dev/null && gpu="CUDA_VISIBLE_DEVICES=$$(( (i - 1) % $(GPUS) ))"; \
		env $$gpu $(BIN)/mlflow run . -e tune --env-manager local $(TUNE_ARGS) \
			-P resume=true -P retrain=false -P worker=$$i & pids="$$pids $$!"; \
	done; for pid in $$pids; do wait $$pid || exit 1; done
	$(BIN)/mlflow run . -e tune --env-manager local $(TUNE_ARGS) \
		-P resume=true
