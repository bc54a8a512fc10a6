"""rnn (17-22), rnn_ensemble (23-24) and timeseries (25-27, 62) end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.entry_points import params_for
from steps.data import windows
from steps.data.prepare import prepare
from steps.data.sources import toys

from helpers.runs import (
    TINY,
    artifact_paths,
    assert_clean_failure,
    in_process,
    mlflow_run,
    trained_run,
)


def reloaded_predictions(run, x) -> np.ndarray:
    """The logged model, reloaded through pyfunc, on raw windows."""
    import mlflow

    model = mlflow.pyfunc.load_model(run.data.tags["model_uri"])
    return np.asarray(model.predict(x))


@pytest.mark.slow
def test_rnn_stacks_gru_layers_in_a_sequential_model(lesson_env, tracking, tmp_path):
    params = TINY | {"model": "gru", "api": "sequential", "layers": 2}
    result = mlflow_run("rnn", params, lesson_env, tmp_path)
    run = trained_run(result, tracking, "rnn", "regression", tmp_path)
    assert run.data.tags["lesson"] == "17-22" and run.data.tags["dataset"] == "series"
    assert (run.data.params["model"], run.data.params["api"]) == ("gru", "sequential")
    assert run.data.params["n_windows"] == "488"  # 500 steps, windows of 12
    # two GRU(8) layers (3 gates, 2 biases each) and the Dense(1) head
    assert run.data.metrics["parameters"] == 3 * (8 * 9 + 16) + 3 * (8 * 16 + 16) + 9
    summary = (
        tmp_path / tracking.download_artifacts(run.info.run_id, "model_summary.txt", str(tmp_path))
    ).read_text()
    assert "gru_sequential" in summary
    assert summary.count("GRU") == 2
    assert "(None, 12, 8)" in summary  # the first layer returns its sequence (lesson 22)


def test_rnn_refuses_a_family_that_is_not_recurrent(lesson_env, tracking, tmp_path):
    result = in_process("rnn", TINY | {"model": "dnn"}, lesson_env, tmp_path)
    message = "bad value 'dnn' for model: choose one of lstm, gru, simple_rnn"
    assert_clean_failure(result, tracking, "rnn", message, parameter_error=True)


@pytest.mark.slow
def test_rnn_ensemble_model_reloads_and_takes_a_dict_of_named_inputs(
    lesson_env, tracking, tmp_path
):
    from sklearn.metrics import root_mean_squared_error

    result = mlflow_run("rnn_ensemble", TINY | {"patience": 1}, lesson_env, tmp_path)
    run = trained_run(result, tracking, "rnn_ensemble", "regression", tmp_path)
    assert run.data.params["inputs"] == "target=target; others=driver,season"
    assert run.data.params["patience"] == "1"
    # The same windows and split as the run made, fed raw to the reloaded model.
    params = params_for("rnn_ensemble", **TINY)
    windowed = windows.window_dataset(toys.series().load(), params.window, params.features)
    prepared = prepare(windowed, params.prepare_options())
    x_test = {"target": prepared.data.x_test[..., :1], "others": prepared.data.x_test[..., 1:]}
    predictions = reloaded_predictions(run, x_test)
    assert predictions.shape == (len(prepared.data.y_test), 1)
    rmse = root_mean_squared_error(prepared.data.y_test.ravel(), predictions.ravel())
    assert rmse == pytest.approx(run.data.metrics["test_rmse"], rel=1e-4)


@pytest.mark.slow
def test_timeseries_cuts_lesson_25s_sequence_from_a_csv(lesson_env, tracking, tmp_path):
    path = tmp_path / "sequence.csv"
    # (the csv reader needs a column besides the target: a table of the target alone is a
    # traceback in the csv reader, reported; `step` is not fed with features=1)
    pd.DataFrame({"step": np.arange(100), "value": np.arange(1, 101)}).to_csv(path, index=False)
    params = TINY | {"dataset": f"csv:{path}", "target": "value", "window": 3, "model": "dnn"}
    result = mlflow_run("timeseries", params, lesson_env, tmp_path)
    run = trained_run(result, tracking, "timeseries", "regression", tmp_path)
    assert run.data.tags["lesson"] == "25-27,62"
    assert (run.data.params["n_windows"], run.data.params["columns"]) == ("97", "value")
    local = tracking.download_artifacts(run.info.run_id, "windows/first_windows.csv", str(tmp_path))
    table = pd.read_csv(local)
    assert list(table.columns) == ["value[t-2]", "value[t-1]", "value[t]", "value[t+1]"]
    assert table.to_numpy().tolist() == [[i, i + 1, i + 2, i + 3] for i in range(1, 6)]


def test_timeseries_with_two_features_into_conv1d(lesson_env, tracking, tmp_path):
    from sklearn.metrics import root_mean_squared_error

    params = TINY | {"features": 2, "model": "conv1d", "window": 8}
    result = in_process("timeseries", params, lesson_env, tmp_path)
    run = trained_run(result, tracking, "timeseries", "regression", tmp_path)
    assert run.data.params["columns"] == "target,driver"
    assert "plots/forecast.png" in artifact_paths(tracking, run.info.run_id, "plots")
    defaults = params_for("timeseries", **params)
    windowed = windows.window_dataset(toys.series().load(), 8, 2)
    prepared = prepare(windowed, defaults.prepare_options())
    assert prepared.data.x_test.shape[1:] == (8, 2)
    predictions = reloaded_predictions(run, prepared.data.x_test)
    rmse = root_mean_squared_error(prepared.data.y_test.ravel(), predictions.ravel())
    assert rmse == pytest.approx(run.data.metrics["test_rmse"], rel=1e-4)


def test_timeseries_window_longer_than_the_series(lesson_env, tracking, tmp_path):
    path = tmp_path / "short.csv"
    pd.DataFrame({"step": np.arange(10), "value": np.linspace(0.5, 9.5, 10)}).to_csv(
        path, index=False
    )
    params = TINY | {"dataset": f"csv:{path}", "target": "value", "window": 12}
    result = in_process("timeseries", params, lesson_env, tmp_path)
    message = (
        "a window of 12 plus 1 value(s) to predict needs at least 13 time steps; "
        "the series has 10: use a smaller window"
    )
    assert_clean_failure(result, tracking, "timeseries", message)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"model": "rnn"}, "bad value 'rnn' for model: choose one of dnn, cnn, lstm, gru"),
        ({"window": 0}, "bad value 0 for window: use 1 or more"),
    ],
)
def test_timeseries_refuses_bad_parameters(params, message, lesson_env, tracking, tmp_path):
    result = in_process("timeseries", TINY | params, lesson_env, tmp_path)
    assert_clean_failure(result, tracking, "timeseries", message, parameter_error=True)
