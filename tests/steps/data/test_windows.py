"""The window step (split_x, lessons 25 and 62), the toy series, and the recurrent builders
(cells, Sequential vs functional, stacking, the two-input ensemble) on tiny arrays."""

from __future__ import annotations

import re

import numpy as np
import pytest

from steps.data import windows
from steps.data.dataset import Dataset
from steps.data.prepare import prepare
from steps.data.sources import toys
from steps.errors import UserError
from steps.model import build, families
from steps.train import fit

from helpers.options import model_options, prepare_options


@pytest.fixture(scope="module")
def series() -> Dataset:
    return toys.series().load()


def windowed_prepared(dataset: Dataset, window: int, features: int):
    windowed = windows.window_dataset(dataset, window, features)
    return prepare(windowed, prepare_options(seed=0))


# ------------------------------------------------------------------ split_x


def test_split_x_cuts_one_series_into_windows_and_next_values():
    x, y = windows.split_x(np.arange(1, 11), window=3)
    assert x.shape == (7, 3, 1)
    assert x[..., 0].tolist() == [[i, i + 1, i + 2] for i in range(1, 8)]
    assert y.tolist() == [4, 5, 6, 7, 8, 9, 10]


def test_split_x_cuts_a_multi_feature_series_and_predicts_its_target_column():
    series = np.column_stack([np.arange(1, 11), np.arange(101, 111)])
    x, y = windows.split_x(series, window=4, target_column=1)
    assert x.shape == (6, 4, 2)
    assert x[0].tolist() == [[1, 101], [2, 102], [3, 103], [4, 104]]
    assert x[-1].tolist() == [[6, 106], [7, 107], [8, 108], [9, 109]]
    assert y.tolist() == [105, 106, 107, 108, 109, 110]
    _, first_column = windows.split_x(series, window=4)
    assert first_column.tolist() == [5, 6, 7, 8, 9, 10]


def test_split_x_with_a_horizon_predicts_several_next_values():
    x, y = windows.split_x(np.arange(1, 11), window=3, horizon=2)
    assert x.shape == (6, 3, 1) and x[-1, :, 0].tolist() == [6, 7, 8]
    assert y.tolist() == [[4, 5], [5, 6], [6, 7], [7, 8], [8, 9], [9, 10]]


def test_split_x_copies_so_the_windows_can_be_changed():
    series = np.arange(1.0, 11.0)
    x, _ = windows.split_x(series, window=3)
    x[0, 0, 0] = -1.0  # a sliding_window_view is read-only and shares memory
    assert series[0] == 1.0 and x[1, 0, 0] == 2.0


@pytest.mark.parametrize(
    ("length", "window", "horizon", "message"),
    [
        (
            10,
            10,
            1,
            "a window of 10 plus 1 value(s) to predict needs at least 11 time steps; "
            "the series has 10: use a smaller window",
        ),
        (
            5,
            3,
            3,
            "a window of 3 plus 3 value(s) to predict needs at least 6 time steps; "
            "the series has 5: use a smaller window",
        ),
        (10, 0, 1, "bad value 0 for window: use 1 or more"),
        (10, 3, 0, "bad value 0 for horizon: use 1 or more"),
    ],
)
def test_split_x_refuses_windows_that_do_not_fit(length, window, horizon, message):
    with pytest.raises(UserError, match=f"^{re.escape(message)}$"):
        windows.split_x(np.arange(length), window=window, horizon=horizon)


def test_split_x_refuses_a_target_column_the_series_lacks():
    with pytest.raises(UserError, match=r"^target column 2 is not one of the 2 columns$"):
        windows.split_x(np.zeros((10, 2)), window=3, target_column=2)


# ------------------------------------------------------------------ series data sets


