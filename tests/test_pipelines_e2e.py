"""Every entry point end to end through the real `mlflow run` CLI on tiny data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from pipelines.registry import ENTRY_POINTS

from conftest import TINY, mlflow_run, only_run

# Entry point -> parameters that make it tiny (and offline: the mirror serves Keras's files).
CASES = {
    "dnn_basic": {"epochs": 3},
    "dnn_regression": {"dataset": "diabetes"},
    "image_classify": {"dataset": "digits", "model": "cnn"},
    "cnn_mnist": {},
    "cnn_cifar10": {},
}
CLASSIFICATION = {"test_loss", "test_accuracy"}
REGRESSION = {"test_loss", "test_rmse", "test_mae", "test_r2"}


def test_every_entry_point_has_an_end_to_end_case():
    assert set(CASES) == set(ENTRY_POINTS)


def artifact_paths(client, run_id: str, path: str = "") -> list[str]:
    found = []
    for item in client.list_artifacts(run_id, path):
        found += artifact_paths(client, run_id, item.path) if item.is_dir else [item.path]
    return found


@pytest.mark.parametrize("entry_point", list(CASES))
def test_entry_point_logs_the_contract(entry_point, lesson_env, tracking, tmp_path):
    import mlflow

    params = TINY | CASES[entry_point]
    result = mlflow_run(entry_point, params, lesson_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]

    run = only_run(tracking, entry_point)  # filed under the entry point's experiment
    assert run.info.status == "FINISHED"
    entry = ENTRY_POINTS[entry_point]
    assert run.data.tags["lesson"] == entry.lessons
    assert run.data.tags["pipeline"] == entry_point
    assert run.data.tags["dataset"] == params.get("dataset", entry.defaults.dataset)
    assert run.data.tags["cache"] == "miss"
    assert run.data.params["epochs"] == str(params["epochs"])
    assert run.data.params["seed"] == "42"

    task_metrics = REGRESSION if entry.module != "image_classify" else CLASSIFICATION
    assert task_metrics <= run.data.metrics.keys()
    for name in ("loss", "val_loss", "learning_rate"):
        history = tracking.get_metric_history(run.info.run_id, name)
        assert [m.step for m in history] == list(range(int(run.data.metrics["epochs_run"])))

    artifacts = artifact_paths(tracking, run.info.run_id)
    assert "plots/history.png" in artifacts
    events = [p for p in artifacts if p.startswith("tensorboard/") and "tfevents" in p]
    assert any("/train/" in p for p in events) and any("/validation/" in p for p in events)
    local = tracking.download_artifacts(run.info.run_id, "tensorboard/train", str(tmp_path))
    tags = EventAccumulator(local).Reload().Tags()
    assert "epoch_loss" in tags["scalars"] + tags["tensors"]

    model = mlflow.pyfunc.load_model(run.data.tags["model_uri"])
    assert model.metadata.signature is not None
    assert model.metadata.saved_input_example_info is not None


def test_reloaded_mnist_model_scores_what_the_run_logged(lesson_env, tracking, tmp_path, upstream):
    """The logged model takes raw pixels: its accuracy on the raw test set is the logged one."""
    import mlflow

    result = mlflow_run("cnn_mnist", TINY, lesson_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    run = only_run(tracking, "cnn_mnist")
    assert "plots/samples.png" in artifact_paths(tracking, run.info.run_id, "plots")
    assert "plots/confusion_matrix.png" in artifact_paths(tracking, run.info.run_id, "plots")
    with np.load(upstream / "mnist.npz") as archive:
        x_test, y_test = archive["x_test"].astype(np.float32), archive["y_test"]
    probabilities = np.asarray(mlflow.pyfunc.load_model(run.data.tags["model_uri"]).predict(x_test))
    assert probabilities.shape == (len(x_test), 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    accuracy = float((probabilities.argmax(axis=1) == y_test).mean())
    assert accuracy == pytest.approx(run.data.metrics["test_accuracy"], abs=1e-6)


def test_dnn_basic_predictions_follow_new_inputs(lesson_env, tracking, tmp_path):
    """Lesson 02: the logged predictions are the reloaded model's, and they follow y = 2x + 1."""
    import mlflow

    params = TINY | {"epochs": 60, "units": 16, "predict_inputs": "10,50,90"}
    result = mlflow_run("dnn_basic", params, lesson_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    run = only_run(tracking, "dnn_basic")
    table = pd.read_csv(
        tracking.download_artifacts(run.info.run_id, "predictions/new_inputs.csv", str(tmp_path))
    )
    assert table["input"].tolist() == [10.0, 50.0, 90.0]
    model = mlflow.pyfunc.load_model(run.data.tags["model_uri"])
    reloaded = np.asarray(model.predict(np.array([[10.0], [50.0], [90.0]], np.float32))).ravel()
    np.testing.assert_allclose(reloaded, table["prediction"].to_numpy(), atol=1e-3)
    np.testing.assert_allclose(reloaded, [21, 101, 181], rtol=0.1)  # y = 2x + 1, roughly


def test_same_seed_same_metrics_and_second_run_hits_the_cache(lesson_env, tracking, tmp_path):
    params = TINY | {"dataset": "digits", "model": "cnn"}
    for _ in range(2):
        result = mlflow_run("image_classify", params, lesson_env, tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
    experiment = tracking.get_experiment_by_name("image_classify")
    first, second = sorted(
        tracking.search_runs([experiment.experiment_id]), key=lambda r: r.info.start_time
    )
    assert (first.data.tags["cache"], second.data.tags["cache"]) == ("miss", "hit")
    for name in ("test_loss", "test_accuracy"):
        assert first.data.metrics[name] == second.data.metrics[name]
