"""Multi-input, multi-output step (lessons 12 and 16): named groups of columns, and named
model inputs and outputs wrapped in the data's fitted scaling.

Keras takes several inputs or targets as dicts keyed by the Input's and the output layer's
names; `named_columns` cuts a prepared split that way, and `scaled_input` /
`regression_output` make layers with those names that scale raw values in and out, so the
trained model takes and predicts raw values as the standard builders' models do.
"""

from __future__ import annotations

import numpy as np

from steps.data.dataset import Dataset
from steps.data.prepare import Affine, Split
from steps.errors import UserError
from steps.model.build import HEAD_DTYPE, Head
from steps.train import evaluate


def n_targets(dataset: Dataset) -> int:
    """Target columns per sample: 1 for a plain label or number, k for a (rows, k) y."""
    return 1 if np.ndim(dataset.y_train) == 1 else int(np.prod(np.shape(dataset.y_train)[1:]))


def require_one_target(dataset: Dataset) -> None:
    """The standard builders predict one target (or one label): refuse several columns."""
    if n_targets(dataset) > 1:
        raise UserError(
            f"{dataset.name} has {n_targets(dataset)} target columns and this entry point "
            "predicts one; use io_patterns -P pattern=n_to_n or ensemble for several"
        )


def halves(width: int, first: str, second: str) -> dict[str, slice]:
    """The first width // 2 columns under one name, the rest under the other."""
    return {first: slice(0, width // 2), second: slice(width // 2, width)}


def named_columns(data: Split, inputs: dict[str, slice], outputs: dict[str, slice]) -> Split:
    """The same rows, with x and y as dicts of named column groups (Keras's multi-io form)."""

    def cut(array: np.ndarray, groups: dict[str, slice]) -> dict[str, np.ndarray]:
        array = array[:, None] if array.ndim == 1 else array
        return {name: array[:, columns] for name, columns in groups.items()}

    return Split(
        cut(data.x_train, inputs),
        cut(data.y_train, outputs),
        cut(data.x_val, inputs),
        cut(data.y_val, outputs),
        cut(data.x_test, inputs),
        cut(data.y_test, outputs),
    )


def columns(scaling: Affine, group: slice, total: int) -> Affine:
    """The per-column scaling of some of `total` columns (a scalar one applies to each)."""
    offset = np.broadcast_to(np.asarray(scaling.offset, np.float32), (total,))[group]
    scale = np.broadcast_to(np.asarray(scaling.scale, np.float32), (total,))[group]
    return Affine(offset.copy(), scale.copy())


def normalization(scaling: Affine, name: str, invert: bool = False):
    import keras

    return keras.layers.Normalization(
        axis=-1,
        mean=scaling.offset,
        variance=np.square(scaling.scale),
        invert=invert,
        name=name,
        dtype=HEAD_DTYPE if invert else None,  # an output layer: float32 under mixed precision
    )


def scaled_input(name: str, width: int, scaling: Affine):
    """A named Input of `width` raw values and the tensor after the fitted scaling."""
    import keras

    inputs = keras.Input((width,), name=name)
    if scaling.is_identity:
        return inputs, inputs
    return inputs, normalization(columns(scaling, slice(None), width), f"{name}_scaling")(inputs)


def regression_output(x, name: str, width: int, scaling: Affine):
    """Dense learns the standardized targets; the layer named `name` gives the target's units."""
    import keras

    if scaling.is_identity:
        return keras.layers.Dense(width, name=name, dtype=HEAD_DTYPE)(x)
    x = keras.layers.Dense(width, name=f"{name}_standardized", dtype=HEAD_DTYPE)(x)
    return normalization(columns(scaling, slice(None), width), name, invert=True)(x)


def regression_head(outputs: dict[str, slice]) -> Head:
    """Mean squared error on every output, MAE tracked for each (`out1_mae`, `val_out2_mae`)."""
    return Head(units=len(outputs), activation="linear", loss="mse", metrics=("mae",))


def test_metrics(model, data: Split) -> dict[str, float]:
    """Keras's test scores per output (`test_out1_loss`...), each output's RMSE, MAE and R2 in
    its units (`test_out1_rmse`...), and all target columns scored together (`test_rmse`...)."""
    scores = model.evaluate(data.x_test, data.y_test, verbose=0, return_dict=True)
    metrics = {f"test_{name}": float(value) for name, value in scores.items()}
    predictions = evaluate.predict(model, data.x_test)
    for name, truth in data.y_test.items():
        metrics |= evaluate.regression_scores(truth, predictions[name], prefix=f"test_{name}_")
    names = list(data.y_test)
    every_truth = np.concatenate([data.y_test[n] for n in names], axis=1)
    every_guess = np.concatenate([np.asarray(predictions[n]) for n in names], axis=1)
    return metrics | evaluate.regression_scores(every_truth, every_guess, prefix="test_")