def test_the_toy_series_is_deterministic_and_its_target_follows_the_driver(series):
    again = toys.series().load()
    np.testing.assert_array_equal(series.x_train, again.x_train)
    np.testing.assert_array_equal(series.y_train, again.y_train)
    assert series.x_train.shape == (500, 2) and series.feature_names == ("driver", "season")
    t = np.arange(500)
    rest = series.y_train - np.sin(2 * np.pi * t / 24)
    driver = series.x_train[:, 0]
    # what the wave leaves is half the previous driver value, plus a little noise
    assert np.corrcoef(rest[1:], driver[:-1])[0, 1] > 0.99
    assert abs(np.corrcoef(rest[1:], driver[1:])[0, 1]) < 0.1


def test_window_dataset_puts_the_target_first_and_takes_the_first_columns(series):
    windowed = windows.window_dataset(series, window=5, features=2, target_name="y")
    assert windowed.task == "regression" and windowed.feature_names == ("y", "driver")
    assert windowed.x_train.shape == (495, 5, 2) and windowed.y_train.shape == (495,)
    np.testing.assert_array_equal(windowed.x_train[0, :, 0], series.y_train[:5])
    np.testing.assert_array_equal(windowed.x_train[0, :, 1], series.x_train[:5, 0])
    np.testing.assert_array_equal(windowed.y_train, series.y_train[5:])
    univariate = windows.window_dataset(series, window=5)
    assert univariate.x_train.shape == (495, 5, 1) and univariate.feature_names == ("target",)


@pytest.mark.parametrize("features", [0, 4])
def test_window_dataset_names_the_columns_it_has(series, features):
    message = (
        f"bad value {features} for features: series has 3 columns (target, driver, season); "
        "use 1 to 3"
    )
    with pytest.raises(UserError, match=f"^{re.escape(message)}$"):
        windows.window_dataset(series, window=5, features=features)


def test_window_dataset_continues_the_series_into_a_kept_test_split():
    kept = Dataset(
        "kept", "regression", np.zeros((6, 1)), np.arange(6.0), np.zeros((4, 1)), np.arange(6.0, 10)
    )
    windowed = windows.window_dataset(kept, window=3)
    assert windowed.y_train.tolist() == [3, 4, 5, 6, 7, 8, 9]


def test_window_dataset_decodes_a_column_of_few_whole_numbers():
    """The csv reader takes a column of few whole numbers for classes: undo that."""
    counts = np.array([3, 1, 2, 3, 1, 2, 3, 1])
    indices, names = np.unique(counts, return_inverse=True)[1], ("1", "2", "3")
    table = Dataset("counts", "classification", np.zeros((8, 1)), indices, class_names=names)
    windowed = windows.window_dataset(table, window=2)
    assert windowed.x_train[:, :, 0].tolist()[0] == [3, 1]
    assert windowed.y_train.tolist() == [2, 3, 1, 2, 3, 1]


def test_window_dataset_refuses_labels_and_images(series):
    labels = Dataset(
        "pets", "classification", np.zeros((8, 1)), np.arange(8) % 2, class_names=("cat", "dog")
    )
    with pytest.raises(UserError, match=r"^pets's target holds labels \(cat, dog\.\.\.\), not"):
        windows.window_dataset(labels, window=2)
    images = Dataset(
        "img",
        "classification",
        np.zeros((8, 4, 4)),
        np.arange(8) % 2,
        class_names=("a", "b"),
        pixel_max=255.0,
    )
    with pytest.raises(UserError, match=r"^img is a set of images, not a time series; "):
        windows.window_dataset(images, window=2)


def test_preview_names_each_step_of_each_feature():
    table = Dataset(
        "t",
        "regression",
        np.arange(101.0, 111.0).reshape(-1, 1),
        np.arange(1.0, 11.0),
        feature_names=("b",),
    )
    frame = windows.preview(
        windows.window_dataset(table, window=3, features=2, target_name="a"), count=2
    )
    assert list(frame.columns) == ["a[t-2]", "a[t-1]", "a[t]", "b[t-2]", "b[t-1]", "b[t]", "a[t+1]"]
    assert frame.to_numpy().tolist() == [[1, 2, 3, 101, 102, 103, 4], [2, 3, 4, 102, 103, 104, 5]]


