"""One set of tiny fixtures for every test: upstream-format files, isolated stores, tiny runs."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import traceback
import urllib.request
from pathlib import Path

import pytest

import upstream_files

REPO = Path(__file__).resolve().parents[1]
MLFLOW = Path(sys.executable).with_name("mlflow")

# Small enough for 2 CPUs, big enough that every callback and plot has something to show.
TINY = {"epochs": 2, "batch_size": 16, "units": 8, "filters": "4,8", "verbose": 0}


@pytest.fixture(autouse=True)
def work_in_tmp(tmp_path, monkeypatch):
    """In-process runs write ./mlruns and ./mlflow.db where they stand: never in the repo."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def upstream(tmp_path_factory) -> Path:
    """A folder standing in for the download servers: tiny files under upstream names."""
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


def fresh_tracking_store(template: Path, folder: Path) -> Path:
    """`folder/mlflow.db`, as MLflow would have made it there: its Default experiment keeps
    artifacts in `folder/mlruns/0` (MLflow resolves ./mlruns where the store is created)."""
    path = folder / "mlflow.db"
    shutil.copyfile(template, path)
    with contextlib.closing(sqlite3.connect(path)) as connection, connection:
        connection.execute(
            "UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0",
            (str(folder / "mlruns" / "0"),),
        )
    return path


@pytest.fixture
def lesson_env(tmp_path, upstream, empty_tracking_store) -> dict[str, str]:
    """Environment for a pipeline process: its own tracking store, caches and mirror."""
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


def mlflow_run(
    entry_point: str, params: dict, env: dict[str, str], cwd: Path, *extra: str
) -> subprocess.CompletedProcess:
    """The real `mlflow run` CLI, as a user types it."""
    command = [str(MLFLOW), "run", str(REPO), "-e", entry_point, "--env-manager", "local"]
    for key, value in params.items():
        command += ["-P", f"{key}={value}"]
    return subprocess.run(
        [*command, *extra], env=env, cwd=cwd, capture_output=True, text=True, timeout=600
    )


def in_process(
    entry_point: str, params: dict, env: dict[str, str], cwd: Path, *extra: str
) -> subprocess.CompletedProcess:
    """`python -m pipelines ENTRY --key value ...` inside this process: same arguments and
    result as `mlflow_run` without its ~8 s of start-up (TensorFlow and MLflow imports).

    Unlike `mlflow run`, nothing creates the run before parsing: a parameter error leaves no
    run (exit 2 and one `error:` line). Everything the call changes in this process is put
    back: environment, working directory, signal handlers, MLflow's active run and experiment,
    Keras's home and global state, urllib's cached opener (it holds the proxies of its time).
    """
    import keras
    import mlflow
    from mlflow.tracking import fluent
    from mlflow.tracking._tracking_service import utils as tracking_utils

    from pipelines.cli import main
    from steps import resume

    argv = [entry_point]
    for key, value in params.items():
        argv += [f"--{key}", str(value)]
    argv += extra

    saved_env = dict(os.environ)
    saved_cwd = Path.cwd()
    saved_handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    saved_uri = tracking_utils._tracking_uri
    saved_keras_home = keras.src.backend.config._KERAS_DIR
    stdout, stderr = io.StringIO(), io.StringIO()

    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    # A new process reads KERAS_HOME when it imports Keras; keras.applications' weights
    # (no cache_dir) go there.
    keras.src.backend.config._KERAS_DIR = env.get("KERAS_HOME", saved_keras_home)
    urllib.request._opener = None  # built from http(s)_proxy at first use, then kept
    fluent._active_experiment_id = None  # a step test's mlflow.set_experiment, other store
    keras.backend.clear_session()  # fresh layer names and graph, as in a new process
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                returncode = main(argv)
            except SystemExit as exc:
                returncode = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                traceback.print_exc()
                returncode = 1
            # What MLflow's atexit hook does when a process ends with a run still open.
            while mlflow.active_run():
                mlflow.end_run()
    finally:
        fluent._active_experiment_id = None
        tracking_utils._tracking_uri = saved_uri
        keras.src.backend.config._KERAS_DIR = saved_keras_home
        urllib.request._opener = None
        resume._saving = resume._interrupted = False
        for sig, handler in saved_handlers.items():
            signal.signal(sig, handler)
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return subprocess.CompletedProcess(argv, returncode, stdout.getvalue(), stderr.getvalue())


@pytest.fixture
def tracking(lesson_env, monkeypatch):
    """An MlflowClient on the same store the pipeline processes write to."""
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", lesson_env["MLFLOW_TRACKING_URI"])
    mlflow.set_tracking_uri(lesson_env["MLFLOW_TRACKING_URI"])
    yield mlflow.MlflowClient()
    mlflow.set_tracking_uri(None)


def only_run(client, experiment: str):
    """The single run of an experiment, failing loudly if there are none or several."""
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment named {experiment!r}"
    runs = client.search_runs([found.experiment_id])
    assert len(runs) == 1, f"{len(runs)} runs in {experiment!r}"
    return runs[0]


def artifact_paths(client, run_id: str, path: str = "") -> list[str]:
    """Every artifact file of a run, as relative paths."""
    found = []
    for item in client.list_artifacts(run_id, path):
        found += artifact_paths(client, run_id, item.path) if item.is_dir else [item.path]
    return found


CLASSIFICATION = {"test_loss", "test_accuracy"}
REGRESSION = {"test_loss", "test_rmse", "test_mae", "test_r2"}


def assert_trained_run(client, run, task: str, download_to: Path) -> None:
    """DESIGN.md's contract for a run that trained a model: metrics, traces, plots, model."""
    import mlflow
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    assert run.info.status == "FINISHED"
    for tag in ("lesson", "pipeline", "dataset", "cache", "model_uri"):
        assert run.data.tags.get(tag), f"tag {tag!r} missing"
    assert (CLASSIFICATION if task == "classification" else REGRESSION) <= run.data.metrics.keys()
    epochs = int(run.data.metrics["epochs_run"])
    for name in ("loss", "val_loss", "learning_rate"):
        history = client.get_metric_history(run.info.run_id, name)
        assert [m.step for m in history] == list(range(epochs)), name
    artifacts = artifact_paths(client, run.info.run_id)
    assert "plots/history.png" in artifacts
    assert any(p.startswith("tensorboard/train/") and "tfevents" in p for p in artifacts)
    local = client.download_artifacts(run.info.run_id, "tensorboard/train", str(download_to))
    tags = EventAccumulator(local).Reload().Tags()
    assert "epoch_loss" in tags["scalars"] + tags["tensors"]
    model = mlflow.pyfunc.load_model(run.data.tags["model_uri"])
    assert model.metadata.signature is not None
    assert model.metadata.saved_input_example_info is not None
