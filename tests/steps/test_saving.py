"""The persist step on tiny models and data: save/reload, shapes, last epoch, cache warm-up."""

from __future__ import annotations

import numpy as np
import pytest

from steps import saving
from steps.data import warm
from steps.errors import UserError


def tiny_model(features: int = 3):
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((features,))
    outputs = keras.layers.Dense(1)(keras.layers.Dense(4, activation="relu")(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mse")
    model.optimizer.build(model.trainable_variables)
    return model


def test_saved_model_and_weights_reload_with_identical_predictions(tmp_path):
    model = tiny_model()
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    before = model.predict(x, verbose=0)
    reloaded = saving.load_model(saving.save_model(model, tmp_path / "sub" / "m.keras"))
    assert saving.max_abs_difference(before, reloaded.predict(x, verbose=0)) == 0.0
    weights = saving.save_weights(model, tmp_path / "m.weights.h5")
    fresh = tiny_model()  # same architecture; change a kernel so the load has work to do
    fresh.layers[1].kernel.assign(np.zeros((3, 4), dtype=np.float32))
    assert saving.max_abs_difference(before, fresh.predict(x, verbose=0)) > 0
    saving.load_weights(fresh, weights)
    assert saving.max_abs_difference(before, fresh.predict(x, verbose=0)) == 0.0


def test_save_paths_must_say_what_they_hold(tmp_path):
    model = tiny_model()
    with pytest.raises(ValueError, match=r"saved as \.keras"):
        saving.save_model(model, tmp_path / "m.h5")
    with pytest.raises(ValueError, match=r"saved as \.weights\.h5"):
        saving.save_weights(model, tmp_path / "m.h5")
    with pytest.raises(UserError, match="model file not found"):
        saving.load_model(tmp_path / "none.keras")
    with pytest.raises(ValueError, match="shapes differ"):
        saving.max_abs_difference(np.zeros(2), np.zeros(3))


def test_checked_predict_names_both_shapes_and_what_to_do():
    model = tiny_model(features=6)
    with pytest.raises(UserError) as wrong_size:
        saving.checked_predict(model, np.zeros((2, 4)))
    assert str(wrong_size.value) == (
        "the model expects samples of shape (6,), got (4,): give 6 values per sample, "
        "in the layout the model was trained on"
    )
    with pytest.raises(UserError, match=r"got \(2, 3\): reshape each sample to \(6,\)"):
        saving.checked_predict(model, np.zeros((5, 2, 3)))
    assert saving.checked_predict(model, np.zeros((5, 6), dtype=np.int64)).shape == (5, 1)


def test_keras_says_what_keras_itself_does_with_a_batch():
    """Lessons 30-31: Keras 3's own answer to a wrong shape, captured word for word."""
    import warnings

    import keras

    inputs = keras.Input((6,), name="sample")
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs), name="tiny")
    assert saving.keras_says(model, np.zeros((2, 7))) == (
        "raised ValueError: Input 0 with name 'sample' of layer 'tiny' is incompatible "
        "with the layer: expected shape=(None, 6), found shape=(2, 7)"
    )
    assert saving.keras_says(model, np.zeros((2, 6))) == (
        "predicted without complaint: outputs of shape (2, 1)"
    )
    sequential = keras.Sequential([keras.Input((6,)), keras.layers.Dense(1, name="dense")])
    said = saving.keras_says(sequential, np.zeros((2, 7)))
    assert said.startswith("raised ValueError: Exception encountered when calling Sequential")
    assert (
        "expected axis -1 of input shape to have value 6, but received input with shape (2, 7)"
        in said
    )
    assert "\x1b[" not in said  # Keras's terminal colours are dropped

    def warning_identity(x):
        warnings.warn("odd input", UserWarning, stacklevel=1)
        return x

    with warnings.catch_warnings():  # building traces the layer once too
        warnings.simplefilter("ignore")
        warns = keras.Sequential([keras.Input((6,)), keras.layers.Lambda(warning_identity)])
    assert saving.keras_says(warns, np.zeros((2, 6))).splitlines() == [
        "warned (UserWarning): odd input",
        "predicted without complaint: outputs of shape (2, 6)",
    ]


def test_load_samples_reads_x_or_says_which_keys_exist(tmp_path):
    np.savez(tmp_path / "ok.npz", x=np.ones((2, 3)))
    assert saving.load_samples(tmp_path / "ok.npz").shape == (2, 3)
    np.savez(tmp_path / "other.npz", features=np.ones((2, 3)))
    with pytest.raises(UserError, match=r"has keys \['features'\]; expected 'x'"):
        saving.load_samples(tmp_path / "other.npz")
    with pytest.raises(UserError, match="npz file not found"):
        saving.load_samples(tmp_path / "none.npz")
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(UserError, match="cannot read"):
        saving.load_samples(tmp_path / "junk.npz")


def test_last_epoch_keeper_holds_the_weights_early_stopping_threw_away():
    """Diverging SGD: the best epoch is the first, EarlyStopping restores it at the end."""
    import keras

    model = tiny_model(features=1)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5), loss="mse")
    x = np.linspace(-10, 10, 64, dtype=np.float32).reshape(-1, 1)
    stop = keras.callbacks.EarlyStopping(monitor="loss", patience=3, restore_best_weights=True)
    last = saving.last_epoch_keeper()
    history = model.fit(x, 3 * x, epochs=3, batch_size=8, verbose=0, callbacks=[stop, last])
    losses = history.history["loss"]
    assert np.argmin(np.nan_to_num(losses, nan=np.inf)) == 0 < last.epoch == 3  # from 1
    restored = model.get_weights()
    assert not all(np.array_equal(a, b) for a, b in zip(restored, last.weights, strict=True))


def test_dataset_names_expand_all_and_refuse_typos():
    assert warm.dataset_names("all") == list(warm.EXAMPLE_SETS)
    assert warm.dataset_names("iris, mnist,iris,,npz:/x.npz") == ["iris", "mnist", "npz:/x.npz"]
    with pytest.raises(UserError, match=r"^unknown data set 'mnst'; choose all, or a comma list"):
        warm.dataset_names("iris,mnst")
    with pytest.raises(UserError, match="no data set given"):
        warm.dataset_names(" , ")


def test_warm_reports_miss_then_hit_and_skips_what_cannot_be_had(tmp_path):
    first = warm.warm("iris", root=tmp_path)
    assert (first.status, first.rows, first.bytes) == ("miss", 150, 150 * 4 * 8 + 150 * 8)
    assert warm.warm("iris", root=tmp_path).status == "hit"
    skipped = warm.warm("csv:/no/such.csv", root=tmp_path)
    assert skipped.status == "skipped" and skipped.rows == 0
    assert skipped.message.startswith("csv file not found: /no/such.csv")


def test_a_model_that_needs_unsafe_deserialization_is_refused(tmp_path):
    import keras

    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(UserError, match=r"^refusing to load .*lambda\.keras: it holds Python code"):
        saving.load_model(path)