@pytest.mark.parametrize(
    ("family", "shape"), [("lstm", (6, 2)), ("conv1d", (6, 2)), ("dnn", (12,))]
)
def test_windows_are_read_as_time_steps_of_features(series, family, shape):
    prepared = windowed_prepared(series, window=6, features=2)
    assert prepared.preprocessing.sample_shape == (6, 2)
    assert families.get(family).input_shape(prepared.preprocessing.sample_shape) == shape
    data = prepared.data
    assert len(data.x_train) + len(data.x_val) + len(data.x_test) == 494  # all windows, split


def test_split_inputs_gives_each_named_input_its_columns(series):
    prepared = windowed_prepared(series, window=4, features=3)
    named = windows.split_inputs(prepared, {"target": slice(0, 1), "others": slice(1, None)})
    for part in ("x_train", "x_val", "x_test"):
        whole, inputs = getattr(prepared.data, part), getattr(named.data, part)
        assert inputs["target"].shape == (len(whole), 4, 1)
        np.testing.assert_array_equal(inputs["others"], whole[..., 1:])
    np.testing.assert_array_equal(named.data.y_test, prepared.data.y_test)


# ------------------------------------------------------------------ recurrent builders

CELL_CONFIGS = {
    "lstm-1": ("lstm", model_options(units=8, layers=1)),
    "simple_rnn-1": ("simple_rnn", model_options(units=8, layers=1)),
    "gru-1": ("gru", model_options(units=8, layers=1)),
    "simple_rnn-3-bn": ("simple_rnn", model_options(units=5, layers=3, batch_norm=True)),
    "gru-2-dropout": ("gru", model_options(units=6, layers=2, dropout=0.2)),
}


@pytest.mark.parametrize("config", CELL_CONFIGS)
def test_parameter_estimate_matches_each_recurrent_family(series, config):
    family, options = CELL_CONFIGS[config]
    prepared = windowed_prepared(series, window=6, features=3)
    model = build.build(family, prepared, options)
    chosen = families.get(family)
    shape = chosen.input_shape(prepared.preprocessing.sample_shape)
    blocks = build.estimate(chosen, shape, build.head_for(prepared), options)
    assert sum(count for _, count in blocks) == model.count_params()
    assert blocks[0][0] == f"{chosen.cell} {options.units} on 3 features"


def test_recurrent_counts_by_hand():
    # units=4 on 3 features: kernel 3x4, recurrent kernel 4x4 and bias 4, per gate
    options = model_options(units=4, layers=1)

    def count(family: str) -> int:
        blocks, width = families.get(family).estimate((6, 3), options)
        assert width == 4
        return blocks[0][1]

    assert count("simple_rnn") == 12 + 16 + 4
    assert count("lstm") == 4 * (12 + 16 + 4)
    assert count("gru") == 3 * (12 + 16 + 4 + 4)  # reset_after: 2 biases


@pytest.mark.parametrize("family", families.recurrent_names())
def test_each_recurrent_family_builds_its_own_keras_layer(series, family):
    import keras

    prepared = windowed_prepared(series, window=6, features=1)
    model = build.build(family, prepared, model_options(units=4, layers=1))
    expected = {
        "lstm": keras.layers.LSTM,
        "simple_rnn": keras.layers.SimpleRNN,
        "gru": keras.layers.GRU,
    }
    recurrent = [layer for layer in model.layers if isinstance(layer, keras.layers.RNN)]
    assert [type(layer) for layer in recurrent] == [expected[family]]


def test_a_recurrent_family_needs_a_layer(series):
    prepared = windowed_prepared(series, window=6, features=1)
    message = "bad value 0 for layers: model=gru needs 1 or more"
    with pytest.raises(UserError, match=f"^{re.escape(message)}$"):
        build.build("gru", prepared, model_options(layers=0))


def test_stacked_layers_return_sequences_except_the_last(series):
    import keras

    prepared = windowed_prepared(series, window=6, features=2)
    model = build.build("gru", prepared, model_options(units=5, layers=3))
    shapes = [layer.output.shape for layer in model.layers if isinstance(layer, keras.layers.RNN)]
    assert [tuple(shape) for shape in shapes] == [(None, 6, 5), (None, 6, 5), (None, 5)]


