"""Nothing lost to the stores: a new tracking store opened by several processes at once,
and full or unwritable places met by a run. Real processes, real MLflow and sqlite; a full
disk is a file-size limit (RLIMIT_FSIZE), which needs no privileges."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from steps.files import local_folder
from steps.track.failures import storage_failure

from helpers.runs import (
    MLFLOW,
    REPO,
    assert_clean_failure,
    error_lines,
    in_process,
    runs_of,
    tiny,
)

# An entry point that opens a run and finishes in seconds (JAX imports faster than TensorFlow).
QUICK = ("gpu_check", {"backend": "jax", "size": 64, "repeats": 1})
FIT = tiny("dnn_regression") | {"dataset": "diabetes"}


@pytest.mark.slow
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


# ------------------------------------------------------------------ full and unwritable places


def limited(size: int) -> list[str]:
    """`python -m pipelines` whose files may not grow past `size` bytes (RLIMIT_FSIZE, set
    in the child: Python ignores SIGXFSZ, so a write past it fails as on a full disk)."""
    code = (
        "import resource, runpy, sys;"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({size}, resource.RLIM_INFINITY));"
        "runpy.run_module('pipelines', run_name='__main__')"
    )
    return [sys.executable, "-c", code]


def test_full_cache_disk_fails_the_run_in_one_line_naming_the_cache(lesson_env, tracking, tmp_path):
    """numpy's short write carries no errno, as on a really full disk."""
    rng = np.random.default_rng(0)
    big = tmp_path / "big.npz"  # 10 MB: the cached x_train alone is 8 MB
    np.savez(big, x=rng.random((25_000, 100), dtype=np.float32), y=rng.random(25_000))
    limit = 4 << 20  # room for the tracking store (1 MB) to grow
    argv = ["tabular", "--dataset", f"npz:{big}", "--backend", "jax", "--verbose", "0"]
    result = subprocess.run(
        limited(limit) + argv, env=lesson_env, cwd=tmp_path, capture_output=True, text=True
    )
    cache = tmp_path / "cache"
    assert_clean_failure(result, tracking, "tabular", f"cannot write the npy cache in {cache}: ")
    line = error_lines(result.stderr)[0]
    assert re.fullmatch(
        rf"error: cannot write the npy cache in {re.escape(str(cache))}: only part of a file "
        r"was written \(\d+ requested and \d+ written\): is the disk full\?; free some space "
        r"there, or point KERAS_LESSONS_CACHE elsewhere",
        line,
    ), line
    assert not list((cache / "npy").glob(".*"))  # the half-written copy is gone


@pytest.fixture
def blocked_plots(tracking, tmp_path) -> tuple[object, str]:
    """A run made as `mlflow run` makes one (the pipeline continues it: MLFLOW_RUN_ID), whose
    artifact folder holds a file named `plots`: the fit and its backups finish, then logging
    the history plot fails where MLflow stages it (plots/.mlflow-tmp-...)."""
    experiment = tracking.create_experiment("blocked", artifact_location=str(tmp_path / "store"))
    run = tracking.create_run(experiment)
    artifacts = local_folder(run.info.artifact_uri)
    artifacts.mkdir(parents=True)
    (artifacts / "plots").write_text("a file where a folder should be")
    location = tracking.get_experiment(experiment).artifact_location
    return run, location


def test_unwritable_artifact_store_is_named_not_the_staging_file(
    blocked_plots, lesson_env, tracking, tmp_path
):
    run, location = blocked_plots
    env = lesson_env | {"MLFLOW_RUN_ID": run.info.run_id}
    done = in_process("dnn_regression", FIT, env, tmp_path)
    assert_clean_failure(
        done,
        tracking,
        "blocked",
        f"cannot write the run's artifacts to {location}: Not a directory; a file stands where "
        "a folder is needed: move it, or point the experiment's artifact location (or "
        "MLFLOW_TRACKING_URI) elsewhere",
    )


def test_a_failed_run_leaves_no_backup(blocked_plots, lesson_env, tracking, tmp_path):
    """FAILED is final (unlike KILLED, which `-P resume=true` continues): its per-epoch
    backups would only take room in the cache."""
    run, _ = blocked_plots
    env = lesson_env | {"MLFLOW_RUN_ID": run.info.run_id}
    done = in_process("dnn_regression", FIT, env, tmp_path)
    assert done.returncode == 2
    assert tracking.get_run(run.info.run_id).info.status == "FAILED"
    assert tracking.get_metric_history(run.info.run_id, "loss")  # epochs were backed up
    assert list((tmp_path / "cache" / "resume").glob("*/*")) == []


STORE = ", or point the experiment's artifact location (or MLFLOW_TRACKING_URI) elsewhere"


@pytest.mark.parametrize(
    ("error", "paths", "message"),
    [
        (  # MLflow's staging file in the store: the store is what the user knows
            errno.ENOSPC,
            ("{store}/1/artifacts/plots/.mlflow-tmp-x1y2",),
            "cannot write the run's artifacts to {store}: No space left on device; free some "
            "space there" + STORE,
        ),
        (  # a copy's source is temporary: its destination is what filled up
            errno.EDQUOT,
            ("{temp}/tmp1/history.png", "{store}/1/artifacts/plots/history.png"),
            "cannot write the run's artifacts to {store}: Disk quota exceeded; free some space "
            "there" + STORE,
        ),
        (
            errno.EFBIG,
            ("{cache}/resume/run/best_weights-0.npz",),
            "cannot write {cache}/resume/run/best_weights-0.npz: File too large; raise this "
            "shell's file-size limit (ulimit -f), or point KERAS_LESSONS_CACHE elsewhere",
        ),
        (
            errno.ENOSPC,
            ("{temp}/tmp1/history.png",),
            "cannot write {temp}/tmp1/history.png: No space left on device; free some space "
            "there, or point TMPDIR elsewhere",
        ),
        (
            errno.EROFS,
            ("{store}/1/artifacts",),
            "cannot write the run's artifacts to {store}: Read-only file system; remount it "
            "writable" + STORE,
        ),
        (  # -P dataset=dir:/ meets /proc/1/cwd: a read, and no disk is full
            errno.EACCES,
            ("/proc/1/cwd",),
            "cannot use /proc/1/cwd: Permission denied; check its permissions",
        ),
        (
            errno.ENOTDIR,
            ("/data/images.zip/cats",),
            "cannot use /data/images.zip/cats: Not a directory; a file stands where a folder "
            "is needed: move it",
        ),
        (  # a write to an open file names none
            errno.ENOSPC,
            (),
            "cannot write one of the run's files: No space left on device; free some space "
            "there (artifact store {store}, cache {cache}, temporary files {temp})",
        ),
        (errno.EIO, ("{store}/1/artifacts",), None),  # not the user's to fix: traceback kept
    ],
)
def test_storage_message_says_what_to_do_for_the_error_and_names_the_place(
    error, paths, message, tracking, tmp_path
):
    places = {"store": tmp_path / "store", "cache": tmp_path / "cache"}
    places["temp"] = Path(tempfile.gettempdir())
    experiment = tracking.create_experiment("places", artifact_location=str(places["store"]))
    filenames = [path.format(**places) for path in paths]
    exc = OSError(error, os.strerror(error), *filenames[:1], None, *filenames[1:])
    if not filenames:
        exc = OSError(error, os.strerror(error))
    expected = message.format(**places) if message else None
    assert storage_failure(exc, experiment) == expected
