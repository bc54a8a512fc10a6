"""Nothing lost: real processes, real signals, then `-P resume=true`. The reference runs
and the failures that need no signal run in process (`in_process`)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from helpers.runs import (
    MLFLOW,
    REPO,
    assert_clean_failure,
    error_lines,
    finished_run,
    in_process,
    mlflow_run,
    runs_of,
)

# Slow enough per epoch to be caught mid-fit, small enough to stay a few seconds.
PARAMS = {
    "dataset": "diabetes",
    "epochs": 6,
    "batch_size": 4,
    "units": 8,
    "patience": 3,
    "dropout": 0.2,
    "verbose": 0,
}


QUIET = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}


@pytest.fixture(autouse=True)
def save_every_epoch(lesson_env):
    """The kills here wait for epochs to be logged: save (and log) each one, not every 5 s."""
    lesson_env["KERAS_LESSONS_SAVE_SECONDS"] = "0"


def command(**overrides) -> list[str]:
    args = [sys.executable, "-m", "pipelines", "dnn_regression"]
    for key, value in (PARAMS | overrides).items():
        args += [f"--{key}", str(value)]
    return args


def kill_after_epochs(process, client, experiment: str, epochs: int, sig: int) -> str:
    """Poll the tracking store (not a clock) until `epochs` epochs are logged, then signal."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert process.poll() is None, "the run finished before it could be interrupted"
        runs = runs_of(client, experiment)
        if runs and len(client.get_metric_history(runs[0].info.run_id, "loss")) >= epochs:
            process.send_signal(sig)
            process.wait(timeout=120)
            return runs[0].info.run_id
        time.sleep(0.05)
    raise AssertionError("no progress within 240 s")


@pytest.fixture
def uninterrupted(lesson_env, tracking, tmp_path):
    """The reference numbers: the same run left alone (in process: no signal involved)."""
    env = lesson_env | {"MLFLOW_EXPERIMENT_NAME": "uninterrupted"}
    done = in_process("dnn_regression", PARAMS, env, tmp_path)
    return finished_run(done, tracking, "uninterrupted")


