"""`-P devices=`: data-parallel training on CPU devices split from this machine's CPU (the way
Keras tests its own distribution code), compared with one device. Every run is its own
process: the device count is fixed when the backend starts."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import numpy as np
import pytest

from helpers.runs import (
    assert_clean_failure,
    error_lines,
    finished_run,
    in_process,
    mlflow_run,
    only_run,
    runs_of,
)

# No dropout: on TensorFlow each replica draws its own mask, so only a fit without
# randomness in the model can match one device step by step (docs: "More than one device").
# 96 training and 24 validation rows of iris: whole batches of 16 on 1, 2 or 4 devices.
PARAMS = {
    "folds": 0,  # one fit on one device too: a k-fold fit is for one device only
    "dataset": "iris",
    "epochs": 2,
    "batch_size": 16,
    "units": 8,
    "dropout": 0.0,
    "verbose": 0,
}
# Float sums in another order: 4 partial sums of 4 rows then their mean, not one sum of 16.
# float32 rounds each at ~6e-8 relative; two epochs of 6 steps stay well within 1e-5.
TOLERANCE = 1e-5


def launched(backend: str, env: dict[str, str], cwd, **params) -> subprocess.CompletedProcess:
    """`python -m pipelines tabular ...` in a new process (its own backend and devices)."""
    args = [sys.executable, "-m", "pipelines", "tabular", "--backend", backend]
    for key, value in (PARAMS | params).items():
        args += [f"--{key}", str(value)]
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)


def history(client, run, name: str) -> list[float]:
    return [m.value for m in client.get_metric_history(run.info.run_id, name)]


def assert_same_training(client, parallel, single) -> None:
    """Per-epoch losses, the kept epoch and the test scores as one device's, within float
    summation order."""
    for name in ("loss", "val_loss"):
        ours, reference = history(client, parallel, name), history(client, single, name)
        assert len(ours) == len(reference) == PARAMS["epochs"], name
        assert ours == pytest.approx(reference, rel=TOLERANCE), name
    for name in ("test_loss", "test_accuracy", "best_epoch"):
        assert parallel.data.metrics[name] == pytest.approx(
            single.data.metrics[name], rel=TOLERANCE
        ), name


def reloaded_predictions(run) -> np.ndarray:
    """The logged model, loaded here (one device, this process's backend), on iris rows."""
    import mlflow
    from sklearn.datasets import load_iris

    model = mlflow.pyfunc.load_model(run.data.tags["model_uri"])
    return np.asarray(model.predict(load_iris().data[::10].astype(np.float32)))


@pytest.mark.slow
def test_jax_data_parallel_on_4_devices_matches_one_device(lesson_env, tracking, tmp_path):
    env = lesson_env | {"KERAS_BACKEND": "jax", "JAX_NUM_CPU_DEVICES": "4"}
    result = mlflow_run("tabular", PARAMS | {"backend": "jax", "devices": 4}, env, tmp_path)
    parallel = finished_run(result, tracking, "tabular")
    assert "devices: 4 CPU, DataParallel, batch 16 = 4 x 4" in result.stdout
    tags = parallel.data.tags
    assert tags["device_count"] == "4"
    assert tags["device_kind"] == "CPU (split from one CPU)"
    assert tags["distribution"] == "DataParallel"
    assert tags["per_device_batch"] == "4"
    assert "rows_left_out" not in tags
    assert parallel.data.params["devices"] == "4"

    one = env | {"MLFLOW_EXPERIMENT_NAME": "one_device"}
    single = finished_run(launched("jax", one, tmp_path), tracking, "one_device")
    assert single.data.tags["distribution"] == "one device"
    assert_same_training(tracking, parallel, single)
    # Trained on 4 devices, it loads and predicts on this process's single CPU device.
    assert reloaded_predictions(parallel) == pytest.approx(
        reloaded_predictions(single), abs=TOLERANCE
    )


@pytest.mark.slow
def test_tensorflow_mirrored_strategy_on_2_devices_matches_one_device(
    lesson_env, tracking, tmp_path
):
    env = lesson_env | {"KERAS_BACKEND": "tensorflow"}
    params = PARAMS | {"backend": "tensorflow", "devices": 2}
    parallel = finished_run(mlflow_run("tabular", params, env, tmp_path), tracking, "tabular")
    tags = parallel.data.tags
    assert (tags["device_count"], tags["distribution"]) == ("2", "MirroredStrategy")
    assert tags["per_device_batch"] == "8"

    one = env | {"MLFLOW_EXPERIMENT_NAME": "one_device"}
    done = in_process("tabular", PARAMS | {"backend": "tensorflow"}, one, tmp_path)
    single = finished_run(done, tracking, "one_device")
    assert_same_training(tracking, parallel, single)
    assert reloaded_predictions(parallel) == pytest.approx(
        reloaded_predictions(single), abs=TOLERANCE
    )


@pytest.mark.slow
def test_a_batch_that_does_not_split_over_the_devices_is_refused(lesson_env, tracking, tmp_path):
    """Refused before training, in one line saying which batch sizes do split."""
    params = PARAMS | {"backend": "jax", "devices": 4, "batch_size": 10}
    result = mlflow_run("tabular", params, lesson_env | {"KERAS_BACKEND": "jax"}, tmp_path)
    assert_clean_failure(
        result,
        tracking,
        "tabular",
        "batch_size 10 does not divide by the 4 devices: give a multiple of 4, "
        "e.g. -P batch_size=8",
    )


def test_more_devices_than_there_are_is_refused(lesson_env, tmp_path):
    env = lesson_env | {"KERAS_BACKEND": "jax", "JAX_NUM_CPU_DEVICES": "2"}
    result = launched("jax", env, tmp_path, devices=4)
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        "error: -P devices=4 asks for more devices than the 2 CPU device(s) here: give "
        "-P devices=2 or -P devices=all (or set JAX_NUM_CPU_DEVICES before the run)"
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_two_processes_train_one_run_that_only_the_first_records(lesson_env, tracking, tmp_path):
    """Two processes, 2 CPU devices each, one training over the 4 (JAX's gloo collectives
    on the CPU): one run, one model; the second process trains silently and exits alike."""
    shared = lesson_env | {
        "KERAS_BACKEND": "jax",
        "JAX_NUM_CPU_DEVICES": "2",
        "KERAS_DISTRIBUTION_JOB_ADDRESSES": f"127.0.0.1:{free_port()}",
        "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
    }
    args = [sys.executable, "-m", "pipelines", "tabular", "--backend", "jax", "--devices", "all"]
    for key, value in PARAMS.items():
        args += [f"--{key}", str(value)]
    processes = [
        subprocess.Popen(
            args,
            env=shared | {"KERAS_DISTRIBUTION_PROCESS_ID": str(index)},
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in (0, 1)
    ]
    outputs = [process.communicate(timeout=600) for process in processes]
    assert [p.returncode for p in processes] == [0, 0], (
        outputs[0][1][-2000:] + outputs[1][1][-2000:]
    )
    run = only_run(tracking, "tabular")
    assert run.info.status == "FINISHED"
    tags = run.data.tags
    assert (tags["device_count"], tags["processes"], tags["per_device_batch"]) == ("4", "2", "4")
    assert "MLflow run:" in outputs[0][0]
    # The second process says nothing; only gloo, JAX's native collectives, greets its peers.
    said = [line for line in outputs[1][0].splitlines() if not line.startswith("[Gloo]")]
    assert said == []
    assert len(history(tracking, run, "loss")) == PARAMS["epochs"]
    assert reloaded_predictions(run).shape[0] > 0


RESUMED = PARAMS | {"backend": "jax", "devices": 4, "epochs": 4}


@pytest.mark.slow
def test_a_run_interrupted_on_4_devices_resumes_on_4_and_says_so_on_2(
    lesson_env, tracking, tmp_path
):
    env = lesson_env | {
        "KERAS_BACKEND": "jax",
        "KERAS_LESSONS_SAVE_SECONDS": "0",
        "MLFLOW_EXPERIMENT_NAME": "interrupted",
    }
    args = [sys.executable, "-m", "pipelines", "tabular"]
    for key, value in RESUMED.items():
        args += [f"--{key}", str(value)]
    process = subprocess.Popen(
        args, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    run_id = killed_after(process, tracking, "interrupted", epochs=2)

    other = subprocess.run(
        [*args, "--resume", "true", "--devices", "2"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert other.returncode == 2
    assert error_lines(other.stderr) == [
        f"error: the interrupted run {run_id} trained on 4 device(s) and this one has 2: "
        "resume it with -P devices=4, or start afresh without -P resume=true"
    ]
    resumed = subprocess.run(
        [*args, "--resume", "true"], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert [r.info.run_id for r in runs_of(tracking, "interrupted")] == [run_id]

    whole = env | {"MLFLOW_EXPERIMENT_NAME": "whole"}
    reference = finished_run(
        launched("jax", whole, tmp_path, devices=4, epochs=4), tracking, "whole"
    )
    run = tracking.get_run(run_id)
    assert run.info.status == "FINISHED"
    by_step = {m.step: m.value for m in tracking.get_metric_history(run_id, "val_loss")}
    assert [by_step[step] for step in range(1, 5)] == history(tracking, reference, "val_loss")
    assert run.data.metrics["test_loss"] == reference.data.metrics["test_loss"]


def killed_after(process, client, experiment: str, epochs: int) -> str:
    """SIGKILL once `epochs` epochs are logged (polling the store, not a clock)."""
    import time

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert process.poll() is None, "the run finished before it could be interrupted"
        runs = runs_of(client, experiment)
        if runs and len(client.get_metric_history(runs[0].info.run_id, "loss")) >= epochs:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=60)
            return runs[0].info.run_id
        time.sleep(0.05)
    raise AssertionError("no progress within 300 s")
