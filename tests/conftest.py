"""Fixtures for every test: isolated folders, upstream-format files, tracking stores.

What test modules share besides fixtures lives in the `helpers` package (tests/helpers/).
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before any test module imports them: failing asserts inside helpers are explained too.
pytest.register_assert_rewrite("helpers")

# Set in a shell, these would send a test's downloads or runs somewhere else (or, PORT,
# change the UI address a run prints).
NOT_INHERITED = (
    "KERAS_LESSONS_DATA_ORIGIN",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_RUN_ID",
    "PORT",
)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch) -> Iterator[Path]:
    """Every test in its own folder with its own Keras home, npy cache and tracking store,
    so none touches the user's: in-process runs write ./mlruns and ./mlflow.db where they
    stand. No download mirror unless the test sets one, and no experiment or run chosen by
    the calling shell. Yields the Keras home; figures left open are closed afterwards."""
    home = tmp_path / "keras_home"
    home.mkdir()  # get_file silently falls back to /tmp/.keras when the folder is missing
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setenv("KERAS_LESSONS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    for name in NOT_INHERITED:
        monkeypatch.delenv(name, raising=False)
    yield home
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


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
def lesson_env(isolated, tmp_path, upstream, empty_tracking_store) -> dict[str, str]:
    """Environment for a pipeline process: its own tracking store, caches and mirror."""
    from helpers.runs import MLFLOW, fresh_tracking_store

    fresh_tracking_store(empty_tracking_store, tmp_path)
    # TensorFlow's log level too: pipelines are to be quiet by default (steps/native_logs.py).
    prefixes = ("MLFLOW_", "KERAS_LESSONS_", "TF_CPP_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update(
        MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}",
        KERAS_HOME=str(isolated),
        KERAS_LESSONS_CACHE=str(tmp_path / "cache"),
        KERAS_LESSONS_DATA_ORIGIN=str(upstream),
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


POSTGRES = os.environ.get("KERAS_LESSONS_TEST_POSTGRES", "")


@pytest.fixture
def postgres_databases(monkeypatch):
    """Two fresh databases (Optuna's, MLflow's: both keep an alembic_version table)."""
    if not POSTGRES:
        pytest.skip(
            "KERAS_LESSONS_TEST_POSTGRES is unset: no PostgreSQL server to test against "
            "(.ci/run installs and starts one where Debian's postgresql package installs)"
        )
    import psycopg
    from sqlalchemy.engine import URL, make_url

    names = [f"lessons_{kind}_{uuid.uuid4().hex[:8]}" for kind in ("optuna", "mlflow")]
    connection = psycopg.connect(POSTGRES, autocommit=True)
    with connection.cursor() as cursor:
        for name in names:
            cursor.execute(f"CREATE DATABASE {name}")
    base = make_url(POSTGRES)
    # URLs without the password, which libpq reads from PGPASSWORD, as docs/tuning.md shows
    monkeypatch.setenv("PGPASSWORD", base.password or "")
    yield [
        URL.create(
            base.drivername, base.username, None, base.host, base.port, name
        ).render_as_string()
        for name in names
    ]
    with connection.cursor() as cursor:
        for name in names:
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    connection.close()