# SIGTERM through `mlflow run` is also the Ctrl-C test's path: its own case is slow-only.
@pytest.mark.parametrize(
    "sig",
    [pytest.param(signal.SIGTERM, marks=pytest.mark.slow), signal.SIGKILL],
    ids=["SIGTERM", "SIGKILL"],
)
def test_killed_run_resumes_in_the_same_run_and_ends_like_an_uninterrupted_one(
    sig, uninterrupted, lesson_env, tracking, tmp_path
):
    env = lesson_env | {"MLFLOW_EXPERIMENT_NAME": "interrupted"}
    process = subprocess.Popen(
        command(),
        env=env,
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    run_id = kill_after_epochs(process, tracking, "interrupted", 2, sig)
    stderr = process.stderr.read()
    if sig == signal.SIGTERM:
        assert process.returncode == 130
        assert "rerun with -P resume=true" in stderr
        killed = tracking.get_run(run_id)
        assert killed.info.status == "KILLED"
        assert "interrupted" in killed.data.tags["error"]
    else:
        assert tracking.get_run(run_id).info.status == "RUNNING"  # no chance to say goodbye

    resumed = subprocess.run(
        command(resume="true"), env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    runs = runs_of(tracking, "interrupted")
    assert [r.info.run_id for r in runs] == [run_id]  # continued, not a second run
    run = runs[0]
    assert run.info.status == "FINISHED"
    assert "error" not in run.data.tags  # the interruption is not how it ended
    # its description is its result, as the uninterrupted run's, and says it was resumed
    # when the interruption was recorded (SIGKILL leaves no word of it)
    resumed_note = " (interrupted, then resumed with -P resume=true from its last finished epoch)"
    suffix = resumed_note if sig == signal.SIGTERM else ""
    note = uninterrupted.data.tags["mlflow.note.content"]
    assert run.data.tags["mlflow.note.content"] == note + suffix
    expected = uninterrupted.data.metrics
    for name in ("test_loss", "test_rmse", "test_r2", "epochs_run", "best_epoch", "best_val_loss"):
        assert run.data.metrics[name] == pytest.approx(expected[name], rel=1e-5), name
    history = tracking.get_metric_history(run_id, "val_loss")
    reference = tracking.get_metric_history(uninterrupted.info.run_id, "val_loss")
    by_step = {m.step: m.value for m in history}  # an epoch logged twice has the same value
    assert sorted(by_step) == [m.step for m in reference] == list(range(1, 7))  # epochs 1-6
    assert [by_step[m.step] for m in reference] == pytest.approx([m.value for m in reference])


def until(process, condition, what: str) -> None:
    """Poll (not a clock) until `condition()` holds, while `process` runs."""
    deadline = time.monotonic() + 240
    while not condition():
        assert process.poll() is None, f"it ended before {what}"
        assert time.monotonic() < deadline, f"no {what} within 240 s"
        time.sleep(0.05)


@pytest.mark.slow
def test_two_resumes_of_one_interrupted_run_at_once_leave_it_to_one(lesson_env, tracking, tmp_path):
    """Two `-P resume=true` of one interrupted run started together: one trains it on, the
    other says so and stops without opening that run (exit 2; through `mlflow run`, the run
    that it made ends FAILED with the reason)."""
    env = lesson_env | {"MLFLOW_EXPERIMENT_NAME": "interrupted"}
    long = {"epochs": 300, "patience": 0}  # still training while the others start
    first = subprocess.Popen(command(**long), env=env, cwd=tmp_path, **QUIET)
    run_id = kill_after_epochs(first, tracking, "interrupted", 2, signal.SIGTERM)
    reason = tracking.get_run(run_id).data.tags["error"]

    def epochs() -> int:
        return len(tracking.get_metric_history(run_id, "loss"))

    done = epochs()
    resumers = [
        subprocess.Popen(
            command(**long, resume="true"),
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 240
        while all(p.poll() is None for p in resumers) and time.monotonic() < deadline:
            time.sleep(0.05)
        [loser] = [p for p in resumers if p.poll() is not None]
        [winner] = [p for p in resumers if p is not loser]
        expected = (
            f"error: the interrupted run {run_id} is already being resumed by process "
            f"{winner.pid}; let it finish, or stop it and resume again"
        )
        stderr = loser.stderr.read()
        assert loser.returncode == 2, stderr[-2000:]
        assert error_lines(stderr) == [expected]
        until(winner, lambda: epochs() > done, "a resumed epoch")
        launched = mlflow_run("dnn_regression", PARAMS | long | {"resume": "true"}, env, tmp_path)
        assert launched.returncode != 0
        assert error_lines(launched.stderr) == [expected]
        assert "Traceback" not in stderr + launched.stderr
        [made] = [r for r in runs_of(tracking, "interrupted") if r.info.run_id != run_id]
        assert made.info.status == "FAILED"
        assert made.data.tags["error"] == expected.removeprefix("error: ")
        shared = tracking.get_run(run_id)
        assert shared.info.status == "RUNNING"
        assert shared.data.tags["error"] == reason  # still the interruption's, untouched
        trained = epochs()
        until(winner, lambda: epochs() > trained, "an epoch after the others stopped")
    finally:
        for process in resumers:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=120)
    assert winner.returncode == 130
    assert tracking.get_run(run_id).info.status == "KILLED"


def catches(pid: int, sig: int) -> bool:
    """Whether process `pid` has installed a handler for `sig` (Linux: /proc's SigCgt)."""
    status = Path(f"/proc/{pid}/status").read_text()
    caught = next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught, 16) >> (sig - 1) & 1)


def test_sigterm_before_the_run_is_opened_says_nothing_was_recorded(lesson_env, tracking, tmp_path):
    """Caught while Keras is still being imported: no run exists to mark KILLED."""
    process = subprocess.Popen(
        command(), env=lesson_env, cwd=tmp_path, stderr=subprocess.PIPE, text=True
    )
    until(process, lambda: catches(process.pid, signal.SIGTERM), "SIGTERM handler")
    process.send_signal(signal.SIGTERM)
    stderr = process.communicate(timeout=120)[1]
    assert process.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr
    assert [line for line in stderr.splitlines() if line.startswith("interrupted")] == [
        "interrupted before the run was opened: nothing was trained or recorded; "
        "run the command again"
    ]
    assert runs_of(tracking, "dnn_regression") == []


def test_resume_with_nothing_to_resume_starts_fresh(lesson_env, tracking, tmp_path):
    done = in_process(
        "dnn_regression", PARAMS | {"epochs": 1, "resume": "true"}, lesson_env, tmp_path
    )
    finished_run(done, tracking, "dnn_regression")
    assert "no interrupted run with these parameters; starting from epoch 1" in done.stdout


def test_stale_runs_are_marked_killed_and_live_ones_left_alone(tracking, tmp_path):
    import socket

    from tools import stale_runs

    host = socket.gethostname()
    experiment = tracking.create_experiment("stale")
    finished = subprocess.run([sys.executable, "-c", "pass"])
    dead = tracking.create_run(experiment, tags={"pid": "999999999", "host": host})
    live_process = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "pipelines"]
    )
    try:
        live = tracking.create_run(experiment, tags={"pid": str(live_process.pid), "host": host})
        hours_ago = int((time.time() - 3 * 3600) * 1000)
        abandoned = tracking.create_run(experiment, start_time=hours_ago)
        fresh = tracking.create_run(experiment)
        assert finished.returncode == 0

        listed = subprocess.run(
            [sys.executable, "-m", "tools.stale_runs", "--dry-run"],
            capture_output=True,
            text=True,
            env=None,
            cwd=tmp_path,
        )
        assert "would mark 2 stale run(s) KILLED" in listed.stdout, listed.stderr
        assert stale_runs.main([]) == 0
    finally:
        live_process.kill()
    status = {r.info.run_id: r.info.status for r in tracking.search_runs([experiment])}
    assert status[dead.info.run_id] == "KILLED"
    assert status[abandoned.info.run_id] == "KILLED"
    assert status[live.info.run_id] == "RUNNING"
    assert status[fresh.info.run_id] == "RUNNING"
    reason = tracking.get_run(dead.info.run_id).data.tags["error"]
    assert reason == f"marked KILLED by stale_runs: its process 999999999 on {host} is gone"


