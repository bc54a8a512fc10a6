"""Launching an entry point and checking the runs it leaves in the tracking store."""

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

REPO = Path(__file__).resolve().parents[2]
MLFLOW = Path(sys.executable).with_name("mlflow")

# Small enough for 2 CPUs, big enough that every callback and plot has something to show.
TINY = {"epochs": 2, "batch_size": 16, "units": 8, "filters": "4,8", "verbose": 0}
# One fit where an entry point fits a small table k-fold by default (tabular, csv, tune):
# what a test of the plain fit's callbacks, checkpoint and curves runs.
ONE_FIT = {"folds": 0}
# TINY at the default verbosity: what a user's terminal shows.
TINY_TALKING = {k: v for k, v in TINY.items() if k != "verbose"}


def tiny(entry_point: str) -> dict[str, object]:
    """TINY and ONE_FIT without what `entry_point` does not take (transfer builds no units or
    filters)."""
    from pipelines.entry_points import ENTRY_POINTS

    return {k: v for k, v in (TINY | ONE_FIT).items() if k in ENTRY_POINTS[entry_point].takes}


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


# ------------------------------------------------------------------ launching


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
    back: environment, working directory, signal handlers, MLflow's tracking URI and active
    run, Keras's global state, urllib's cached opener (it holds the proxies of its time), an
    interrupt noted during a backup. The experiment is the pipeline's to set (open_run).
    """
    import keras
    import mlflow

    from pipelines.cli import main
    from steps.train import interrupts

    argv = [entry_point]
    for key, value in params.items():
        argv += [f"--{key}", str(value)]
    argv += extra

    saved_env = dict(os.environ)
    saved_cwd = Path.cwd()
    saved_handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    saved_uri = mlflow.get_tracking_uri()
    stdout, stderr = io.StringIO(), io.StringIO()

    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    mlflow.set_tracking_uri(env.get("MLFLOW_TRACKING_URI"))  # as a new process reads it
    urllib.request.install_opener(None)  # built from http(s)_proxy at first use, then kept
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
        mlflow.set_tracking_uri(None)  # (it unsets MLFLOW_TRACKING_URI: restored below)
        urllib.request.install_opener(None)
        interrupts.forget_pending_interrupt()
        for sig, handler in saved_handlers.items():
            signal.signal(sig, handler)
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        if mlflow.get_tracking_uri() != saved_uri:  # it was set in this process, not read
            mlflow.set_tracking_uri(saved_uri)
    return subprocess.CompletedProcess(argv, returncode, stdout.getvalue(), stderr.getvalue())


# ------------------------------------------------------------------ finding runs


def only_run(client, experiment: str):
    """The single run of an experiment, failing loudly if there are none or several."""
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment named {experiment!r}"
    runs = client.search_runs([found.experiment_id])
    assert len(runs) == 1, f"{len(runs)} runs in {experiment!r}"
    return runs[0]


def runs_of(client, experiment: str) -> list:
    """Every run of an experiment (child runs too), newest first; none if it does not exist."""
    found = client.get_experiment_by_name(experiment)
    return client.search_runs([found.experiment_id], max_results=1000) if found else []


def parents_and_children(client, experiment: str) -> tuple[list, dict[str, list]]:
    """(top-level runs, child runs keyed by their parent's run id) of an experiment."""
    parents, children = [], {}
    for run in runs_of(client, experiment):
        parent = run.data.tags.get("mlflow.parentRunId")
        if parent is None:
            parents.append(run)
        else:
            children.setdefault(parent, []).append(run)
    return parents, children


def artifact_paths(client, run_id: str, path: str = "") -> list[str]:
    """Every artifact file of a run, as relative paths."""
    found = []
    for item in client.list_artifacts(run_id, path):
        found += artifact_paths(client, run_id, item.path) if item.is_dir else [item.path]
    return found


# ------------------------------------------------------------------ what a run must hold

CLASSIFICATION = {"test_loss", "test_accuracy"}
REGRESSION = {"test_loss", "test_rmse", "test_mae", "test_r2"}


def assert_trained_run(client, run, task: str, download_to: Path) -> None:
    """What docs/runs.md says a run records once it trained a model: status, tags, metrics,
    how the fit went (`assert_fit_logged`), a reloadable model with its signature."""
    import mlflow

    assert run.info.status == "FINISHED"
    for tag in ("lesson", "pipeline", "dataset", "cache", "model_uri"):
        assert run.data.tags.get(tag), f"tag {tag!r} missing"
    metrics = run.data.metrics
    assert (CLASSIFICATION if task == "classification" else REGRESSION) <= metrics.keys()
    assert_fit_logged(client, run, download_to)
    model = mlflow.pyfunc.load_model(run.data.tags["model_uri"])
    assert model.metadata.signature is not None
    assert model.metadata.saved_input_example_info is not None
    assert_reads_true(client, run)


def assert_fit_logged(client, run, download_to: Path) -> None:
    """What every run that trained records about the fit, a search's trials too: per-epoch
    history at steps 1, 2, ... (epochs from 1), the kept epoch and its metrics, the callbacks
    it ran with and ModelCheckpoint's best epoch, the model summary and history plot,
    TensorBoard traces; no optimizer_* parameters."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    metrics = run.data.metrics
    epochs = int(metrics["epochs_run"])
    histories = {}
    for name in ("loss", "val_loss", "learning_rate"):
        histories[name] = client.get_metric_history(run.info.run_id, name)
        assert [m.step for m in histories[name]] == list(range(1, epochs + 1)), name
    assert 1 <= metrics["best_epoch"] <= epochs
    kept = int(metrics["best_epoch"]) - 1
    for name in ("loss", "val_loss"):
        assert metrics[f"best_{name}"] == histories[name][kept].value, name
    assert not [p for p in run.data.params if p.startswith("optimizer_")]
    artifacts = artifact_paths(client, run.info.run_id)
    assert "plots/history.png" in artifacts
    assert "model_summary.txt" in artifacts
    assert "TerminateOnNaN" in run.data.tags["callbacks"]
    if run.data.params.get("checkpoint", "true") == "true":  # ModelCheckpoint: on by default
        assert "ModelCheckpoint" in run.data.tags["callbacks"]
        assert "checkpoints/best.keras" in artifacts
    assert any(p.startswith("tensorboard/train/") and "tfevents" in p for p in artifacts)
    local = client.download_artifacts(run.info.run_id, "tensorboard/train", str(download_to))
    tags = EventAccumulator(local).Reload().Tags()
    assert "epoch_loss" in tags["scalars"] + tags["tensors"]


def assert_reads_true(client, run) -> None:
    """What the runs table and the model page show: a name saying what ran, its result as
    the description, the data it saw, and the model carrying the run's final metrics."""
    from mlflow.models import get_model_info

    from steps.data.catalog import label
    from steps.track.run import generated_name

    tags, metrics = run.data.tags, run.data.metrics
    assert not generated_name(run.info.run_name), run.info.run_name
    if "mlflow.parentRunId" not in tags:
        assert run.info.run_name.endswith(f" · {label(tags['dataset'])}"), run.info.run_name
    tests = {k: v for k, v in metrics.items() if k.startswith("test_")}
    assert tests and all(f"{k} {v:.4g}" in tags["mlflow.note.content"] for k, v in tests.items())
    inputs = {i.tags[0].value: i.dataset for i in run.inputs.dataset_inputs}
    assert {"train", "test"} <= inputs.keys() <= {"train", "validation", "test"}
    assert {d.name for d in inputs.values()} == {label(tags["dataset"])}
    model_id = tags["model_uri"].removeprefix("models:/")
    logged = client.get_logged_model(model_id)
    # named after the run, not `model`, and found under that name as docs/runs.md says
    assert logged.name != "model" and " " not in logged.name, logged.name
    assert get_model_info(f"runs:/{run.info.run_id}/{logged.name}").model_id == model_id
    model_metrics = logged.metrics
    linked = {m.key: m.value for m in model_metrics}
    final = {k: v for k, v in metrics.items() if k.startswith(("test_", "best_"))}
    assert {k: linked.get(k) for k in final} == final
    assert not linked.keys() & {"loss", "val_loss", "learning_rate"}  # per-epoch: run only
    # The model page's datasets: each test metric once, computed on the run's test rows.
    on = sorted((m.key, m.dataset_name, m.dataset_digest) for m in model_metrics if m.key in tests)
    test_rows = inputs["test"]
    assert on == sorted((k, test_rows.name, test_rows.digest) for k in tests)


def finished_run(result, client, experiment: str):
    """The one run of `experiment`, FINISHED, after `result` (the launch that made it) exited
    0; on failure the end of its stderr is shown."""
    assert result.returncode == 0, result.stderr[-3000:]
    run = only_run(client, experiment)
    assert run.info.status == "FINISHED"
    return run


def trained_run(result, client, experiment: str, task: str, download_to: Path):
    """`finished_run`, holding all a run that trained a model records (`assert_trained_run`)."""
    run = finished_run(result, client, experiment)
    assert_trained_run(client, run, task, download_to)
    return run


def assert_no_tensorflow_warnings(result) -> None:
    """No `WARNING:tensorflow:` line (the retracing one is ~600 characters) on either stream:
    a process that trains several models predicts without tracing a graph for each."""
    output = result.stdout + result.stderr
    noisy = [line for line in output.splitlines() if "WARNING:tensorflow" in line]
    noisy += [line for line in output.splitlines() if "retracing" in line]
    assert not noisy, noisy[:2]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error: ")]


def assert_clean_failure(
    result,
    tracking,
    experiment: str,
    message: str,
    *,
    parameter_error: bool = False,
    exit_code: int = 2,
) -> None:
    """Non-zero exit, exactly one `error:` line with the message, no traceback, run FAILED.

    `parameter_error`: refused while parsing. `mlflow run` made the run before that and it
    ends FAILED; run in process nothing made one, so there must be none. Run in process, the
    exit code is `exit_code` (3: a download was impossible); `mlflow run` exits with 1.
    """
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = error_lines(result.stderr)
    assert len(lines) == 1, result.stderr[-3000:]
    assert message in lines[0]
    launched = result.args[0] == str(MLFLOW)
    if not launched:
        assert result.returncode == exit_code
        if parameter_error:
            found = tracking.get_experiment_by_name(experiment)
            assert found is None or not tracking.search_runs([found.experiment_id])
            return
    run = only_run(tracking, experiment)
    assert run.info.status == "FAILED"
    assert run.data.tags["error"] == lines[0].removeprefix("error: ")
