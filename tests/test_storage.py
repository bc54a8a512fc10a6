"""Nothing lost to the stores: a new tracking store opened by several processes at once.
Real processes, real MLflow and sqlite."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys

from helpers.runs import MLFLOW, REPO, runs_of

# An entry point that opens a run and finishes in seconds (JAX imports faster than TensorFlow).
QUICK = ("gpu_check", {"backend": "jax", "size": 64, "repeats": 1})


def test_processes_opening_a_new_tracking_store_at_once_all_finish(lesson_env, tmp_path):
    """Two through `mlflow run` (its launcher creates the run before any pipeline starts),
    two directly; none finds the store there beforehand."""
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    uri = f"sqlite:///{fresh / 'mlflow.db'}"
    env = lesson_env | {"MLFLOW_TRACKING_URI": uri}
    name, params = QUICK
    direct = [sys.executable, "-m", "pipelines", name]
    launched = [str(MLFLOW), "run", str(REPO), "-e", name, "--env-manager", "local"]
    for key, value in params.items():
        direct += [f"--{key}", str(value)]
        launched += ["-P", f"{key}={value}"]
    logs = [tmp_path / f"stderr-{i}.txt" for i in range(4)]  # a full pipe would stall one
    with contextlib.ExitStack() as files:
        processes = [
            subprocess.Popen(
                command,
                env=env,
                cwd=fresh,
                stdout=subprocess.DEVNULL,
                stderr=files.enter_context(log.open("w")),
            )
            for command, log in zip((launched, launched, direct, direct), logs, strict=True)
        ]
        codes = [p.wait(timeout=300) for p in processes]
    assert codes == [0] * 4, "\n".join(log.read_text()[-1500:] for log in logs)
    with contextlib.closing(sqlite3.connect(fresh / "mlflow.db")) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master")]
    assert not [t for t in tables if t.startswith("_alembic_tmp")]

    import mlflow

    # Still usable: a client new to it checks the schema version when it opens the store.
    client = mlflow.MlflowClient(uri)
    assert sorted(r.info.status for r in runs_of(client, name)) == ["FINISHED"] * 4
    client.create_run(client.create_experiment("after"))
    assert len(runs_of(client, "after")) == 1