def test_workers_opening_runs_at_once_all_tag_the_experiment_for_the_runs_table(tracking):
    """Parallel tune workers open their runs in one experiment at the same moment; each
    tags it for the UI's runs table, and the store refuses every insert but the first."""
    from steps.track.run import open_on_runs_table

    experiment = tracking.create_experiment("workers")
    start, failures = threading.Barrier(4), []

    def worker() -> None:
        start.wait()
        try:
            open_on_runs_table(experiment)
        except Exception as exc:  # any failure of any worker fails the test
            failures.append(repr(exc))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    tags = tracking.get_experiment(experiment).tags
    assert tags["mlflow.experimentKind"] == "custom_model_development"


def test_two_processes_building_one_cold_cache_both_succeed(lesson_env, tmp_path):
    code = (
        "from steps.data import cache, catalog;"
        "ds, status = cache.load_cached(catalog.resolve('cifar10'));"
        "print(status, ds.x_train.shape)"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            env=lesson_env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert sorted(out.splitlines()[-1].split()[0] for out, _ in outputs) == ["hit", "miss"]
    entries = list((tmp_path / "cache" / "npy").iterdir())
    assert len(entries) == 1 and (entries[0] / "manifest.json").is_file()


def test_unwritable_artifact_store_fails_the_run_with_the_path(lesson_env, tracking, tmp_path):
    """What to do depends on what went wrong: here no disk is full, a file is in the way."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the artifact folder should be")
    tracking.create_experiment("blocked", artifact_location=str(blocker / "artifacts"))
    env = lesson_env | {"MLFLOW_EXPERIMENT_NAME": "blocked"}
    done = in_process("dnn_regression", PARAMS | {"epochs": 1}, env, tmp_path)
    message = (
        f"cannot write the run's artifacts to {blocker / 'artifacts'}: Not a directory; a file "
        "stands where a folder is needed: move it, or point the experiment's artifact location "
        "(or MLFLOW_TRACKING_URI) elsewhere"
    )
    assert_clean_failure(done, tracking, "blocked", message)  # exit 2, FAILED
    assert error_lines(done.stderr) == [f"error: {message}"]


@pytest.mark.slow
def test_ctrl_c_on_mlflow_run_ends_killed_and_resume_continues_that_run(
    lesson_env, tracking, tmp_path
):
    """Ctrl-C reaches the whole foreground process group, as from a terminal."""
    import os

    def launch(**extra) -> list[str]:
        args = [str(MLFLOW), "run", str(REPO), "-e", "dnn_regression", "--env-manager", "local"]
        for key, value in (PARAMS | extra).items():
            args += ["-P", f"{key}={value}"]
        return args

    process = subprocess.Popen(
        launch(),
        env=lesson_env,
        cwd=tmp_path,
        start_new_session=True,
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    kill_after_epochs(
        type(
            "Group",
            (),
            {
                "poll": process.poll,
                "wait": process.wait,
                "send_signal": lambda s, sig: os.killpg(process.pid, sig),
            },
        )(),
        tracking,
        "dnn_regression",
        2,
        signal.SIGINT,
    )
    stderr = process.stderr.read()
    first = runs_of(tracking, "dnn_regression")[0]
    # The pipeline ends it KILLED; MLflow 3.17's CLI then overwrites that with FAILED (its
    # _maybe_set_run_terminated compares a status string with int codes). The reason stays.
    assert first.info.status in ("KILLED", "FAILED"), stderr[-2000:]
    assert "rerun with -P resume=true" in first.data.tags["error"]

    resumed = subprocess.run(
        launch(resume="true"), env=lesson_env, cwd=tmp_path, capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    runs = {r.info.run_id: r for r in runs_of(tracking, "dnn_regression")}
    assert runs[first.info.run_id].info.status == "FINISHED"
    assert "test_rmse" in runs[first.info.run_id].data.metrics
    (launched,) = [r for r in runs.values() if r.info.run_id != first.info.run_id]
    assert launched.data.tags["resumed_run"] == first.info.run_id
