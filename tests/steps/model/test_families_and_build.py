"""Prepare, build, fit, evaluate and plot steps on tiny real data sets, with real Keras."""

from __future__ import annotations

import dataclasses
import itertools
import math
import re

import numpy as np
import pytest

from steps.data import prepare
from steps.data.dataset import Dataset
from steps.data.sources import npz_file, sklearn_sets, toys
from steps.errors import UserError
from steps.model import build, families
from steps.track import plots
from steps.train import evaluate, fit

from helpers import upstream_files
from helpers.options import fit_options, model_options, prepare_options

QUIET = {"verbose": 0}


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def mnist(tmp_path_factory) -> Dataset:
    """Tiny MNIST in Keras's own file format, read by the npz: reader (60 train, 20 test)."""
    folder = tmp_path_factory.mktemp("mnist")
    return npz_file.source(upstream_files.write_mnist_npz(folder, n_train=60, n_test=20)).load()


@pytest.fixture(scope="module")
def iris() -> Dataset:
    return sklearn_sets.source("iris").load()


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return sklearn_sets.source("digits").load()


@pytest.fixture(scope="module")
def linear() -> Dataset:
    return toys.linear().load()


@pytest.fixture(scope="module")
def cifar_like() -> Dataset:
    rng = np.random.default_rng(0)
    return Dataset(
        name="rgb",
        task="classification",
        x_train=rng.integers(0, 256, size=(20, 32, 32, 3), dtype=np.uint8),
        y_train=np.arange(20) % 4,
        x_test=rng.integers(0, 256, size=(8, 32, 32, 3), dtype=np.uint8),
        y_test=np.arange(8) % 4,
        class_names=("a", "b", "c", "d"),
        pixel_max=255.0,
    )


def rows(x: np.ndarray) -> list[bytes]:
    """Each sample as bytes, sorted: compares sets of samples regardless of order."""
    x = np.asarray(x, dtype=np.float32)
    return sorted(sample.tobytes() for sample in x.reshape(len(x), -1))


def body_params(model) -> int:
    """Parameters of every layer except the scaling ones (whose statistics are fixed)."""
    import keras

    scaling = (keras.layers.Normalization, keras.layers.Rescaling)
    return sum(layer.count_params() for layer in model.layers if not isinstance(layer, scaling))


def trained(dataset: Dataset, family: str = "dnn", seed: int = 3, **config):
    """prepare -> build -> fit as a lesson does it, from one seed."""
    fit.seed_everything(seed)
    prepared = prepare.prepare(dataset, prepare_options(seed=seed))
    model = build.build(family, prepared, model_options(units=8, layers=1, filters=(4, 8)))
    config = {"epochs": 2, "batch_size": 16, "seed": seed, **QUIET} | config
    result = fit.fit(model, build.head_for(prepared), prepared.data, fit_options(**config))
    return prepared, model, result


# ------------------------------------------------------------------ prepare: split


def test_own_test_split_is_kept_and_validation_comes_from_train(mnist):
    prepared = prepare.prepare(mnist, prepare_options(val_fraction=0.25))
    data = prepared.data
    np.testing.assert_array_equal(data.x_test, mnist.x_test.astype(np.float32))
    np.testing.assert_array_equal(data.y_test, np.eye(10, dtype=np.float32)[mnist.y_test])
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (45, 15, 20)
    assert rows(np.concatenate([data.x_train, data.x_val])) == rows(mnist.x_train)
    assert data.x_train.dtype == np.float32 and data.x_train.max() > 1  # raw, unscaled samples


def test_table_without_test_split_gets_stratified_test_and_validation(iris):
    data = prepare.prepare(iris, prepare_options()).data
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (96, 24, 30)
    assert data.y_test.sum(axis=0).tolist() == [10, 10, 10]  # stratified by class
    assert rows(np.concatenate([data.x_train, data.x_val, data.x_test])) == rows(iris.x_train)


@pytest.mark.parametrize(("name", "sizes"), [("iris", (120, 0, 30)), ("linear", (80, 0, 20))])
def test_no_validation_when_fraction_is_zero(request, name, sizes):
    dataset = request.getfixturevalue(name)
    data = prepare.prepare(dataset, prepare_options(val_fraction=0.0)).data
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == sizes
    assert len(data.y_val) == 0


def test_same_seed_same_split_other_seed_other_split(iris):
    first, again, other = (
        prepare.prepare(iris, prepare_options(seed=seed)).data for seed in (5, 5, 6)
    )
    np.testing.assert_array_equal(first.x_train, again.x_train)
    np.testing.assert_array_equal(first.y_test, again.y_test)
    assert not np.array_equal(first.x_train, other.x_train)


def test_too_few_rows_to_split(tmp_path):
    tiny = Dataset(
        "tiny", "classification", np.zeros((2, 3)), np.array([0, 1]), class_names=("a", "b")
    )
    with pytest.raises(UserError, match=r"^tiny has 2 rows: too few to split$"):
        prepare.prepare(tiny, prepare_options())


