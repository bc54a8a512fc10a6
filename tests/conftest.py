"""Fixtures for every test: isolated folders, upstream-format files, tracking stores.

What test modules share besides fixtures lives in the `helpers` package (tests/helpers/).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Before any test module imports them: failing asserts inside helpers are explained too.
pytest.register_assert_rewrite("helpers")


@pytest.fixture(autouse=True)
def work_in_tmp(tmp_path, monkeypatch):
    """In-process runs write ./mlruns and ./mlflow.db where they stand: never in the repo."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def upstream(tmp_path_factory) -> Path:
    """A folder standing in for the download servers: tiny files under upstream names."""
    from helpers import upstream_files

    folder = tmp_path_factory.mktemp("upstream")
    upstream_files.write_mnist_npz(folder, n_train=120, n_test=40)
    upstream_files.write_fashion_mnist_gz(folder)
    upstream_files.write_cifar10_tar(folder)
    upstream_files.write_cifar100_tar(folder)
    return folder


@pytest.fixture(scope="session")
def empty_tracking_store(tmp_path_factory) -> Path:
    """A sqlite tracking store with MLflow's tables made: making them (alembic migrations)
    costs 2-4 s per test on 2 CPUs, copying the file a few milliseconds."""
    import mlflow

    path = tmp_path_factory.mktemp("tracking_template") / "mlflow.db"
    mlflow.MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def lesson_env(tmp_path, upstream, empty_tracking_store) -> dict[str, str]:
    """Environment for a pipeline process: its own tracking store, caches and mirror."""
    from helpers.runs import MLFLOW, fresh_tracking_store

    keras_home = tmp_path / "keras_home"
    keras_home.mkdir()
    fresh_tracking_store(empty_tracking_store, tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "KERAS_LESSONS_"))}
    env.update(
        MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}",
        KERAS_HOME=str(keras_home),
        KERAS_LESSONS_CACHE=str(tmp_path / "cache"),
        KERAS_LESSONS_DATA_ORIGIN=str(upstream),
        TF_CPP_MIN_LOG_LEVEL="2",
        PYTHONUNBUFFERED="1",
        # `mlflow run --env-manager local` runs `python` from PATH: this venv's, as after
        # `source .venv/bin/activate`.
        PATH=f"{MLFLOW.parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return env


@pytest.fixture
def tracking(lesson_env, monkeypatch):
    """An MlflowClient on the same store the pipeline processes write to."""
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", lesson_env["MLFLOW_TRACKING_URI"])
    mlflow.set_tracking_uri(lesson_env["MLFLOW_TRACKING_URI"])
    yield mlflow.MlflowClient()
    mlflow.set_tracking_uri(None)
