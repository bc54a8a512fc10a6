"""Every entry point end to end through the real `mlflow run` CLI on tiny data."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.entry_points import ENTRY_POINTS

from helpers.entry_points import ALIASES
from helpers.runs import TINY, artifact_paths, finished_run, in_process, mlflow_run, trained_run

# What TensorFlow's C++ code writes to stderr unless told otherwise (steps/native_logs.py).
TENSORFLOW_NOISE = (
    "absl::InitializeLog",
    "failed call to cuInit",
    "use_unbounded_threadpool",
    "oneDNN custom operations",
    "cudart_stub.cc",
)

# Entry point -> parameters that make it tiny (and offline: the mirror serves Keras's files).
CASES = {
    "dnn_basic": {"epochs": 3},
    "dnn_regression": {"dataset": "diabetes"},
    "image_classify": {"dataset": "digits", "model": "cnn"},
    "cnn_mnist": {},
    "cnn_cifar10": {},
}


def test_every_entry_point_runs_through_mlflow_run_in_some_test():
    """Each entry point has an end-to-end test: a CASES row here or an `mlflow_run("NAME"`;
    the image aliases share image_classify's, and their defaults are checked one by one."""
    sources = "".join(p.read_text() for p in Path(__file__).parents[1].rglob("test_*.py"))
    launched = set(re.findall(r'\bmlflow_run\(\s*"(\w+)"', sources))
    missing = [n for n in ENTRY_POINTS if n not in CASES.keys() | launched | ALIASES.keys()]
    assert not missing, f"no end-to-end test for {missing}"


# `make test` launches the first lesson a user runs; the others wait for `make test-slow`
# (cnn_mnist's run is image_classify's with other defaults, checked one by one in
# test_lessons_images.py).
@pytest.mark.parametrize(
    "entry_point",
    [n if n == "cnn_cifar10" else pytest.param(n, marks=pytest.mark.slow) for n in CASES],
)
def test_entry_point_logs_the_contract(entry_point, lesson_env, tracking, tmp_path):
    params = TINY | CASES[entry_point]
    result = mlflow_run(entry_point, params, lesson_env, tmp_path)
    entry = ENTRY_POINTS[entry_point]
    task = "classification" if entry.pipeline == "image_classify" else "regression"
    # filed under the entry point's experiment
    run = trained_run(result, tracking, entry_point, task, tmp_path)
    assert run.data.tags["lesson"] == entry.lessons
    assert run.data.tags["pipeline"] == entry_point
    assert run.data.tags["dataset"] == params.get("dataset", entry.params().dataset)
    assert run.data.tags["cache"] == "miss"
    assert run.data.params["epochs"] == str(params["epochs"])
    assert run.data.params["seed"] == "42"
    # The terminal: none of TensorFlow's C++ lines; the last line says which epoch was kept
    # (EarlyStopping's lowest val_loss); then the run's page where `make ui` serves it.
    for noise in TENSORFLOW_NOISE:
        assert noise not in result.stderr, result.stderr[-3000:]
    # verbose=0 (TINY): nothing from Keras, neither the model summary nor epoch lines
    assert "Total params:" not in result.stdout and "Epoch 1/" not in result.stdout
    metrics = run.data.metrics
    kept = f"{params['epochs']} epochs, kept epoch {int(metrics['best_epoch'])} (lowest val_loss)"
    page = f"#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}"
    endings = [line for line in result.stdout.splitlines() if "kept epoch" in line]
    assert len(endings) == 1 and endings[0].endswith(f"; {kept}"), result.stdout[-3000:]
    assert (
        f"MLflow run: http://127.0.0.1:5000/{page}?workflowType=machine_learning "
        "(start the UI with `make ui`)"
    ) in result.stdout.splitlines()


