"""Lessons 10-16: validation rows, input/output patterns, input shapes, the functional API,
ensembles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipelines import ensemble, io_patterns, validation
from pipelines.entry_points import ENTRY_POINTS
from steps.data import catalog
from steps.data.prepare import IDENTITY, Affine, Split, prepare, target_scaling
from steps.data.sources import sklearn_sets
from steps.errors import UserError
from steps.model import multi_io
from steps.model.build import Head
from steps.train import evaluate, fit

from helpers.options import fit_options, model_options, prepare_options
from helpers.runs import (
    TINY,
    artifact_paths,
    assert_clean_failure,
    finished_run,
    in_process,
    mlflow_run,
    trained_run,
)

QUIET = fit_options(epochs=1, batch_size=8, verbose=0, patience=0)


@pytest.fixture(scope="module")
def sequences():
    return catalog.resolve("sequences").load()


def metric_steps(client, run, name: str) -> list[int]:
    return [m.step for m in client.get_metric_history(run.info.run_id, name)]


# ------------------------------------------------------------------ data and steps, in process


def test_sequences_are_the_lesson_12_toy(sequences):
    x, y = sequences.x_train, sequences.y_train
    assert (x.shape, y.shape, sequences.task) == ((100, 3), (100, 3), "regression")
    np.testing.assert_array_equal(x[[0, -1]], [[1, 301, 101], [100, 400, 200]])
    np.testing.assert_array_equal(y[:, 0], x.sum(axis=1))
    np.testing.assert_array_equal(y[:, 1], 2 * x[:, 2] - x[:, 1])
    np.testing.assert_array_equal(y[:, 2], x[:, 0] + 500)


def test_several_target_columns_are_standardized_each():
    y = np.array([[1.0, 100.0, 5.0], [3.0, 300.0, 5.0]])
    scaling = target_scaling(y)
    np.testing.assert_allclose(scaling.offset, [2, 200, 5])
    np.testing.assert_allclose(scaling.scale, [1, 100, 1])  # a constant column keeps scale 1
    single = target_scaling(np.array([1.0, 3.0]))
    assert (np.ndim(single.offset), float(single.offset), float(single.scale)) == (0, 2.0, 1.0)


def test_prepared_multi_target_keeps_its_columns(sequences):
    prepared = prepare(sequences, prepare_options(seed=1))
    assert prepared.data.y_train.shape[1:] == (3,)
    standardized = prepared.preprocessing.y_scaling.apply(prepared.data.y_train)
    np.testing.assert_allclose(standardized.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(standardized.std(axis=0), 1, atol=1e-5)


def test_regression_scores_average_the_target_columns():
    truth = np.array([[0.0, 10.0], [2.0, 20.0], [4.0, 30.0]])
    guess = truth + np.array([[1.0, 4.0], [1.0, -4.0], [1.0, 4.0]])
    scores = evaluate.regression_scores(truth, guess, prefix="test_")
    assert scores["test_rmse"] == pytest.approx((1 + 4) / 2)
    assert scores["test_mae"] == pytest.approx((1 + 4) / 2)
    one = evaluate.regression_scores(truth[:, 0], guess[:, :1])  # 1-D and (n, 1) alike
    assert one == pytest.approx({"rmse": 1.0, "mae": 1.0, "r2": 1 - 3 / 8})


@pytest.mark.parametrize(
    ("rows", "fraction", "expected"), [(353, 0.2, (282, 71)), (10, 0.25, (7, 3)), (3, 0.1, (2, 1))]
)
def test_validation_split_rows(rows, fraction, expected):
    assert validation.validation_split_rows(rows, fraction) == expected


def test_validation_split_validates_on_the_last_training_rows():
    """What the validation docstring claims: fit(validation_split=f) scores the last rows."""
    import keras

    fit.seed_everything(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5], np.float32)).reshape(-1, 1)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    empty = x[:0]
    data = Split(x, y, empty, y[:0], x, y)
    config = fit_options(epochs=1, batch_size=8, verbose=0, patience=0)
    result = fit.fit(model, Head(1, "linear", "mse", ("mae",)), data, config, validation_split=0.25)
    n_train, n_val = validation.validation_split_rows(len(x), 0.25)
    last = model.evaluate(x[n_train:], y[n_train:], verbose=0, return_dict=True)
    first = model.evaluate(x[:n_val], y[:n_val], verbose=0, return_dict=True)
    assert result.history["val_loss"][0] == pytest.approx(last["loss"], rel=1e-5)
    assert result.history["val_loss"][0] != pytest.approx(first["loss"], rel=1e-3)


def test_named_columns_and_their_scaling():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    y = np.arange(8, dtype=np.float32).reshape(4, 2)
    groups = multi_io.halves(3, "a", "b")
    assert groups == {"a": slice(0, 1), "b": slice(1, 3)}
    data = multi_io.named_columns(
        Split(x, y, x[:0], y[:0], x, y), groups, multi_io.halves(2, "o1", "o2")
    )
    np.testing.assert_array_equal(data.x_train["b"], x[:, 1:])
    np.testing.assert_array_equal(data.y_test["o2"], y[:, 1:])
    assert data.x_val["a"].shape == (0, 1)
    per_column = Affine(np.array([1, 2, 3], np.float32), np.array([4, 5, 6], np.float32))
    part = multi_io.columns(per_column, groups["b"], 3)
    np.testing.assert_array_equal(part.offset, [2, 3])
    scalar = multi_io.columns(Affine(np.float32(7), np.float32(2)), groups["b"], 3)
    np.testing.assert_array_equal(scalar.scale, [2, 2])


def test_named_layers_take_and_give_raw_values():
    """Inputs scaled in, targets scaled out: zero weights predict each target's mean."""
    import keras

    x_scaling = Affine(np.array([10, 20], np.float32), np.array([2, 4], np.float32))
    y_scaling = Affine(np.array([100, -5, 7], np.float32), np.array([3, 1, 2], np.float32))
    inputs, scaled = multi_io.scaled_input("x", 2, x_scaling)
    outputs = multi_io.regression_output(scaled, "y", 3, y_scaling)
    model = keras.Model(inputs, {"y": outputs, "scaled": scaled})
    dense = model.get_layer("y_standardized")
    dense.set_weights([np.zeros_like(w) for w in dense.get_weights()])
    got = model.predict(np.array([[12.0, 16.0]], np.float32), verbose=0)
    np.testing.assert_allclose(got["scaled"], [[1.0, -1.0]], rtol=1e-5)
    np.testing.assert_allclose(got["y"], [[100, -5, 7]], rtol=1e-5)
    plain_in, plain = multi_io.scaled_input("z", 4, IDENTITY)
    assert plain is plain_in and tuple(plain.shape) == (None, 4)