@pytest.mark.parametrize("family", ["lstm", "gru"])
def test_sequential_api_builds_the_same_model_as_the_functional_api(series, family):
    """Same layers in the same order: same parameter count, and the same weights give the
    same predictions on raw windows."""
    import keras

    prepared = windowed_prepared(series, window=6, features=2)
    options = model_options(units=4, layers=2, dropout=0.1)
    fit.seed_everything(0)
    functional = build.build(family, prepared, options)
    sequential = build.build_sequential(family, prepared, options, name="seq")
    assert isinstance(sequential, keras.Sequential) and not isinstance(functional, keras.Sequential)
    assert sequential.name == "seq"
    assert sequential.count_params() == functional.count_params()
    kinds = [
        type(layer) for layer in functional.layers if not isinstance(layer, keras.layers.InputLayer)
    ]
    assert [type(layer) for layer in sequential.layers] == kinds
    assert not np.allclose(sequential.get_weights()[0], functional.get_weights()[0])
    sequential.set_weights(functional.get_weights())
    raw = prepared.data.x_test[:7]
    np.testing.assert_allclose(
        sequential.predict(raw, verbose=0), functional.predict(raw, verbose=0), rtol=1e-5
    )


def test_sequential_api_refuses_a_model_too_large(series):
    prepared = windowed_prepared(series, window=6, features=1)
    with pytest.raises(UserError, match=r"^model too large: .*\(largest: LSTM 1000000 on "):
        build.build_sequential("lstm", prepared, model_options(units=10**6, layers=2))


def test_ensemble_has_one_named_input_and_recurrent_stack_per_branch(series):
    import keras

    branches = {"target": slice(0, 1), "others": slice(1, None)}
    prepared = windows.split_inputs(windowed_prepared(series, window=6, features=3), branches)
    model = build.build_branches("lstm", prepared, branches, model_options(units=4, layers=1))
    shapes = {tensor.name: tuple(tensor.shape) for tensor in model.inputs}  # Keras sorts them
    assert shapes == {"target": (None, 6, 1), "others": (None, 6, 2)}
    assert any(isinstance(layer, keras.layers.Concatenate) for layer in model.layers)
    lstm = lambda width: 4 * (4 * (width + 4) + 4)  # noqa: E731
    assert model.count_params() == lstm(1) + lstm(2) + (2 * 4 + 1)
    predictions = model.predict(prepared.data.x_test, verbose=0)
    assert predictions.shape == (len(prepared.data.y_test), 1)
    # each input is scaled by its own columns' statistics, fitted on the training windows
    scaler = model.get_layer("others_scaler")
    expected = prepared.preprocessing.x_scaling.apply(
        np.concatenate([prepared.data.x_test["target"], prepared.data.x_test["others"]], axis=-1)
    )[..., 1:]
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(scaler(prepared.data.x_test["others"])), expected, atol=1e-5
    )


def test_ensemble_refuses_no_recurrent_layer_and_huge_models(series):
    branches = {"target": slice(0, 1), "others": slice(1, None)}
    prepared = windows.split_inputs(windowed_prepared(series, window=6, features=2), branches)
    with pytest.raises(UserError, match=r"^bad value 0 for layers: model=lstm needs 1 or more"):
        build.build_branches("lstm", prepared, branches, model_options(layers=0))
    with pytest.raises(UserError, match=r"^model too large: .*\(largest: target: LSTM 1000000"):
        build.build_branches("lstm", prepared, branches, model_options(units=10**6, layers=2))
    with pytest.raises(UserError, match=r"^bad value 'dnn' for model: choose one of lstm, gru"):
        build.build_branches("dnn", prepared, branches, model_options())


def test_the_lstm_estimate_on_images_read_row_by_row():
    head = build.Head(10, "softmax", "categorical_crossentropy", ("accuracy",))
    blocks = build.estimate(families.get("lstm"), (28, 28), head, model_options(units=8, layers=1))
    assert blocks == [("LSTM 8 on 28 features", 4 * (8 * (28 + 8) + 8)), ("Dense 10 output", 90)]