def test_reloaded_mnist_model_scores_what_the_run_logged(lesson_env, tracking, tmp_path, upstream):
    """The logged model takes raw pixels: its accuracy on the raw test set is the logged one."""
    import mlflow

    result = in_process("cnn_mnist", TINY, lesson_env, tmp_path)
    run = finished_run(result, tracking, "cnn_mnist")
    assert "plots/samples.png" in artifact_paths(tracking, run.info.run_id, "plots")
    assert "plots/confusion_matrix.png" in artifact_paths(tracking, run.info.run_id, "plots")
    with np.load(upstream / "mnist.npz") as archive:
        x_test, y_test = archive["x_test"].astype(np.float32), archive["y_test"]
    # The logged model is named after the run (`cnn · mnist`), and found by that name.
    assert tracking.get_logged_model(run.data.tags["model_uri"][len("models:/") :]).name == (
        "cnn-mnist"
    )
    model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/cnn-mnist")
    probabilities = np.asarray(model.predict(x_test))
    assert probabilities.shape == (len(x_test), 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    accuracy = float((probabilities.argmax(axis=1) == y_test).mean())
    assert accuracy == pytest.approx(run.data.metrics["test_accuracy"], abs=1e-6)


@pytest.mark.slow
def test_dnn_basic_predictions_follow_new_inputs(lesson_env, tracking, tmp_path):
    """Lesson 02: the logged predictions are the reloaded model's, and they follow y = 2x + 1."""
    import mlflow

    params = TINY | {"epochs": 60, "units": 16, "predict_inputs": "10,50,90"}
    result = in_process("dnn_basic", params, lesson_env, tmp_path)
    run = finished_run(result, tracking, "dnn_basic")
    table = pd.read_csv(
        tracking.download_artifacts(run.info.run_id, "predictions/new_inputs.csv", str(tmp_path))
    )
    assert table["input"].tolist() == [10.0, 50.0, 90.0]
    model = mlflow.pyfunc.load_model(run.data.tags["model_uri"])
    reloaded = np.asarray(model.predict(np.array([[10.0], [50.0], [90.0]], np.float32))).ravel()
    np.testing.assert_allclose(reloaded, table["prediction"].to_numpy(), atol=1e-3)
    np.testing.assert_allclose(reloaded, [21, 101, 181], rtol=0.1)  # y = 2x + 1, roughly


def keras_measured(client, run) -> tuple[set[str], set[str]]:
    """(what was logged per epoch, the test scores): the names Keras's compile chose."""
    metrics = run.data.metrics
    per_epoch = {k for k in metrics if client.get_metric_history(run.info.run_id, k)[0].step}
    return per_epoch, {k for k in metrics if k.startswith("test_")}


@pytest.mark.slow
def test_dnn_basic_logs_the_loss_alone_by_default(lesson_env, tracking, tmp_path):
    """Lesson 04: no metrics given, Keras still reports the loss; the project's own scores
    (learning rate, RMSE/MAE/R2 in the target's units, baselines) are there as always."""
    result = mlflow_run("dnn_basic", TINY, lesson_env, tmp_path)  # dnn_basic's default: none
    run = trained_run(result, tracking, "dnn_basic", "regression", tmp_path)
    assert run.data.params["metrics"] == "''"
    # lesson 02 by default too: predictions for 101, 102, 103
    path = tracking.download_artifacts(run.info.run_id, "predictions/new_inputs.csv", str(tmp_path))
    assert pd.read_csv(path)["input"].tolist() == [101.0, 102.0, 103.0]
    per_epoch, tests = keras_measured(tracking, run)
    assert per_epoch == {"loss", "val_loss", "learning_rate"}
    assert tests == {"test_loss", "test_rmse", "test_mae", "test_r2"}
    assert {k for k in run.data.metrics if k.startswith("best_")} == {
        "best_epoch",
        "best_loss",
        "best_val_loss",
    }
    assert {"baseline_mean_rmse", "baseline_linear_rmse"} <= run.data.metrics.keys()
    assert run.data.tags["mlflow.note.content"].startswith("test_loss ")


def test_metrics_names_what_keras_measures(lesson_env, tracking, tmp_path):
    """... and lesson 14's verbose=2: the model summary, then one line per epoch with them."""
    params = TINY | {"metrics": "mae,mse", "verbose": 2}
    result = in_process("dnn_basic", params, lesson_env, tmp_path)
    run = finished_run(result, tracking, "dnn_basic")
    per_epoch, tests = keras_measured(tracking, run)
    assert per_epoch == {"loss", "mae", "mse", "val_loss", "val_mae", "val_mse", "learning_rate"}
    assert tests == {"test_loss", "test_mse", "test_rmse", "test_mae", "test_r2"}
    lines = result.stdout.splitlines()
    assert any(line.startswith(" Total params: ") for line in lines)
    assert [line for line in lines if line.startswith("Epoch ")] == ["Epoch 1/2", "Epoch 2/2"]
    # Keras writes ms/step, or s/step on a slow step (a loaded machine)
    epoch_lines = [line for line in lines if re.match(r"\d+/\d+ - .*s/step - loss: ", line)]
    assert len(epoch_lines) == 2 and all(" - val_mae: " in line for line in epoch_lines)
    assert "\r" not in result.stdout  # no progress bar redrawn in place: that is verbose=1


def test_a_classifier_with_the_loss_alone_still_scores_its_accuracy(lesson_env, tracking, tmp_path):
    """Without Keras's accuracy the run still logs test_accuracy (from the predicted
    classes), its baselines beside it, and the history of the loss alone."""
    params = TINY | {"dataset": "digits", "model": "dnn", "metrics": "", "verbose": 1}
    result = in_process("image_classify", params, lesson_env, tmp_path)
    run = trained_run(result, tracking, "image_classify", "classification", tmp_path)
    # verbose=1 (lesson 14): a progress bar per epoch, redrawn in place, ending on its loss
    lines = result.stdout.split("\n")  # (splitlines() would split the bar at each redraw)
    assert [line for line in lines if line.startswith("Epoch ")] == ["Epoch 1/2", "Epoch 2/2"]
    bars = [line for line in lines if line.startswith("\r")]
    assert len(bars) == 2 and all(" - val_loss: " in bar for bar in bars), bars
    assert not [line for line in lines if re.match(r"\d+/\d+ - ", line)]  # verbose=2's lines
    per_epoch, tests = keras_measured(tracking, run)
    assert per_epoch == {"loss", "val_loss", "learning_rate"}
    assert {"test_loss", "test_accuracy"} <= tests and "best_val_accuracy" not in run.data.metrics
    assert "(linear " in run.data.tags["mlflow.note.content"]


def test_same_seed_same_metrics_and_second_run_hits_the_cache(lesson_env, tracking, tmp_path):
    params = TINY | {"dataset": "digits", "model": "cnn"}
    for _ in range(2):
        result = in_process("image_classify", params, lesson_env, tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
    experiment = tracking.get_experiment_by_name("image_classify")
    first, second = sorted(
        tracking.search_runs([experiment.experiment_id]), key=lambda r: r.info.start_time
    )
    assert (first.data.tags["cache"], second.data.tags["cache"]) == ("miss", "hit")
    for name in ("test_loss", "test_accuracy"):
        assert first.data.metrics[name] == second.data.metrics[name]


@pytest.mark.slow
def test_deterministic_false_reaches_the_run_and_the_default_turns_it_back_on(
    lesson_env, tracking, tmp_path
):
    """`-P deterministic=false` is the run's parameter and TensorFlow's deterministic kernels
    are off for it; the next run of this process, by default, has them on again."""
    from tensorflow.python.framework.config import is_op_determinism_enabled

    params = TINY | {"dataset": "digits", "model": "cnn"}
    kernels = []
    for extra in ({"deterministic": "false"}, {}):
        result = in_process("image_classify", params | extra, lesson_env, tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        kernels.append(is_op_determinism_enabled())
    experiment = tracking.get_experiment_by_name("image_classify")
    runs = sorted(tracking.search_runs([experiment.experiment_id]), key=lambda r: r.info.start_time)
    assert [run.data.params["deterministic"] for run in runs] == ["false", "true"]
    assert kernels == [False, True]