def test_each_output_gets_its_own_loss_and_metric():
    import keras

    head = multi_io.regression_head(multi_io.halves(3, "out1", "out2"))
    a, b = keras.Input((1,), name="a"), keras.Input((1,), name="b")
    merged = keras.layers.Concatenate()([a, b])
    outputs = {"out1": keras.layers.Dense(1, name="out1")(merged)}
    outputs["out2"] = keras.layers.Dense(2, name="out2")(merged)
    model = keras.Model({"a": a, "b": b}, outputs)
    x = {"a": np.ones((8, 1), np.float32), "b": np.zeros((8, 1), np.float32)}
    y = {"out1": np.ones((8, 1), np.float32), "out2": np.ones((8, 2), np.float32)}
    result = fit.fit(model, head, Split(x, y, x, y, x, y), QUIET)
    assert {"out1_loss", "out2_mae", "val_out1_mae", "val_out2_loss"} <= result.history.keys()
    metrics = multi_io.test_metrics(model, Split(x, y, x, y, x, y))
    assert {"test_loss", "test_out1_loss", "test_out2_rmse", "test_rmse", "test_r2"} <= set(metrics)


# ------------------------------------------------------------------ parameters and data checks


@pytest.mark.parametrize(
    ("entry", "values", "message"),
    [
        (
            "validation",
            {"val_mode": "keras"},
            "^bad value 'keras' for val_mode: choose one of split, fraction$",
        ),
        # this lesson needs validation rows: its range starts above 0
        (
            "validation",
            {"val_fraction": 0.0},
            "^bad value 0.0 for val_fraction: use a number above 0 and below 1$",
        ),
        ("io_patterns", {"pattern": "2_to_2"}, "choose one of n_to_1, 1_to_n, n_to_n$"),
        ("functional_dnn", {"model": "cnn"}, "^functional_dnn takes no parameter 'model'$"),
        ("io_patterns", {"epochs": 0}, "^bad value 0 for epochs: use 1 or more$"),
    ],
)
def test_bad_parameters(entry, values, message):
    with pytest.raises(UserError, match=message):
        ENTRY_POINTS[entry].params(**values)


