"""Lessons 67-74 through the real CLI: optimizers, activations, and the build/fit options
that lessons 73 (BatchNormalization, initializer, regularizer) and 74 (ReduceLROnPlateau) use."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from steps.data.dataset import Dataset
from steps.data.prepare import prepare
from steps.model import build

from helpers.options import model_options, prepare_options
from helpers.runs import (
    TINY,
    artifact_paths,
    assert_clean_failure,
    assert_trained_run,
    finished_run,
    in_process,
    mlflow_run,
    parents_and_children,
)


@pytest.mark.slow
def test_optimizers_train_one_child_per_optimizer_and_rate(lesson_env, tracking, tmp_path):
    params = TINY | {"optimizers": "adam,sgd", "learning_rates": "0.01,0.1"}
    result = mlflow_run("optimizers", params, lesson_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]

    parents, children = parents_and_children(tracking, "optimizers")
    parent = parents[0]
    assert len(parents) == 1 and parent.info.status == "FINISHED"
    kids = children[parent.info.run_id]
    pairs = {(c.data.params["optimizer"], c.data.params["learning_rate"]) for c in kids}
    assert pairs == {("adam", "0.01"), ("adam", "0.1"), ("sgd", "0.01"), ("sgd", "0.1")}
    for child in kids:
        assert_trained_run(tracking, child, "classification", tmp_path)
    table = pd.read_csv(
        tracking.download_artifacts(parent.info.run_id, "comparison/optimizers.csv")
    )
    assert sorted(table["variant"]) == ["adam lr=0.01", "adam lr=0.1", "sgd lr=0.01", "sgd lr=0.1"]
    by_variant = {c.data.tags["variant"]: c.data.metrics["test_accuracy"] for c in kids}
    assert dict(zip(table["variant"], table["test_accuracy"], strict=True)) == by_variant
    assert {"plots/curves.png", "plots/comparison.png"} <= set(
        artifact_paths(tracking, parent.info.run_id, "plots")
    )
    # Lessons 68-70's verdict: which optimizer and rate won, and which lost.
    ranked = sorted(by_variant, key=by_variant.get, reverse=True)
    won, lost = ranked[0], ranked[-1]
    verdict = parent.data.tags["verdict"]
    assert verdict.startswith(
        f"{won} won (test_accuracy {by_variant[won]:.4g}); {lost} lost ({by_variant[lost]:.4g}); "
    )
    assert parent.data.metrics["winner_test_accuracy"] == by_variant[won]
    assert parent.data.metrics["winner_learning_rate"] == float(won.split("lr=")[1])
    assert parent.data.tags["mlflow.note.content"].endswith(f". {verdict}")


def test_unknown_optimizer_stops_before_training(lesson_env, tracking, tmp_path):
    result = in_process("optimizers", TINY | {"optimizers": "adam,lion"}, lesson_env, tmp_path)
    assert_clean_failure(
        result,
        tracking,
        "optimizers",
        "bad value 'adam,lion' for optimizers: ",
        parameter_error=True,
    )
    assert "'lion' unknown; give a comma list of adam, sgd, rmsprop" in result.stderr


@pytest.mark.slow
def test_activations_plots_autodiff_gradients_and_trains_each(lesson_env, tracking, tmp_path):
    params = TINY | {"activations": "sigmoid,relu"}
    result = mlflow_run("activations", params, lesson_env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]

    parents, children = parents_and_children(tracking, "activations")
    parent = parents[0]
    kids = children[parent.info.run_id]
    assert sorted(c.data.params["activation"] for c in kids) == ["relu", "sigmoid"]
    assert all(c.info.status == "FINISHED" for c in kids)
    values = pd.read_csv(tracking.download_artifacts(parent.info.run_id, "activations/values.csv"))
    assert len(values) == 201 and values["x"].min() == -5 and values["x"].max() == 5
    assert values["sigmoid_grad"].max() == pytest.approx(0.25, abs=1e-4)  # at x = 0
    assert set(values["relu_grad"]) == {0.0, 1.0}
    plots = set(artifact_paths(tracking, parent.info.run_id, "plots"))
    assert {
        "plots/activations.png",
        "plots/gradient_descent.png",
        "plots/curves.png",
        "plots/comparison.png",
    } <= plots
    # Lesson 67: the descent's steps, as a table and as a metric per step.
    steps = pd.read_csv(
        tracking.download_artifacts(parent.info.run_id, "gradient_descent/lr_0.1.csv")
    )
    assert steps["x"].iloc[:3].tolist() == pytest.approx([0.0, 0.4, 0.72])
    history = tracking.get_metric_history(parent.info.run_id, "descent_x_lr_0.9")
    assert [m.step for m in history] == list(range(31))
    assert [m.value for m in history][:2] == pytest.approx([0.0, 3.6])
    table = pd.read_csv(
        tracking.download_artifacts(parent.info.run_id, "comparison/activations.csv")
    )
    assert list(table["activation"]) == ["sigmoid", "relu"]


# ---------------------------------------------------------------- lesson 73: build options


def tiny_prepared():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 5)).astype(np.float32)
    data = Dataset(
        name="tiny",
        x_train=x,
        y_train=(x[:, 0] > 0).astype(int),
        task="classification",
        class_names=("a", "b"),
    )
    return prepare(data, prepare_options())


def dense_layers(model):
    import keras

    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][:-1]


def test_batch_norm_adds_one_batchnormalization_per_hidden_layer():
    import keras

    prepared = tiny_prepared()
    plain = build.build("dnn", prepared, model_options(units=8, layers=2))
    normed = build.build("dnn", prepared, model_options(units=8, layers=2, batch_norm=True))
    kinds = [type(layer) for layer in normed.layers]
    assert kinds.count(keras.layers.BatchNormalization) == 2
    assert keras.layers.BatchNormalization not in [type(layer) for layer in plain.layers]


def test_initializer_is_the_dense_layers_kernel_initializer():
    model = build.build("dnn", tiny_prepared(), model_options(units=8, initializer="he_normal"))
    for layer in dense_layers(model):
        assert layer.get_config()["kernel_initializer"]["class_name"] == "HeNormal"


@pytest.mark.parametrize(
    ("l1", "l2"), [(0, 0.01), (0.01, 0), (0.01, 0.01)], ids=["l2", "l1", "both"]
)
def test_l1_and_l2_add_a_regularization_loss_per_hidden_layer(l1, l2):
    prepared = tiny_prepared()
    assert build.build("dnn", prepared, model_options(units=8, layers=2)).losses == []
    model = build.build("dnn", prepared, model_options(units=8, layers=2, l1=l1, l2=l2))
    losses = [float(loss) for loss in model.losses]
    assert len(losses) == 2 and min(losses) > 0
    for layer in dense_layers(model):
        penalty = layer.get_config()["kernel_regularizer"]["config"]
        assert (penalty["l1"], penalty["l2"]) == (pytest.approx(l1), pytest.approx(l2))


# ---------------------------------------------------------------- lesson 74: ReduceLROnPlateau


def test_logged_learning_rate_drops_when_the_plateau_callback_fires(lesson_env, tracking, tmp_path):
    """SGD at a step too small to move validation loss by ReduceLROnPlateau's min_delta: it
    stalls for sure, the callback (patience 1) halves the rate, and the per-epoch
    `learning_rate` shows it."""
    params = TINY | {
        "dataset": "digits",
        "model": "dnn",
        "optimizer": "sgd",
        "learning_rate": 1e-7,
        "reduce_lr_patience": 1,
        "patience": 0,
        "epochs": 5,
    }
    result = in_process("image_classify", params, lesson_env, tmp_path)
    run = finished_run(result, tracking, "image_classify")
    rates = [m.value for m in tracking.get_metric_history(run.info.run_id, "learning_rate")]
    assert len(rates) == 5
    assert rates[0] == pytest.approx(1e-7)
    drops = [(a, b) for a, b in itertools.pairwise(rates) if b != a]
    assert drops, f"the learning rate never dropped: {rates}"
    assert all(b == pytest.approx(a * 0.5) for a, b in drops)  # the fit's LR_FACTOR
