"""Lessons 28-31, 47-57 end to end: save_load, checkpoint, prepare_data, gpu_check."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.entry_points import params_for
from steps.data import catalog
from steps.data.prepare import prepare
from steps.errors import UserError

from helpers.runs import (
    TINY,
    artifact_paths,
    assert_clean_failure,
    finished_run,
    in_process,
    mlflow_run,
    only_run,
    trained_run,
)
from helpers.upstream_files import write_boston_housing_npz

OFFLINE = {"http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}


def offline(env: dict[str, str]) -> dict[str, str]:
    """No mirror and no network: downloads fail fast."""
    return {k: v for k, v in env.items() if k != "KERAS_LESSONS_DATA_ORIGIN"} | OFFLINE


def download(tracking, run, path: str, tmp_path):
    return tracking.download_artifacts(run.info.run_id, path, str(tmp_path))


# ------------------------------------------------------------------ save_load (28-31)


@pytest.mark.slow
def test_save_load_reloads_the_same_model_and_names_both_shapes(lesson_env, tracking, tmp_path):
    import keras
    import mlflow

    samples = np.linspace(0, 1, 30, dtype=np.float32).reshape(3, 10) * 100
    np.savez(tmp_path / "mine.npz", x=samples)
    params = TINY | {"dataset": "diabetes", "predict_npz": tmp_path / "mine.npz"}
    result = mlflow_run("save_load", params, lesson_env, tmp_path)
    run = trained_run(result, tracking, "save_load", "regression", tmp_path)
    assert run.data.tags["lesson"] == "28-31"
    assert run.data.metrics["reload_max_abs_diff"] == 0.0
    message = "the model expects samples of shape (10,), got (11,): give 10 values per sample"
    assert run.data.tags["shape_check"].startswith(message)
    assert message in result.stdout
    # what Keras itself says of the same batch, beside the project's line (lessons 30-31)
    keras_says = (
        "raised ValueError: Input 0 with name 'sample' of layer 'dnn' is incompatible with the "
        "layer: expected shape=(None, 10), found shape=(2, 11)"
    )
    assert run.data.tags["keras_shape_check"] == keras_says
    assert (
        f"Keras itself, model.predict on a batch of shape (2, 11): {keras_says}"
        in result.stdout.splitlines()
    )
    explained = Path(download(tracking, run, "shape_check.txt", tmp_path)).read_text()
    assert explained.splitlines() == [
        "batch of shape (2, 11), the model expects (10,) per sample",
        f"Keras itself (model.predict): {keras_says}",
        f"this project (checked_predict): {run.data.tags['shape_check']}",
    ]
    artifacts = artifact_paths(tracking, run.info.run_id)
    assert {"saved/model.keras", "shape_check.txt", "predictions/predict_npz.csv"} <= set(artifacts)

    # The logged .keras file reloads (safe mode) and predicts what the run logged for the samples.
    saved = keras.saving.load_model(download(tracking, run, "saved/model.keras", tmp_path))
    assert saved.input_shape == (None, 10)
    predicted = saved.predict(samples, verbose=0).ravel()
    table = pd.read_csv(download(tracking, run, "predictions/predict_npz.csv", tmp_path))
    assert table["row"].tolist() == [0, 1, 2]
    np.testing.assert_allclose(table["prediction"], predicted, rtol=1e-5)
    # ... and it is the very model logged to MLflow.
    logged = mlflow.pyfunc.load_model(run.data.tags["model_uri"]).predict(samples)
    np.testing.assert_array_equal(np.asarray(logged).ravel(), predicted)


def test_save_load_fails_on_own_samples_of_the_wrong_shape(lesson_env, tracking, tmp_path):
    np.savez(tmp_path / "boston_like.npz", x=np.zeros((3, 13)))
    params = TINY | {"dataset": "diabetes", "predict_npz": tmp_path / "boston_like.npz"}
    result = in_process("save_load", params, lesson_env, tmp_path)
    assert_clean_failure(
        result,
        tracking,
        "save_load",
        "the model expects samples of shape (10,), got (13,): give 10 values per sample",
    )
    assert "epochs_run" not in only_run(tracking, "save_load").data.metrics  # refused before fit


# ------------------------------------------------------------------ checkpoint (48-53)


@pytest.mark.slow
def test_checkpoint_logs_best_and_last_epoch_models_with_their_scores(
    lesson_env, tracking, tmp_path
):
    """A high learning rate without EarlyStopping: the best epoch by val_loss is an earlier one
    than the last, and both models are logged with their test scores."""
    import keras

    overrides = {"dataset": "iris", "epochs": 6, "patience": 0, "learning_rate": 0.5}
    result = mlflow_run("checkpoint", TINY | overrides, lesson_env, tmp_path)
    run = trained_run(result, tracking, "checkpoint", "classification", tmp_path)
    metrics = run.data.metrics
    assert metrics["model_reload_max_abs_diff"] == 0.0  # lesson 50
    assert metrics["weights_reload_max_abs_diff"] == 0.0  # lesson 51

    # Epochs from 1: the checkpoint holds the lowest val_loss, the last is the last trained.
    val_loss = [m.value for m in tracking.get_metric_history(run.info.run_id, "val_loss")]
    assert metrics["checkpoint_epoch"] == int(np.argmin(val_loss)) + 1
    assert metrics["last_epoch"] == len(val_loss) == 6
    assert metrics["checkpoint_epoch"] < metrics["last_epoch"]
    # Two models, each scored on the test rows (the best by val_loss need not test better).
    assert metrics["best_epoch_test_loss"] != metrics["last_epoch_test_loss"]
    # Without EarlyStopping the run's own model is the last epoch's, and the run says so.
    assert metrics["test_loss"] == pytest.approx(metrics["last_epoch_test_loss"], rel=1e-6)
    assert metrics["best_epoch"] == 6 and metrics["best_val_loss"] == val_loss[-1]
    [line] = [line for line in result.stdout.splitlines() if "kept epoch" in line]
    assert line.endswith("; 6 epochs, kept epoch 6 (the last; EarlyStopping off)")

    # Each logged checkpoint scores, on the run's own test split, what the run logged for it.
    params = params_for("checkpoint", **(TINY | overrides | {"filters": "4,8"}))
    prepared = prepare(catalog.resolve("iris").load(), params.prepare_options())
    x_test, y_test = prepared.data.x_test, prepared.data.y_test
    artifacts = artifact_paths(tracking, run.info.run_id, "checkpoints")
    assert set(artifacts) == {
        "checkpoints/best.keras",
        "checkpoints/last.keras",
        "checkpoints/final.weights.h5",
    }
    for label in ("best", "last"):
        model = keras.saving.load_model(
            download(tracking, run, f"checkpoints/{label}.keras", tmp_path)
        )
        scores = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
        assert scores["loss"] == pytest.approx(metrics[f"{label}_epoch_test_loss"], rel=1e-5)
    table = pd.read_csv(download(tracking, run, "comparison/best_vs_last.csv", tmp_path))
    assert table["model"].tolist() == ["best_epoch", "last_epoch"]
    assert table["epoch"].tolist() == [metrics["checkpoint_epoch"], 6]


def test_checkpoint_on_an_image_set_with_early_stopping_keeps_best_as_run_model(
    lesson_env, tracking, tmp_path
):
    """Lesson 53 on MNIST; restore_best_weights makes the run's model the best epoch's."""
    overrides = {"dataset": "mnist", "epochs": 3, "patience": 2}
    result = in_process("checkpoint", TINY | overrides, lesson_env, tmp_path)
    run = finished_run(result, tracking, "checkpoint")
    assert run.data.tags["dataset"] == "mnist"
    metrics = run.data.metrics
    assert metrics["test_loss"] == pytest.approx(metrics["best_epoch_test_loss"], rel=1e-6)
    assert metrics["last_epoch"] == metrics["epochs_run"]
    assert metrics["checkpoint_epoch"] == metrics["best_epoch"]  # both the lowest val_loss
    assert metrics["weights_reload_max_abs_diff"] == 0.0


# ------------------------------------------------------------------ prepare_data (54-57)


@pytest.mark.slow
def test_prepare_data_warms_all_eight_sets_then_reports_hits_and_skips(
    lesson_env, tracking, tmp_path, upstream
):
    write_boston_housing_npz(upstream)
    result = mlflow_run("prepare_data", {"dataset": "all"}, lesson_env, tmp_path)
    run = finished_run(result, tracking, "prepare_data")
    assert run.info.status == "FINISHED"
    table = pd.read_csv(download(tracking, run, "cache/datasets.csv", tmp_path))
    expected = [
        "mnist",
        "fashion_mnist",
        "cifar10",
        "cifar100",
        "boston_housing",
        "diabetes",
        "iris",
        "breast_cancer",
    ]
    assert table["dataset"].tolist() == expected
    assert set(table["status"]) == {"miss"}
    rows = dict(zip(table["dataset"], table["rows"], strict=True))
    assert rows["mnist"] == 160 and rows["iris"] == 150 and rows["boston_housing"] == 60
    assert (table["bytes"] > 0).all() and (table["seconds"] > 0).all()
    assert run.data.metrics["iris_bytes"] == 150 * 4 * 8 + 150 * 8  # float64 x, int64 y
    assert run.data.metrics["iris_seconds"] == pytest.approx(
        table.set_index("dataset")["seconds"]["iris"]
    )
    [line] = [line for line in result.stdout.splitlines() if line.startswith("iris: ")]
    assert re.fullmatch(r"iris: cache miss, 150 rows, 6000 bytes, \d+\.\d\d s", line), line
    assert run.data.metrics["datasets_miss"] == 8
    assert run.data.tags["cache"] == "miss"

    # Second run, no mirror and no network: mnist cannot be fetched, the others are hits.
    env = offline(lesson_env) | {"MLFLOW_EXPERIMENT_NAME": "again"}
    result = in_process("prepare_data", {"dataset": "mnist,diabetes,iris"}, env, tmp_path)
    again = finished_run(result, tracking, "again")
    assert "skipped mnist: cannot download mnist from https://" in result.stdout
    table = pd.read_csv(download(tracking, again, "cache/datasets.csv", tmp_path / "2"))
    assert table["status"].tolist() == ["skipped", "hit", "hit"]
    assert table["message"][0].startswith("cannot download mnist")
    assert again.data.metrics["datasets_hit"] == 2
    assert again.data.metrics["datasets_skipped"] == 1
    assert again.data.metrics["mnist_rows"] == 0
    assert again.data.tags["cache"] == "hit"


def test_prepare_data_fails_when_nothing_could_be_prepared(lesson_env, tracking, tmp_path):
    result = in_process("prepare_data", {"dataset": "mnist"}, offline(lesson_env), tmp_path)
    assert_clean_failure(
        result, tracking, "prepare_data", "none of mnist could be prepared (first reason: cannot"
    )
    assert "skipped mnist:" in result.stdout


# ------------------------------------------------------------------ gpu_check (47)


@pytest.mark.slow
def test_gpu_check_lists_devices_and_times_a_matmul(lesson_env, tracking, tmp_path):
    result = mlflow_run("gpu_check", {"size": 128, "repeats": 2}, lesson_env, tmp_path)
    run = finished_run(result, tracking, "gpu_check")
    assert run.info.status == "FINISHED"
    assert run.data.tags["lesson"] == "47"
    assert run.data.tags["backend"] == run.data.params["backend"] == "tensorflow"
    report = json.loads(Path(download(tracking, run, "devices.json", tmp_path)).read_text())
    devices = report["devices"]
    assert any(d["device"] == "/device:CPU:0" for d in devices)
    for device in devices:
        assert device["size"] == 128 and device["repeats"] == 2
        assert device["median_seconds"] > 0 and device["gflops"] > 0
        key = device["device"].removeprefix("/device:").replace(":", "_")
        assert run.data.metrics[f"matmul_gflops_{key}"] == pytest.approx(device["gflops"])
    gpus = [d for d in devices if d["kind"] == "GPU"]
    assert run.data.metrics["gpu_count"] == len(gpus)
    no_gpu = "no GPU found: running on CPU only"
    assert (no_gpu in result.stdout) == (not gpus)
    assert (run.data.tags["gpu"] == "none") == (not gpus)


def test_gpu_check_refuses_a_zero_size():
    with pytest.raises(UserError, match=r"^bad value 0 for size: use 1 to 16384$"):
        params_for("gpu_check", size=0)
    with pytest.raises(UserError, match=r"^bad value -1 for repeats: use 1 or more$"):
        params_for("gpu_check", repeats=-1)
