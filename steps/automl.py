"""AutoKeras step (lesson 65): import it, and make its model search build on Keras 3.15.

AutoKeras 3.0.0 (the newest release) reads each input's and target's shape as a NumPy array
(`autokeras.utils.data_utils.dataset_shape`) and keeps its entries, NumPy integers, as the
shapes its graph builds from; its classification and regression heads then call
`layers.Dense(self.shape[-1])`. Keras 3.15 accepts only a Python `int` as `units`, so every
trial fails before training. `integer_shapes` turns those shapes into Python ints right where
AutoKeras sets them (`Graph.set_io_shapes`), and only when the installed pair has the bug.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd

from steps.data.dataset import Dataset
from steps.data.prepare import IDENTITY, Prepared, Preprocessing, Split, split
from steps.errors import UserError
from steps.train.evaluate import regression_scores

MISSING = "AutoKeras is not installed: `pip install '.[automl]'` (or `pip install autokeras`)"


def import_autokeras() -> ModuleType:
    """AutoKeras, ready to search with this Keras; a one-line error when it is missing."""
    try:
        import autokeras
    except ImportError:
        raise UserError(MISSING) from None
    integer_shapes(autokeras)
    return autokeras


def passes_numpy_units(ak: ModuleType) -> bool:
    """Whether AutoKeras hands its heads NumPy integers that this Keras refuses as units."""
    import keras

    units = ak.utils.data_utils.dataset_shape(np.zeros((1, 3)))[-1]  # as set_io_shapes gets it
    if isinstance(units, int):
        return False
    try:
        keras.layers.Dense(units, name="units_check")
    except ValueError:
        return True
    return False


def integer_shapes(ak: ModuleType) -> bool:
    """Make AutoKeras's graph keep Python ints as input and head shapes, where it needs to;
    once per process. Returns whether the graph now does so."""
    graph = ak.graph.Graph
    if getattr(graph.set_io_shapes, "integer_shapes", False):
        return True
    if not passes_numpy_units(ak):
        return False
    original = graph.set_io_shapes

    @functools.wraps(original)
    def set_io_shapes(self, shapes):
        original(self, shapes)
        for node in (*self.inputs, *(output.in_blocks[0] for output in self.outputs)):
            node.shape = python_ints(node.shape)

    set_io_shapes.integer_shapes = True
    graph.set_io_shapes = set_io_shapes
    return True


def python_ints(shape) -> tuple | None:
    if shape is None:
        return None
    return tuple(int(d) if isinstance(d, np.integer) else d for d in shape)


# ---------------------------------------------------------------- the search


@contextlib.contextmanager
def known_warnings_silenced() -> Iterator[None]:
    """Two warnings AutoKeras 3.0.0 raises on every run, neither the user's to act on: it
    traces its models with one tensor where they were built with a list of inputs, and it
    reloads the best trial without its optimizer's state (the exported model predicts)."""
    with warnings.catch_warnings():
        for message in ("The structure of `inputs` doesn't match", "Skipping variable loading"):
            warnings.filterwarnings("ignore", message=message, category=UserWarning)
        yield


def prepared(dataset: Dataset, *, val_fraction: float, test_fraction: float, seed: int):
    """The lesson's split as every other lesson cuts it, samples and targets unscaled:
    AutoKeras learns its own normalization inside the model, and takes class indices.
    AutoKeras keeps the best trial by its validation loss, so it needs validation rows."""
    if val_fraction == 0:
        raise UserError("AutoKeras ranks its trials on validation rows: use -P val_fraction > 0")
    parts = split(dataset, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    target = np.int64 if dataset.task == "classification" else np.float32
    x = [np.asarray(part, dtype=np.float32) for part in (parts.x_train, parts.x_val, parts.x_test)]
    y = [np.asarray(part, dtype=target) for part in (parts.y_train, parts.y_val, parts.y_test)]
    return Prepared(
        task=dataset.task,
        class_names=dataset.class_names,
        one_hot=False,
        data=Split(x[0], y[0], x[1], y[1], x[2], y[2]),
        preprocessing=Preprocessing(tuple(x[0].shape[1:]), IDENTITY, IDENTITY),
    )


def searcher(ak: ModuleType, dataset: Dataset, max_trials: int, seed: int, folder: Path):
    """`ImageClassifier`/`ImageRegressor` for images, the `StructuredData` ones for tables
    (every column numeric: the exported model then takes the rows as they are)."""
    task = "Classifier" if dataset.task == "classification" else "Regressor"
    options = {"max_trials": max_trials, "directory": str(folder), "overwrite": True, "seed": seed}
    if dataset.is_image:
        return getattr(ak, f"Image{task}")(**options)
    columns = column_names(dataset)
    return getattr(ak, f"StructuredData{task}")(
        column_names=columns, column_types=dict.fromkeys(columns, "numerical"), **options
    )


def column_names(dataset: Dataset) -> list[str]:
    width = int(np.prod(dataset.x_train.shape[1:]))
    names = [str(name) for name in dataset.feature_names]
    return names if len(names) == width else [f"x{i}" for i in range(width)]


def trials_table(tuner) -> pd.DataFrame:
    """One row per trial, best first: its id, validation score, status and choices."""
    trials = sorted(
        tuner.oracle.trials.values(),
        key=lambda t: (t.score is None, t.score if t.score is not None else 0.0),
    )
    return pd.DataFrame(
        [
            {"trial": t.trial_id, "score": t.score, "status": t.status} | t.hyperparameters.values
            for t in trials
        ]
    )


# ---------------------------------------------------------------- the exported model


def without_optimizer_mismatch(model):
    """The exported model, its optimizer's slots built (at zero): AutoKeras reloads the best
    trial without them, and a model saved so warns on every reload that they differ."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and not optimizer.built:
        optimizer.build(model.trainable_variables)
    return model


def test_scores(
    model, prepared: Prepared, outputs: np.ndarray
) -> tuple[dict[str, float], np.ndarray]:
    """(test metrics, what the model says per test row: a class index or the target).

    The exported model's columns are AutoKeras's labels: the classes seen in training,
    in order (one sigmoid column for two); its regression output is in the target's units."""
    data = prepared.data
    if prepared.task == "regression":
        truth = data.y_test.reshape(len(data.y_test), -1)
        scores = model.evaluate(data.x_test, truth, verbose=0, return_dict=True)
        metrics = {"test_loss": float(scores["loss"])}
        return metrics | regression_scores(truth, outputs, prefix="test_"), outputs
    classes = np.unique(data.y_train.astype(np.int64))
    positions = np.searchsorted(classes, data.y_test.astype(np.int64))
    if outputs.shape[1] == 1:
        truth, picked = positions.reshape(-1, 1), (outputs[:, 0] > 0.5).astype(np.int64)
    else:
        truth, picked = np.eye(outputs.shape[1], dtype=np.float32)[positions], outputs.argmax(1)
    scores = model.evaluate(data.x_test, truth, verbose=0, return_dict=True)
    guess = classes[picked]
    accuracy = float(np.mean(guess == data.y_test.astype(np.int64)))
    return {"test_loss": float(scores["loss"]), "test_accuracy": accuracy}, guess
