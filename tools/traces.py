"""The runs' TensorBoard traces as one tree of links, `<experiment>/<run name>[/<child run>]/train`,
built from the tracking store, so TensorBoard's run list names runs as the MLflow UI does instead
of `1/a8e62ec7.../artifacts/tensorboard/train`."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from steps.files import local_folder


def trace_tree(root: Path, experiment: str = "", run: str = "") -> int:
    """Link each run's traces as `root/<experiment>/<run name>[/<child name>]/<train|...>`
    (runs of `experiment`, and `run` with its children, when given); the runs linked.
    Traces in an artifact store elsewhere (a tracking server's proxied artifacts, a bucket)
    are downloaded through MLflow into the tree instead of linked."""
    import mlflow

    client, linked = mlflow.MlflowClient(), 0
    for found in client.search_experiments():
        if not experiment or found.name == experiment:
            runs = {r.info.run_id: r for r in client.search_runs([found.experiment_id])}
            linked += link_runs(client, root / safe(found.name), runs, run)
    return linked


def link_runs(client, top: Path, runs: dict, only: str) -> int:
    folders: dict[str, Path] = {}

    def folder(run_id: str) -> Path:  # parents first: a child's folder is inside its parent's
        if run_id not in folders:
            parent = runs[run_id].data.tags.get("mlflow.parentRunId")
            above = folder(parent) if parent in runs else top
            name = safe(runs[run_id].info.run_name or run_id)
            if (above / name).exists():  # two runs of one name: the second gets its id
                name = f"{name} ({run_id[:8]})"
            folders[run_id] = above / name
            folders[run_id].mkdir(parents=True)
        return folders[run_id]

    linked = 0
    oldest_first = sorted(reversed(runs.items()), key=lambda item: item[1].info.start_time)
    for run_id, found in oldest_first:  # the first run of a name keeps it
        names = (run_id, found.info.run_name, *lineage(runs, run_id))
        if only and only not in names:
            continue
        with tempfile.TemporaryDirectory() as staging:
            parts = trace_folders(client, found, Path(staging))
            for part in parts:
                if part.is_relative_to(staging):  # downloaded: moved into the tree
                    shutil.move(part, folder(run_id) / part.name)
                else:
                    (folder(run_id) / part.name).symlink_to(part.resolve())
        linked += bool(parts)
    return linked


def trace_folders(client, run, staging: Path) -> list[Path]:
    """A run's TensorBoard folders (train, validation, ...): where they lie when its artifacts
    are on this disk, else downloaded under `staging` through the tracking server."""
    local = local_folder(run.info.artifact_uri)
    if local is not None:
        traces = local / "tensorboard"
        return sorted(traces.iterdir()) if traces.is_dir() else []
    if not client.list_artifacts(run.info.run_id, "tensorboard"):
        return []
    traces = client.download_artifacts(run.info.run_id, "tensorboard", str(staging))
    return sorted(Path(traces).iterdir())


def lineage(runs: dict, run_id: str) -> list[str]:
    """The ids and names of a run's parents, nearest first."""
    found = []
    parent = runs[run_id].data.tags.get("mlflow.parentRunId")
    while parent in runs:
        found += [parent, runs[parent].info.run_name]
        parent = runs[parent].data.tags.get("mlflow.parentRunId")
    return found


def safe(name: str) -> str:
    """A run or experiment name as one folder name."""
    return name.replace("/", "-").strip() or "-"