@pytest.mark.parametrize(
    ("pattern", "x_shape", "y_shape"),
    [("n_to_1", (100, 3), (100,)), ("1_to_n", (100, 1), (100, 3)), ("n_to_n", (100, 3), (100, 3))],
)
def test_patterns_select_columns(sequences, pattern, x_shape, y_shape):
    chosen = io_patterns.select(sequences, pattern)
    assert (chosen.x_train.shape, chosen.y_train.shape) == (x_shape, y_shape)
    np.testing.assert_array_equal(chosen.x_train[:, 0], sequences.x_train[:, 0])


def test_patterns_need_the_columns_they_name(sequences):
    diabetes = sklearn_sets.source("diabetes").load()
    multi_io.require_one_target(diabetes)
    with pytest.raises(UserError, match="sequences has 3 target columns and this entry point"):
        multi_io.require_one_target(sequences)  # validation, functional_dnn
    with pytest.raises(UserError, match="pattern 1_to_n needs several target columns"):
        io_patterns.select(diabetes, "1_to_n")
    assert io_patterns.select(diabetes, "n_to_1").x_train.shape[1] == 10
    with pytest.raises(UserError, match="ensemble needs them for its two inputs and two outputs"):
        ensemble.check_columns(diabetes)


# ------------------------------------------------------------------ end to end


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["split", "fraction"])
def test_validation_modes_log_val_loss_and_row_counts(mode, lesson_env, tracking, tmp_path):
    """diabetes: 442 rows, 89 test; of the 353 left, 25% validate either way."""
    params = TINY | {"val_mode": mode, "val_fraction": 0.25}
    if mode == "split":  # one mode as the user types it, the other in process
        result = mlflow_run("validation", params, lesson_env, tmp_path)
    else:
        result = in_process("validation", params, lesson_env, tmp_path)
    run = trained_run(result, tracking, "validation", "regression", tmp_path)
    assert metric_steps(tracking, run, "val_mae") == [1, 2]
    rows = {k: run.data.params[k] for k in ("n_train", "n_val", "n_test")}
    assert rows == {"n_train": "264", "n_val": "89", "n_test": "89"}
    assert run.data.tags["validation"].startswith(f"{mode}: 89 validation rows")


@pytest.mark.slow
@pytest.mark.parametrize("pattern", ["1_to_n", "n_to_1"])
def test_io_patterns_shape_the_model(pattern, lesson_env, tracking, tmp_path, sequences):
    """The reloaded model takes the pattern's input columns and predicts its output columns."""
    import mlflow

    params = TINY | {"pattern": pattern}
    if pattern == "1_to_n":  # one pattern as the user types it, the other in process
        result = mlflow_run("io_patterns", params, lesson_env, tmp_path)
    else:
        result = in_process("io_patterns", params, lesson_env, tmp_path)
    run = trained_run(result, tracking, "io_patterns", "regression", tmp_path)
    assert run.data.tags["dataset"] == "sequences"
    n_in, n_out = (1, 3) if pattern == "1_to_n" else (3, 1)
    assert (run.data.params["n_inputs"], run.data.params["n_outputs"]) == (str(n_in), str(n_out))
    # the same network either way: only the first Dense's inputs and the head's outputs follow
    # the pattern (two hidden Dense(8) layers by default)
    hidden = (n_in * 8 + 8) + (8 * 8 + 8)
    assert run.data.metrics["parameters"] == hidden + 8 * n_out + n_out
    model = mlflow.pyfunc.load_model(run.data.tags["model_uri"])
    predictions = np.asarray(model.predict(sequences.x_train[:4, :n_in].astype(np.float32)))
    assert predictions.shape == (4, n_out)
    per_output = {f"test_y{i}_rmse" for i in (1, 2, 3)}
    assert (per_output <= run.data.metrics.keys()) == (n_out == 3)


@pytest.mark.slow
def test_input_shapes_shows_what_keras_says_of_each_style(lesson_env, tracking, tmp_path):
    """Lesson 13: Keras 3.15 still builds Dense(input_dim=N) and Dense(input_shape=(N,)),
    warning on both; keras.Input draws no warning; the three count the same parameters."""
    import pandas as pd

    result = mlflow_run("input_shapes", {"units": 4}, lesson_env, tmp_path)
    run = finished_run(result, tracking, "input_shapes")
    path = tracking.download_artifacts(
        run.info.run_id, "parameters/input_shapes.csv", str(tmp_path)
    )
    table = pd.read_csv(path).set_index("style")
    keras_warning = (
        "Do not pass an `input_shape`/`input_dim` argument to a layer. When using Sequential "
        "models, prefer using an `Input(shape)` object as the first layer in the model instead."
    )
    assert table["warning"].to_dict() == {
        "input_dim": keras_warning,
        "input_shape": keras_warning,
        "keras_input": "none",
    }
    assert table["code"].to_dict() == {
        "input_dim": "Dense(4, input_dim=10)",
        "input_shape": "Dense(4, input_shape=(10,))",
        "keras_input": "keras.Input(shape=(10,)), Dense(4)",
    }
    expected = 10 * 4 + 4 + 4 + 1  # diabetes: 10 columns -> Dense(4) -> Dense(1)
    assert table["parameters"].tolist() == [expected] * 3
    metrics = run.data.metrics
    assert {metrics[f"parameters_{style}"] for style in table.index} == {expected}
    assert metrics["max_prediction_difference"] == 0.0
    assert (run.data.tags["lesson"], run.data.params["input_width"]) == ("13", "10")


