"""A run that did not finish: the reason kept on it (tags and description), one line for a
place on disk it could not write, and the run `mlflow run` made before the pipeline started."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from steps.errors import storage_problem
from steps.files import local_folder
from steps.secrets import redacted

RESUME_HINT = "rerun with -P resume=true to continue from the last finished epoch"


def record_failure(message: str, status: str, kind: str = "") -> None:
    """The reason on the run (`error`, and `error_kind` when it is `download`), then its end."""
    import mlflow

    mlflow.set_tags(failure_tags(message, status, kind))
    mlflow.end_run(status)


def failure_tags(message: str, status: str, kind: str = "") -> dict[str, str]:
    """What a run that did not finish says: `error`, its description, and `error_kind`."""
    message = redacted(message)
    tags = {"error": message, "mlflow.note.content": f"**{status}**: {message}"}
    return tags | ({"error_kind": kind} if kind else {})


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM once the run was open: it was marked KILLED and can be resumed."""


def storage_failure(exc: OSError, experiment_id: str) -> str | None:
    """One line for a full, read-only or unwritable place met by the run, naming it and what
    to do; None when `exc` is not such a place."""
    import mlflow

    from steps.data.cache import cache_root

    if (problem := storage_problem(exc)) is None:
        return None
    happened, remedy = problem
    store = mlflow.MlflowClient().get_experiment(experiment_id).artifact_location
    temporary = Path(tempfile.gettempdir())
    path = exc.filename2 or exc.filename  # a copy's destination, not its source
    path = os.fsdecode(path) if isinstance(path, str | bytes) else None
    if path is None:  # a write to an open file, anywhere the run writes
        places = f"artifact store {store}, cache {cache_root()}, temporary files {temporary}"
        return f"cannot write one of the run's files: {happened}; {remedy} ({places})"
    if within(path, local_folder(store)):  # MLflow's staging file names mean nothing to users
        return (
            f"cannot write the run's artifacts to {store}: {happened}; {remedy}, or point the "
            "experiment's artifact location (or MLFLOW_TRACKING_URI) elsewhere"
        )
    for place, variable in ((cache_root(), "KERAS_LESSONS_CACHE"), (temporary, "TMPDIR")):
        if within(path, place):
            return f"cannot write {path}: {happened}; {remedy}, or point {variable} elsewhere"
    return f"cannot use {path}: {happened}; {remedy}"


def within(path: str, folder: Path | None) -> bool:
    return folder is not None and Path(path).absolute().is_relative_to(folder.absolute())


def fail_launched_run(message: str, status: str = "FAILED") -> bool:
    """Stopped before the pipeline opened its run: keep the reason on the run `mlflow run`
    made, if it made one (then True)."""
    run_id = os.environ.get("MLFLOW_RUN_ID")
    if not run_id:
        return False
    import mlflow

    client = mlflow.MlflowClient()
    message = redacted(message)
    client.set_tag(run_id, "error", message)
    client.set_tag(run_id, "mlflow.note.content", f"**{status}**: {message}")
    client.set_terminated(run_id, status)
    return True