def test_a_class_seen_only_in_the_test_rows_is_refused():
    given = Dataset(
        "given",
        "classification",
        np.zeros((8, 2)),
        np.array([0, 1] * 4),
        x_test=np.zeros((4, 2)),
        y_test=np.array([0, 1, 2, 2]),
        class_names=("cat", "dog", "fox"),
    )
    message = (
        "given: 1 class only in the test rows, none in training: 'fox' (2 rows); add training "
        "rows of each, or drop those rows"
    )
    with pytest.raises(UserError, match=f"^{re.escape(message)}$"):
        prepare.prepare(given, prepare_options())


# ------------------------------------------------------------------ prepare: scaling


def test_standard_scaling_is_fit_on_the_training_rows_only(iris):
    prepared = prepare.prepare(iris, prepare_options(scaler="standard"))
    x_train, scaling = prepared.data.x_train.astype(np.float64), prepared.preprocessing.x_scaling
    np.testing.assert_allclose(scaling.offset, x_train.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(scaling.scale, x_train.std(axis=0), rtol=1e-6)
    assert not np.allclose(scaling.offset, iris.x_train.mean(axis=0), rtol=1e-6)  # not all rows
    scaled = scaling.apply(prepared.data.x_train)
    np.testing.assert_allclose(scaled.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(scaled.std(axis=0), 1, atol=1e-5)
    np.testing.assert_allclose(scaling.invert(scaled), prepared.data.x_train, rtol=1e-5)


def test_auto_scaling_of_a_table_is_standard(iris):
    auto, standard = (
        prepare.prepare(iris, prepare_options(scaler=kind)).preprocessing.x_scaling
        for kind in ("auto", "standard")
    )
    np.testing.assert_array_equal(auto.offset, standard.offset)
    np.testing.assert_array_equal(auto.scale, standard.scale)


def test_minmax_scaling_maps_the_training_range_to_0_1(iris):
    prepared = prepare.prepare(iris, prepare_options(scaler="minmax"))
    x_train, scaling = prepared.data.x_train, prepared.preprocessing.x_scaling
    np.testing.assert_allclose(scaling.offset, x_train.min(axis=0), rtol=1e-6)
    np.testing.assert_allclose(scaling.scale, x_train.max(axis=0) - x_train.min(axis=0), rtol=1e-6)
    scaled = scaling.apply(x_train)
    np.testing.assert_allclose(scaled.min(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(scaled.max(axis=0), 1, atol=1e-6)


@pytest.mark.parametrize(("name", "pixel_max"), [("mnist", 255.0), ("digits", 16.0)])
def test_auto_scaling_of_images_divides_by_the_largest_pixel(request, name, pixel_max):
    prepared = prepare.prepare(request.getfixturevalue(name), prepare_options())
    scaling = prepared.preprocessing.x_scaling
    assert (float(scaling.offset), float(scaling.scale)) == (0.0, pixel_max)
    assert scaling.apply(np.array([pixel_max])).tolist() == [1.0]


def test_no_scaling(iris):
    prepared = prepare.prepare(iris, prepare_options(scaler="none"))
    assert prepared.preprocessing.x_scaling.is_identity


def test_unscaled_features_too_large_for_float32_training(iris):
    huge = dataclasses.replace(iris, x_train=iris.x_train * 1e19)  # up to 7.9e19
    message = (
        "iris: unscaled features reach 7.9e+19, past 1.8e+19 where float32 training overflows: "
        "use -P scaler=standard (or minmax)"
    )
    with pytest.raises(UserError, match=f"^{re.escape(message)}$"):
        prepare.prepare(huge, prepare_options(scaler="none"))
    prepare.prepare(huge, prepare_options(scaler="standard"))


def test_standard_scaling_of_images_is_per_pixel(digits):
    prepared = prepare.prepare(digits, prepare_options(scaler="standard"))
    scaling = prepared.preprocessing.x_scaling
    assert scaling.offset.shape == (8, 8)
    np.testing.assert_allclose(scaling.offset, prepared.data.x_train.mean(axis=0), rtol=1e-6)
    assert scaling.scale[0, 0] == 1.0  # a pixel that is always 0: no division by zero


def test_unknown_family(iris):
    message = f"unknown model family 'rnn'; choose one of {', '.join(families.names())}"
    prepared = prepare.prepare(iris, prepare_options())
    with pytest.raises(UserError, match=f"^{re.escape(message)}$"):
        build.build("rnn", prepared, model_options())


# ------------------------------------------------------------------ prepare: shapes and labels


@pytest.mark.parametrize(
    ("family", "sample_shape", "expected"),
    [
        ("dnn", (28, 28), (784,)),
        ("cnn", (28, 28), (28, 28, 1)),
        ("lstm", (28, 28), (28, 28)),
        ("conv1d", (28, 28), (28, 28)),
        ("dnn", (32, 32, 3), (3072,)),
        ("cnn", (32, 32, 3), (32, 32, 3)),
        ("lstm", (32, 32, 3), (32, 96)),
        ("gru", (32, 32, 3), (32, 96)),
        ("conv1d", (32, 32, 3), (32, 96)),
        ("dnn", (4,), (4,)),
        ("cnn", (4,), (4, 1, 1)),
        ("lstm", (4,), (4, 1)),
        ("conv1d", (4,), (4, 1)),
        ("dnn", (12, 2), (24,)),  # a window of 12 steps of 2 columns
        ("lstm", (12, 2), (12, 2)),
        ("conv1d", (12, 2), (12, 2)),
    ],
)
def test_the_input_each_family_reads(family, sample_shape, expected):
    assert families.get(family).input_shape(sample_shape) == expected


def test_prepared_shapes_of_images_and_tables(mnist, iris):
    images = prepare.prepare(mnist, prepare_options()).preprocessing
    table = prepare.prepare(iris, prepare_options()).preprocessing
    assert images.sample_shape == (28, 28) and table.sample_shape == (4,)


def test_one_hot_or_sparse_labels(iris):
    dense = prepare.prepare(iris, prepare_options(labels="onehot")).data
    sparse = prepare.prepare(iris, prepare_options(labels="sparse")).data
    assert dense.y_train.shape == (96, 3) and dense.y_train.dtype == np.float32
    np.testing.assert_array_equal(dense.y_train.sum(axis=1), 1)
    assert sparse.y_train.shape == (96,) and sparse.y_train.dtype == np.int64
    np.testing.assert_array_equal(dense.y_train.argmax(axis=1), sparse.y_train)
    assert set(sparse.y_val.tolist()) == {0, 1, 2}


def test_regression_targets_stay_in_their_units(linear):
    prepared = prepare.prepare(linear, prepare_options())
    y_train = prepared.data.y_train
    assert prepared.task == "regression" and prepared.class_names == ()
    assert y_train.shape == (len(y_train), 1) and y_train.max() > 100  # not standardized
    y_scaling = prepared.preprocessing.y_scaling
    assert float(y_scaling.offset) == pytest.approx(y_train.mean(), rel=1e-5)
    assert float(y_scaling.scale) == pytest.approx(y_train.std(), rel=1e-5)


# ------------------------------------------------------------------ build


@pytest.mark.parametrize("family", families.names())
@pytest.mark.parametrize("name", ["mnist", "iris", "cifar_like"])
def test_model_takes_raw_samples_and_outputs_one_probability_per_class(request, name, family):
    dataset = request.getfixturevalue(name)
    prepared = prepare.prepare(dataset, prepare_options())
    model = build.build(family, prepared, model_options(units=4, layers=1, filters=(2,)))
    assert model.name == family
    assert model.input_shape == (None, *dataset.x_train.shape[1:])
    assert model.output_shape == (None, dataset.n_classes)
    probabilities = model.predict(dataset.x_train[:3], verbose=0)  # raw uint8 / float64 rows
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)


CONFIGS = {
    "dnn-batch-norm": ("iris", "dnn", model_options(units=16, layers=2, batch_norm=True)),
    "dnn-images": ("mnist", "dnn", model_options(units=8, layers=3, dropout=0.2)),
    "cnn-28x28": ("mnist", "cnn", model_options(units=8, layers=1, filters=(4, 8))),
    "cnn-28x28-bn": (
        "mnist",
        "cnn",
        model_options(units=8, layers=1, filters=(4, 8), batch_norm=True, pool_last=False),
    ),
    "cnn-8x8-digits": ("digits", "cnn", model_options(units=8, layers=1, filters=(4, 8))),
    "cnn-8x8-three-blocks": ("digits", "cnn", model_options(units=8, layers=2, filters=(4, 8, 8))),
    "cnn-rgb": ("cifar_like", "cnn", model_options(units=8, layers=1, filters=(4, 8))),
    "lstm-2-layers": ("mnist", "lstm", model_options(units=8, layers=2)),
    "lstm-table-bn": ("iris", "lstm", model_options(units=8, layers=2, batch_norm=True)),
    "gru-2-layers": ("mnist", "gru", model_options(units=8, layers=2)),
    "simple_rnn-table": ("iris", "simple_rnn", model_options(units=8, layers=1)),
    "conv1d-images": ("mnist", "conv1d", model_options(units=8, layers=2)),
    "conv1d-table": ("iris", "conv1d", model_options(units=8, layers=2)),
    "dnn-regression": ("linear", "dnn", model_options(units=8, layers=2)),
}


@pytest.mark.parametrize("config", CONFIGS)
def test_parameter_estimate_matches_the_built_model(request, config):
    name, family, options = CONFIGS[config]
    prepared = prepare.prepare(request.getfixturevalue(name), prepare_options())
    model = build.build(family, prepared, options)
    chosen = families.get(family)
    shape = chosen.input_shape(prepared.preprocessing.sample_shape)
    blocks = build.estimate(chosen, shape, build.head_for(prepared), options)
    # The scaling layers hold their fitted statistics as constants, not weights: the whole
    # model has exactly the parameters of its body and head.
    assert body_params(model) == model.count_params()
    assert sum(count for _, count in blocks) == model.count_params()
    assert build.check_fits_in_memory(blocks, available=2**30) == model.count_params()


def test_parameter_estimate_of_a_cnn_on_a_table(iris):
    options = model_options(units=8, layers=2, filters=(4, 8), batch_norm=True)
    prepared = prepare.prepare(iris, prepare_options())
    model = build.build("cnn", prepared, options)
    blocks = build.estimate(families.get("cnn"), (4, 1, 1), build.head_for(prepared), options)
    assert sum(count for _, count in blocks) == model.count_params()


def test_estimate_names_each_block_with_its_count():
    head = build.Head(10, "softmax", "categorical_crossentropy", ("accuracy",))
    blocks = build.estimate(families.get("dnn"), (784,), head, model_options(units=64, layers=2))
    assert blocks == [
        ("Dense 64 on 784 inputs", 784 * 64 + 64),
        ("Dense 64 on 64 inputs", 64 * 64 + 64),
        ("Dense 10 output", 64 * 10 + 10),
    ]


def test_model_too_large_for_the_memory_names_its_largest_block():
    head = build.Head(10, "softmax", "categorical_crossentropy", ("accuracy",))
    blocks = build.estimate(families.get("dnn"), (784,), head, model_options(units=4096, layers=2))
    total = 784 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 10 + 10
    assert total == 20_037_642
    assert build.check_fits_in_memory(blocks, available=2**30) == total  # 0.3 GiB < 0.5 GiB
    message = (
        "model too large: 20,037,642 parameters need 0.3 GiB for weights, gradients and "
        "optimizer state, over half of the 0.5 GiB available (largest: Dense 4096 on 4096 "
        "inputs, 16,781,312 parameters); use fewer units or layers"
    )
    with pytest.raises(UserError, match=f"^{re.escape(message)}$"):
        build.check_fits_in_memory(blocks, available=2**29)


def test_build_refuses_an_absurd_model_before_allocating_it(mnist):
    prepared = prepare.prepare(mnist, prepare_options())
    # 10**12 parameters: 16 TB of weights and optimizer state, more than any machine has.
    with pytest.raises(UserError, match=r"^model too large: .* \(largest: Dense 1000000 on "):
        build.build("dnn", prepared, model_options(units=10**6, layers=2))


def test_head_for_each_task_and_label_encoding(iris, linear):
    assert build.head_for(prepare.prepare(iris, prepare_options())) == build.Head(
        3, "softmax", "categorical_crossentropy", ("accuracy",)
    )
    sparse = prepare.prepare(iris, prepare_options(labels="sparse"))
    assert build.head_for(sparse).loss == "sparse_categorical_crossentropy"
    regression = prepare.prepare(linear, prepare_options())
    assert build.head_for(regression) == build.Head(1, "linear", "mse", ("mae",))


def test_regression_model_predicts_in_target_units(linear):
    import keras

    fit.seed_everything(0)
    prepared = prepare.prepare(linear, prepare_options())
    model = build.build("dnn", prepared, model_options(units=8, layers=2))
    y_scaling = prepared.preprocessing.y_scaling
    last = model.layers[-1]
    assert isinstance(last, keras.layers.Rescaling)
    assert last.scale == pytest.approx(float(y_scaling.scale), rel=1e-6)
    assert last.offset == pytest.approx(float(y_scaling.offset), rel=1e-6)
    x = prepared.data.x_test
    head = keras.Model(model.inputs, model.get_layer("head").output).predict(x, verbose=0)
    np.testing.assert_allclose(
        model.predict(x, verbose=0), y_scaling.invert(head), rtol=1e-5, atol=1e-4
    )
    # Untrained, the head says about 0 (a standardized target): the model says about the mean.
    spread = float(y_scaling.scale)
    assert abs(model.predict(x, verbose=0).mean() - float(y_scaling.offset)) < spread


def test_model_scales_raw_images_itself(digits):
    fit.seed_everything(0)
    prepared = prepare.prepare(digits, prepare_options())
    model = build.build("cnn", prepared, model_options(units=8, layers=1, filters=(4, 8)))
    raw = digits.x_train[:8]
    assert raw.dtype == np.uint8
    from_raw = model.predict(raw, verbose=0)
    np.testing.assert_allclose(from_raw, model.predict(raw.astype(np.float32), verbose=0))
    prescaled = model.predict(raw / 16.0, verbose=0)  # scaling twice changes the answer
    assert not np.allclose(from_raw, prescaled, atol=1e-4)


def test_fitted_standard_scaling_is_inside_the_model(iris):
    import keras

    prepared = prepare.prepare(iris, prepare_options(scaler="standard"))
    model = build.build("dnn", prepared, model_options(units=4, layers=1))
    scaler = model.get_layer("scaler")
    x = prepared.data.x_test
    expected = prepared.preprocessing.x_scaling.apply(x)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(scaler(x)), expected, atol=1e-5)


# ------------------------------------------------------------------ fit


def test_two_epochs_give_a_history_with_validation(iris):
    _, _, result = trained(iris)
    metrics = {"loss", "val_loss", "accuracy", "val_accuracy"}
    assert set(result.history) == metrics | {"learning_rate"}
    assert result.history["learning_rate"] == pytest.approx([0.001, 0.001])
    assert all(len(values) == 2 for values in result.history.values())
    assert result.epochs_run == 2 and result.checkpoint is None and result.seconds > 0
    # Epochs count from 1; the best is EarlyStopping's (lowest val_loss), with its metrics.
    kept = int(np.argmin(result.history["val_loss"]))
    assert result.best_epoch == kept + 1 and result.kept_by == "lowest val_loss"
    assert result.best_metrics == {name: result.history[name][kept] for name in metrics}
    assert all(0 <= value <= 1 for value in result.history["val_accuracy"])


def test_same_seed_same_weights_and_metrics(mnist):
    _, first_model, first = trained(mnist, "cnn", seed=11)
    _, again_model, again = trained(mnist, "cnn", seed=11)
    _, other_model, _ = trained(mnist, "cnn", seed=12)
    assert first.history == again.history
    for a, b in zip(first_model.get_weights(), again_model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not all(
        np.array_equal(a, b)
        for a, b in zip(first_model.get_weights(), other_model.get_weights(), strict=True)
    )


def test_early_stopping_after_patience_epochs_without_progress(iris):
    # A learning rate of 0 never improves val_loss: stop after epoch 1 plus `patience` epochs.
    _, _, result = trained(iris, epochs=10, patience=2, learning_rate=0.0, optimizer="sgd")
    assert result.epochs_run == 3 and result.best_epoch == 1
    assert len(set(result.history["val_loss"])) == 1
    assert fit.epochs_text(result) == "3 epochs, kept epoch 1 (lowest val_loss)"


def test_no_early_stopping_with_patience_zero_keeps_the_last_epoch(iris):
    """No EarlyStopping, no restored weights: the model holds the last epoch's, and says so
    even where an earlier epoch had as low a val_loss (here all do)."""
    _, _, result = trained(iris, epochs=4, patience=0, learning_rate=0.0, optimizer="sgd")
    assert result.epochs_run == 4 and result.best_epoch == 4
    last = {name: values[-1] for name, values in result.history.items()}
    assert result.best_metrics == {k: v for k, v in last.items() if k != "learning_rate"}
    assert fit.epochs_text(result) == "4 epochs, kept epoch 4 (the last; EarlyStopping off)"


def test_a_resumed_fit_keeps_the_best_epoch_from_before_the_interruption(
    iris, tmp_path, monkeypatch
):
    """Validation labels that training makes worse: epoch 1 stays the best. Interrupted as
    epoch 3 begins and resumed (saved after every epoch), the fit holds epochs 3-4 only, yet
    reports epoch 1's metrics (saved beside the backup) as that epoch logged them."""
    import keras

    monkeypatch.setenv("KERAS_LESSONS_SAVE_SECONDS", "0")

    logged: list[dict[str, float]] = []

    class CtrlCAtEpoch3(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise KeyboardInterrupt

        def on_epoch_end(self, epoch, logs=None):
            logged.append(dict(logs))

    prepared = prepare.prepare(iris, prepare_options(seed=3))
    data = dataclasses.replace(prepared.data, y_val=np.roll(prepared.data.y_val, 1, axis=1))
    config = fit_options(epochs=4, patience=10, learning_rate=0.05, seed=3, **QUIET)
    backup = tmp_path / "backup"
    for callbacks in ([CtrlCAtEpoch3()], []):
        fit.seed_everything(3)
        model = build.build("dnn", prepared, model_options(units=8, layers=1))
        try:
            result = fit.fit(
                model,
                build.head_for(prepared),
                data,
                config,
                extra_callbacks=callbacks,
                backup=backup,
            )
        except KeyboardInterrupt:
            assert len(logged) == 2
    assert len(result.history["loss"]) == 2 and result.epochs_run == 4
    assert result.best_epoch == 1
    first = {k: v for k, v in logged[0].items() if k != "learning_rate"}
    assert result.best_metrics == pytest.approx(first, rel=1e-6)
    assert set(result.best_metrics) == {"loss", "val_loss", "accuracy", "val_accuracy"}


def test_reduce_lr_on_plateau_lowers_a_huge_learning_rate(iris):
    _, model, result = trained(
        iris, epochs=5, patience=0, reduce_lr_patience=1, learning_rate=10.0, optimizer="sgd"
    )
    rates = result.history["learning_rate"]
    assert rates[0] == 10.0 and min(rates) < 10.0
    assert all(later <= earlier for earlier, later in itertools.pairwise(rates))
    assert float(np.asarray(model.optimizer.learning_rate)) <= min(rates)


def test_without_validation_the_training_loss_is_monitored(iris):
    fit.seed_everything(0)
    prepared = prepare.prepare(iris, prepare_options())
    data = prepared.data
    no_val = dataclasses.replace(data, x_val=data.x_val[:0], y_val=data.y_val[:0])
    model = build.build("dnn", prepared, model_options(units=4, layers=1))
    config = fit_options(epochs=10, patience=1, learning_rate=0.0, optimizer="sgd", **QUIET)
    result = fit.fit(model, build.head_for(prepared), no_val, config)
    assert set(result.history) == {"loss", "accuracy", "learning_rate"}
    assert result.epochs_run == 2  # early stopping watched `loss`
    assert result.best_metrics.keys() == {"loss", "accuracy"}
    assert fit.epochs_text(result) == "2 epochs, kept epoch 1 (lowest loss)"


def test_tensorboard_event_files_hold_the_epoch_scalars(iris, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    fit.seed_everything(0)
    prepared = prepare.prepare(iris, prepare_options())
    model = build.build("dnn", prepared, model_options(units=4, layers=1))
    config = fit_options(epochs=2, batch_size=32, **QUIET)
    log_dir = tmp_path / "tensorboard"
    result = fit.fit(model, build.head_for(prepared), prepared.data, config, log_dir=log_dir)
    for part, history_key in (("train", "loss"), ("validation", "val_loss")):
        assert list((log_dir / part).glob("events.out.tfevents.*")), part
        events = EventAccumulator(str(log_dir / part))
        events.Reload()
        assert {"epoch_loss", "epoch_accuracy"} <= set(events.Tags()["scalars"])
        logged = [e.value for e in events.Scalars("epoch_loss")]
        assert [e.step for e in events.Scalars("epoch_loss")] == [0, 1]
        np.testing.assert_allclose(logged, result.history[history_key], rtol=1e-6)
    # The model's conceptual graph, from Keras's callback; each evaluation during the fit at
    # the optimizer's step count.
    train = EventAccumulator(str(log_dir / "train")).Reload()
    assert "keras" in train.Tags()["tensors"]
    validation = EventAccumulator(str(log_dir / "validation")).Reload()
    steps_per_epoch = -(-len(prepared.data.x_train) // 32)
    evaluations = validation.Scalars("evaluation_loss_vs_iterations")
    assert [e.step for e in evaluations] == [steps_per_epoch, 2 * steps_per_epoch]
    assert [e.value for e in evaluations] == pytest.approx(result.history["val_loss"], rel=1e-6)


def test_best_model_checkpoint_reloads(iris, tmp_path):
    import keras

    fit.seed_everything(0)
    prepared = prepare.prepare(iris, prepare_options())
    model = build.build("dnn", prepared, model_options(units=4, layers=1))
    checkpoint = tmp_path / "best.keras"
    config = fit_options(epochs=2, **QUIET)
    result = fit.fit(model, build.head_for(prepared), prepared.data, config, checkpoint=checkpoint)
    assert result.checkpoint == checkpoint and checkpoint.is_file()
    reloaded = keras.models.load_model(checkpoint)
    raw = prepared.data.x_test
    assert reloaded.predict(raw, verbose=0).shape == (30, 3)


def test_a_diverging_fit_stops_at_its_first_bad_epoch_and_leaves_nothing_to_resume(
    linear, tmp_path
):
    """SGD at 0.001 on y = 2x + 1 (a squared error in the target's units) blows up in epoch
    3: TerminateOnNaN stops there, and the backups, whose last epoch holds NaN weights, go."""
    fit.seed_everything(0)
    prepared = prepare.prepare(linear, prepare_options())
    model = build.build("dnn", prepared, model_options(units=4, layers=1))
    config = fit_options(epochs=6, optimizer="sgd", learning_rate=0.001, patience=2, **QUIET)
    backup = tmp_path / "backup"
    result = fit.fit(model, build.head_for(prepared), prepared.data, config, backup=backup)
    epoch, loss = result.diverged
    assert epoch == result.epochs_run == 3 and math.isinf(loss)
    assert not backup.exists()
    assert fit.divergence_problem(result, config) == (
        "training diverged at epoch 3: loss is inf; lower -P learning_rate (now 0.001) or try "
        "another -P optimizer (now sgd)"
    )


def test_a_converging_fit_is_no_problem(iris):
    *_, result = trained(iris, epochs=2)
    assert result.diverged is None and fit.divergence_problem(result, fit_options()) == ""


def test_metrics_auto_is_the_heads_own_and_empty_is_the_loss_alone():
    regression, classes = build.Head(1, "linear", "mse", ("mae",)), build.BINARY
    assert fit.metric_names(("auto",), regression) == ("mae",)
    assert fit.metric_names(("auto",), classes) == ("accuracy",)
    assert fit.metric_names(("mse", "auto", "mae"), regression) == ("mse", "mae")
    assert fit.metric_names((), classes) == ()
    fit.check_metric_names(("acc", "auc", "RootMeanSquaredError", "r2_score"))
    with pytest.raises(UserError, match=r"^bad value 'rmse' for metrics: Keras knows no metric"):
        fit.check_metric_names(("mae", "rmse"))


def test_test_metrics_that_are_not_finite_are_refused():
    config = fit_options(learning_rate=10.0, optimizer="sgd")
    assert fit.metrics_problem({"test_loss": 0.5, "test_accuracy": 0.9}, config) == ""
    assert fit.metrics_problem({"test_loss": float("nan"), "test_r2": 0.1}, config) == (
        "the trained model scores test_loss=nan on the test rows; lower -P learning_rate "
        "(now 10) or try another -P optimizer (now sgd)"
    )


# ------------------------------------------------------------------ evaluate


@pytest.mark.parametrize("one_hot", [True, False])
def test_classification_metrics(iris, one_hot):
    fit.seed_everything(0)
    prepared = prepare.prepare(iris, prepare_options(labels="onehot" if one_hot else "sparse"))
    model = build.build("dnn", prepared, model_options(units=8, layers=1))
    fit.fit(model, build.head_for(prepared), prepared.data, fit_options(epochs=2, **QUIET))
    predictions = evaluate.predict(model, prepared.data.x_test)
    metrics = evaluate.test_metrics(model, prepared, predictions)
    assert set(metrics) == {"test_loss", "test_accuracy"}
    assert 0 <= metrics["test_accuracy"] <= 1 and metrics["test_loss"] > 0
    truth = evaluate.class_indices(prepared.data.y_test)
    by_hand = float(np.mean(evaluate.class_indices(predictions) == truth))
    assert metrics["test_accuracy"] == pytest.approx(by_hand, abs=1e-6)


def test_regression_metrics_are_in_target_units(linear):
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    prepared, model, _ = trained(linear, epochs=2, learning_rate=0.01)
    predictions = evaluate.predict(model, prepared.data.x_test)
    metrics = evaluate.test_metrics(model, prepared, predictions)
    assert set(metrics) == {"test_loss", "test_rmse", "test_mae", "test_r2"}
    truth = prepared.data.y_test.ravel()
    mse = mean_squared_error(truth, predictions.ravel())
    assert metrics["test_rmse"] == pytest.approx(math.sqrt(mse), rel=1e-6)
    assert metrics["test_mae"] == pytest.approx(mean_absolute_error(truth, predictions), rel=1e-6)
    assert metrics["test_r2"] == pytest.approx(r2_score(truth, predictions), rel=1e-6)
    assert metrics["test_loss"] == pytest.approx(mse, rel=1e-4)  # Keras's mse, same units


def test_class_indices_from_one_hot_probabilities_or_indices():
    np.testing.assert_array_equal(evaluate.class_indices(np.eye(3)[[2, 0, 1]]), [2, 0, 1])
    probabilities = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]])
    np.testing.assert_array_equal(evaluate.class_indices(probabilities), [1, 0])
    np.testing.assert_array_equal(evaluate.class_indices(np.array([[2], [1]])), [2, 1])
    np.testing.assert_array_equal(evaluate.class_indices(np.array([0, 2])), [0, 2])


# ------------------------------------------------------------------ plots


def visible_ticks(axis, limits: tuple[float, float]) -> list[float]:
    low, high = sorted(limits)
    return [tick for tick in axis.get_ticklocs() if low <= tick <= high]


def test_history_figure_has_one_panel_per_quantity_and_marks_the_kept_epoch():
    history = {
        "loss": [1.0, 0.5, 0.25, 0.3, 0.35],
        "accuracy": [0.3, 0.6, 0.9, 0.8, 0.8],
        "val_loss": [1.1, 0.6, 0.4, 0.5, 0.6],
        "val_accuracy": [0.2, 0.5, 0.8, 0.7, 0.7],
        "learning_rate": [0.001] * 5,
    }
    figure = plots.history_figure(history, kept_epoch=3)
    figure.canvas.draw()
    assert [ax.get_title() for ax in figure.axes] == ["loss", "accuracy", "learning_rate"]
    for ax, name in zip(figure.axes, ("loss", "accuracy"), strict=False):
        train, validation, kept = ax.get_lines()
        assert train.get_xdata().tolist() == [1, 2, 3, 4, 5]
        assert train.get_ydata().tolist() == history[name]
        assert validation.get_ydata().tolist() == history[f"val_{name}"]
        assert kept.get_xdata() == [3, 3]  # a vertical line at the kept epoch
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert legend == ["train", "validation", "kept: epoch 3"]
        assert visible_ticks(ax.xaxis, ax.get_xlim()) == [1, 2, 3, 4, 5]  # no 1.5, no 0
    # The learning rate on its own log axis: a constant 0.001 reads 10^-3, not 0.
    rate = figure.axes[2]
    assert rate.get_yscale() == "log"
    assert rate.get_lines()[0].get_ydata().tolist() == [0.001] * 5
    labels = [t.get_text() for t in rate.get_yticklabels()]
    assert "$\\mathdefault{10^{-3}}$" in labels and "0" not in labels


def test_history_figure_without_validation_nor_kept_epoch():
    figure = plots.history_figure({"loss": [1.0, 0.5], "learning_rate": [0.0, 0.0]})
    figure.canvas.draw()
    loss, rate = figure.axes
    assert loss.get_title() == "loss" and len(loss.get_lines()) == 1
    assert visible_ticks(loss.xaxis, loss.get_xlim()) == [1, 2]
    assert rate.get_yscale() == "linear"  # a rate of 0 has no logarithm


def test_sample_grid_titles_each_image_with_its_class(digits):
    figure = plots.sample_grid(digits, count=10)
    assert len(figure.axes) == 16  # a 4x4 grid, the last 6 left empty
    titles = [ax.get_title() for ax in figure.axes]
    assert titles[:10] == [digits.class_names[label] for label in digits.y_train[:10]]
    assert titles[10:] == [""] * 6
    assert [len(ax.images) for ax in figure.axes] == [1] * 10 + [0] * 6
    np.testing.assert_array_equal(figure.axes[0].images[0].get_array(), digits.x_train[0])


def test_sample_grid_of_colour_images(cifar_like):
    figure = plots.sample_grid(cifar_like, count=4)
    assert len(figure.axes) == 4
    assert figure.axes[0].images[0].get_array().shape == (32, 32, 3)
    assert [ax.get_title() for ax in figure.axes] == ["a", "b", "c", "d"]


def test_confusion_figure_counts_each_pair():
    figure = plots.confusion_figure(
        np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 2, 0]), ("a", "b", "c")
    )
    [ax] = figure.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    counts = np.asarray(ax.images[0].get_array())
    np.testing.assert_array_equal(counts, [[1, 1, 0], [0, 1, 0], [1, 0, 1]])


def test_predicted_vs_true_scatter():
    truth, guess = np.array([1.0, 2.0, 3.0]), np.array([1.5, 1.5, 3.5])
    figure = plots.predicted_vs_true(truth, guess)
    [ax] = figure.axes
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("test set", "true", "predicted")
    np.testing.assert_array_equal(ax.collections[0].get_offsets(), np.column_stack([truth, guess]))
    [diagonal] = ax.get_lines()
    assert diagonal.get_xdata().tolist() == [1.0, 3.5]


def test_fitted_model_through_the_figures(iris):
    prepared, model, result = trained(iris)
    predictions = evaluate.predict(model, prepared.data.x_test)
    figure = plots.confusion_figure(
        evaluate.class_indices(prepared.data.y_test),
        evaluate.class_indices(predictions),
        prepared.class_names,
    )
    counts = np.asarray(figure.axes[0].images[0].get_array())
    assert counts.sum() == 30 and counts.sum(axis=1).tolist() == [10, 10, 10]
    assert [ax.get_title() for ax in plots.history_figure(result.history).axes] == [
        "accuracy",
        "loss",
        "learning_rate",
    ]


def test_cnn_mnist_defaults_build_the_keras_io_convnet(mnist):
    """The bare script `make bench` compares with: same layers in the same order, one
    Dropout before the head, the activation inside each Conv2D."""
    from pipelines.entry_points import ENTRY_POINTS

    params = ENTRY_POINTS["cnn_mnist"].params()
    prepared = prepare.prepare(mnist, params.prepare_options())
    model = build.build("cnn", prepared, params.model_options())
    kinds = [type(layer).__name__ for layer in model.layers[1:]]
    assert kinds == [
        "Rescaling",
        "Reshape",
        "Conv2D",
        "MaxPooling2D",
        "Conv2D",
        "MaxPooling2D",
        "Flatten",
        "Dropout",
        "Dense",
    ]
    assert [layer.get_config()["activation"] for layer in model.layers if "conv" in layer.name] == [
        "relu",
        "relu",
    ]
    assert model.count_params() == 34_826  # keras-io's mnist_convnet summary


def test_cnn_cifar10_defaults_build_the_tensorflow_tutorial_cnn(cifar_like):
    """Three 3x3 conv blocks of 32, 64, 64 filters, pooling between them, then Dense(64)."""
    from pipelines.entry_points import ENTRY_POINTS

    params = ENTRY_POINTS["cnn_cifar10"].params()
    prepared = prepare.prepare(cifar_like, params.prepare_options())
    model = build.build("cnn", prepared, params.model_options())
    kinds = [type(layer).__name__ for layer in model.layers[1:]]
    assert kinds == [
        "Rescaling",
        "Conv2D",
        "MaxPooling2D",
        "Conv2D",
        "MaxPooling2D",
        "Conv2D",  # no pooling after the last block
        "Flatten",
        "Dense",
        "Activation",
        "Dense",
    ]
    convs = [layer for layer in model.layers if type(layer).__name__ == "Conv2D"]
    assert [(c.filters, c.kernel_size) for c in convs] == [(32, (3, 3)), (64, (3, 3)), (64, (3, 3))]
    # The tutorial's summary counts 122,570 with 10 classes; cifar_like has 4: Dense(4) on 64.
    assert model.count_params() == 122_570 - (64 * 10 + 10) + (64 * 4 + 4)
