"""The run: one MLflow run around a whole pipeline.

`tracked_run` opens the run (the one `mlflow run` created, or a new one in an experiment
named after the entry point), and closes it FINISHED, FAILED with the reason kept on the
run, or KILLED on Ctrl-C. Pipelines hand their results to the `Tracker` it yields."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

from steps.errors import DownloadError, StorageError, UserError
from steps.secrets import redacted
from steps.track.failures import RESUME_HINT, RunInterrupted, record_failure, storage_failure
from steps.track.param_text import param_text
from steps.track.summary import result_line
from steps.track.tracker import Tracker, upload_tensorboard

# Where `make ui` serves a local store when PORT is not set (see the Makefile).
UI_PORT = "5000"


def open_run(entry_point: str, resume_run_id: str | None = None, name: str | None = None):
    """The interrupted run being resumed, the run `mlflow run` made for us, or a new one
    in the entry point's experiment (or the one MLFLOW_EXPERIMENT_NAME / _ID names), called
    `name` unless it has a name of its own (`mlflow run --run-name`, or a resumed run's).

    The experiment is always set here: MLflow's start_run prefers the experiment last set
    in the process to the environment, so one set earlier (by a previous pipeline in the
    same process, or by the caller) would otherwise take the run."""
    import mlflow

    from steps.track.store import open_store

    open_store()
    launched = os.environ.get("MLFLOW_RUN_ID")
    if launched and name and generated_name(mlflow.get_run(launched).info.run_name):
        mlflow.MlflowClient().set_tag(launched, "mlflow.runName", name)
    if resume_run_id and resumable(resume_run_id):
        if launched and launched != resume_run_id:
            note = f"resumed the interrupted run {resume_run_id}: its metrics continue there"
            mlflow.MlflowClient().set_tag(launched, "mlflow.note.content", note)
            mlflow.MlflowClient().set_tag(launched, "resumed_run", resume_run_id)
        set_experiment_of(resume_run_id)
        run = mlflow.start_run(run_id=resume_run_id)
    else:
        experiment = os.environ.get("MLFLOW_EXPERIMENT_NAME")
        given_id = os.environ.get("MLFLOW_EXPERIMENT_ID")
        if launched:
            set_experiment_of(launched)
        elif given_id and not experiment:
            mlflow.set_experiment(experiment_id=given_id)
        else:
            mlflow.set_experiment(experiment or entry_point)
        run = mlflow.start_run(run_name=None if launched else name)
    return run


def generated_name(name: str | None) -> bool:
    """Whether `name` is one MLflow made up (`adjective-animal-123`), not one a user gave."""
    from mlflow.utils import name_utils

    words = (name or "").split("-")
    return (
        len(words) == 3
        and words[0] in name_utils._GENERATOR_PREDICATES
        and words[1] in name_utils._GENERATOR_NOUNS
        and words[2].isdigit()
    )


def describe_experiment(experiment_id: str, description: str) -> None:
    """The experiment's description in MLflow's UI, unless it has one."""
    import mlflow

    client = mlflow.MlflowClient()
    if "mlflow.note.content" not in client.get_experiment(experiment_id).tags:
        client.set_experiment_tag(experiment_id, "mlflow.note.content", description)


def open_on_runs_table(experiment_id: str) -> None:
    """Tag the experiment so that MLflow's UI opens it on its runs table, not on its GenAI
    view. Parallel workers tag the same experiment at once: the store then refuses all but
    the first insert, which is as good as done."""
    import mlflow

    client = mlflow.MlflowClient()
    key, value = "mlflow.experimentKind", "custom_model_development"
    if client.get_experiment(experiment_id).tags.get(key) == value:
        return
    try:
        client.set_experiment_tag(experiment_id, key, value)
    except mlflow.exceptions.MlflowException:
        if client.get_experiment(experiment_id).tags.get(key) != value:
            raise


def set_experiment_of(run_id: str) -> None:
    """The run's own experiment: start_run refuses a run of another experiment than the set one."""
    import mlflow

    mlflow.set_experiment(experiment_id=mlflow.MlflowClient().get_run(run_id).info.experiment_id)


def resumable(run_id: str) -> bool:
    import mlflow

    try:
        return mlflow.MlflowClient().get_run(run_id).info.lifecycle_stage == "active"
    except mlflow.exceptions.MlflowException:
        return False


def finished(run_id: str, resumed: bool) -> None:
    """End the run FINISHED, its result as its description. A resumed run's interruption is
    history, no longer its outcome."""
    import mlflow

    line = result_line(run_id)
    if resumed:
        mlflow.delete_tag("error")
        line += " (interrupted, then resumed with -P resume=true from its last finished epoch)"
    mlflow.set_tag("mlflow.note.content", line)
    mlflow.end_run("FINISHED")


@contextlib.contextmanager
def tracked_run(
    entry_point: str,
    lessons: str,
    params: dict[str, object],
    *,
    resume_run_id: str | None = None,
    name: str | None = None,
    experiment_description: str = "",
) -> Iterator[Tracker]:
    """Open the run (called `name`), tag and log params, and always close it with the right
    status; a finished run's description is its result."""
    import mlflow

    run = open_run(entry_point, resume_run_id, name)
    folder = prepared(run, experiment_description)
    texts = {k: param_text(v) for k, v in params.items()}
    tracker = Tracker(run.info.run_id, run.info.experiment_id, folder, params=texts)
    try:
        tags = {"lesson": lessons, "pipeline": entry_point, "pid": os.getpid()}
        tracker.log_launch(texts, tags | {"host": socket.gethostname()})
        yield tracker
    except UserError as exc:
        record_failure(str(exc), "FAILED", "download" if isinstance(exc, DownloadError) else "")
        raise
    except KeyboardInterrupt:
        # `mlflow run` follows Ctrl-C with SIGTERM: let neither cut this bookkeeping short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        record_failure(f"interrupted (Ctrl-C or SIGTERM); {RESUME_HINT}", "KILLED")
        raise RunInterrupted from None
    except OSError as exc:
        if (message := storage_failure(exc, tracker.experiment_id)) is None:
            record_failure(f"{type(exc).__name__}: {exc}", "FAILED")
            raise
        record_failure(message, "FAILED")
        raise StorageError(message) from None
    except Exception as exc:
        record_failure(f"{type(exc).__name__}: {exc}", "FAILED")
        raise
    else:
        resumed = run.info.run_id == resume_run_id and "error" in run.data.tags
        finished(tracker.run_id, resumed)
        uri, port = mlflow.get_tracking_uri(), os.environ.get("PORT", "")
        print(run_link(uri, tracker.experiment_id, tracker.run_id, port))
    finally:
        upload_tensorboard(tracker)


def prepared(run, experiment_description: str) -> Path:
    """The experiment tagged and described, and the run's TensorBoard folder. A failure here
    ends the run just opened (FAILED, KILLED on Ctrl-C) with the reason, never RUNNING."""
    try:
        open_on_runs_table(run.info.experiment_id)
        if experiment_description:
            describe_experiment(run.info.experiment_id, experiment_description)
        return Path(tempfile.mkdtemp(prefix="tensorboard-"))
    except KeyboardInterrupt:
        record_failure("interrupted while the run was being opened; run it again", "KILLED")
        raise RunInterrupted from None
    except OSError as exc:
        message = storage_failure(exc, run.info.experiment_id)
        record_failure(message or f"{type(exc).__name__}: {exc}", "FAILED")
        if message:
            raise StorageError(message) from None
        raise
    except Exception as exc:
        record_failure(f"{type(exc).__name__}: {exc}", "FAILED")
        raise


def run_link(tracking_uri: str, experiment_id: str, run_id: str, port: str = "") -> str:
    """The line pointing at the run's page: on the tracking server itself for an http(s)
    URI, else where `make ui` serves the local store (its PORT), with how to start it."""
    url = run_url(tracking_uri, experiment_id, run_id, port)
    if urlparse(tracking_uri).scheme in ("http", "https"):
        return f"MLflow run: {url}"
    port = port or UI_PORT
    command = "make ui" if port == UI_PORT else f"make ui PORT={port}"
    return f"MLflow run: {url} (start the UI with `{command}`)"


def run_url(tracking_uri: str, experiment_id: str, run_id: str, port: str = "") -> str:
    """The run's page in MLflow's UI, on its runs table's side (`workflowType`)."""
    page = f"#/experiments/{experiment_id}/runs/{run_id}?workflowType=machine_learning"
    if urlparse(tracking_uri).scheme in ("http", "https"):
        return f"{redacted(tracking_uri.rstrip('/'))}/{page}"
    return f"http://127.0.0.1:{port or UI_PORT}/{page}"