@pytest.mark.slow
def test_functional_and_sequential_models_match(lesson_env, tracking, tmp_path):
    from steps.model import build

    result = mlflow_run("functional_dnn", TINY | {"layers": 3}, lesson_env, tmp_path)
    run = trained_run(result, tracking, "functional_dnn", "regression", tmp_path)
    counts = {run.data.params[f"{n}_parameters"] for n in ("sequential", "functional")}
    assert counts == {str(int(run.data.metrics["parameters"]))}
    diabetes = sklearn_sets.source("diabetes").load()
    prepared = prepare(diabetes, prepare_options(seed=42))
    standard = build.build("dnn", prepared, model_options(units=8, layers=3))
    assert counts == {str(standard.count_params())}  # the standard dnn builder's layers
    summaries = artifact_paths(tracking, run.info.run_id, "models")
    assert sorted(summaries) == ["models/functional_summary.txt", "models/sequential_summary.txt"]


@pytest.mark.slow
def test_ensemble_logs_each_output_and_reloads_with_named_inputs(
    lesson_env, tracking, tmp_path, sequences
):
    import mlflow

    result = mlflow_run("ensemble", TINY, lesson_env, tmp_path)
    run = trained_run(result, tracking, "ensemble", "regression", tmp_path)
    for name in ("out1_loss", "out2_loss", "out1_mae", "val_out1_loss", "val_out2_mae"):
        assert metric_steps(tracking, run, name) == [1, 2], name
    metrics = run.data.metrics
    assert (
        metrics["best_val_out1_loss"]
        == tracking.get_metric_history(run.info.run_id, "val_out1_loss")[
            int(metrics["best_epoch"]) - 1
        ].value
    )
    scores = f"test_rmse={metrics['test_rmse']:.4f}, test_r2={metrics['test_r2']:.4f}"
    kept = f"2 epochs, kept epoch {int(metrics['best_epoch'])} (lowest val_loss)"
    assert f"ensemble: {scores}; {kept}" in result.stdout.splitlines()
    plots = artifact_paths(tracking, run.info.run_id, "plots")
    assert {"plots/predicted_vs_true_out1.png", "plots/predicted_vs_true_out2.png"} <= set(plots)
    summary = Path(
        tracking.download_artifacts(run.info.run_id, "model_summary.txt", str(tmp_path))
    ).read_text()
    assert "merge (Concatenate)" in summary  # the two input branches, merged

    # The same test rows as the run (same seed), through the reloaded model: same scores.
    prepared = prepare(sequences, prepare_options(seed=42))
    data = multi_io.named_columns(
        prepared.data, multi_io.halves(3, "input_a", "input_b"), multi_io.halves(3, "out1", "out2")
    )
    model = mlflow.pyfunc.load_model(run.data.tags["model_uri"])
    assert [i.name for i in model.metadata.signature.inputs] == ["input_a", "input_b"]
    predicted = model.predict(data.x_test)
    assert {k: np.shape(v) for k, v in predicted.items()} == {"out1": (20, 1), "out2": (20, 2)}
    for name in ("out1", "out2"):
        scores = evaluate.regression_scores(data.y_test[name], predicted[name])
        assert scores["rmse"] == pytest.approx(run.data.metrics[f"test_{name}_rmse"], rel=1e-4)


@pytest.mark.parametrize(
    ("entry_point", "params", "message", "parameter_error"),
    [
        ("validation", {"val_mode": "keras"}, "bad value 'keras' for val_mode", True),
        ("ensemble", {"dataset": "iris"}, "ensemble needs them for its two inputs", False),
    ],
)
def test_bad_input_fails_cleanly(
    entry_point, params, message, parameter_error, lesson_env, tracking, tmp_path
):
    result = in_process(entry_point, TINY | params, lesson_env, tmp_path)
    assert_clean_failure(result, tracking, entry_point, message, parameter_error=parameter_error)
