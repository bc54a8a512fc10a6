"""Saving step: save and reload models and weights (lessons 28-31, 48-53).

Paths are `pathlib.Path` objects joined with `/` (lesson 28: never write backslashes into a
path; `Path` picks the right separator on every system). A model is saved whole as `.keras`
(architecture, weights, optimizer state) and reloaded with `keras.saving.load_model`, whose
`safe_mode` stays on: no code is unpickled from a file. Weights alone go to `.weights.h5`
and only load into a model built with the same architecture.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from steps.errors import UserError


def save_model(model, path: Path) -> Path:
    """The whole model as one `.keras` file (lesson 28)."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"a full model is saved as .keras, got {path.name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return path


def load_model(path: Path):
    """A `.keras` file back into a model, ready to predict without fitting (lessons 29, 50)."""
    import keras

    path = Path(path)
    if not path.is_file():
        raise UserError(f"model file not found: {path}; save one first (a .keras file)")
    try:
        return keras.saving.load_model(path)  # safe_mode stays on: no code from the file runs
    except ValueError as exc:
        if "unsafe" not in str(exc) and "safe_mode" not in str(exc):
            raise
        raise UserError(
            f"refusing to load {path}: it holds Python code (e.g. a Lambda layer) that would run "
            "when loaded; rebuild that layer in code, or load it yourself only if you trust the "
            "file (keras.saving.load_model(path, safe_mode=False))"
        ) from None


def save_weights(model, path: Path) -> Path:
    """Weights only (lesson 51): small, but useless without the code that builds the model."""
    path = Path(path)
    if not path.name.endswith(".weights.h5"):
        raise ValueError(f"weights are saved as .weights.h5, got {path.name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save_weights(path)
    return path


def load_weights(model, path: Path):
    """Weights into a freshly built model of the same architecture; returns that model."""
    model.load_weights(Path(path))
    return model


def max_abs_difference(a: np.ndarray, b: np.ndarray) -> float:
    """How far two prediction arrays are apart: 0.0 means the very same numbers."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"prediction shapes differ: {a.shape} vs {b.shape}")
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def shape_text(shape: tuple) -> str:
    return str(tuple(int(d) for d in shape))


def check_sample_shape(expected: tuple, got: tuple) -> None:
    """Refuse samples whose shape differs from the model's, naming both shapes."""
    expected, got = tuple(expected), tuple(got)
    if expected == got:
        return
    size = int(np.prod(expected))
    hint = (
        f"reshape each sample to {shape_text(expected)} (same {size} values)"
        if int(np.prod(got)) == size
        else f"give {size} values per sample, in the layout the model was trained on"
    )
    raise UserError(
        f"the model expects samples of shape {shape_text(expected)}, got {shape_text(got)}: {hint}"
    )


def checked_predict(model, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """`model.predict`, but a wrong sample shape is one clear line instead of a backend trace."""
    from steps.train.evaluate import predict

    x = np.asarray(x)
    if x.ndim == 0:
        raise UserError("no samples: give an array with one row per sample")
    check_sample_shape(tuple(model.input_shape[1:]), x.shape[1:])
    return np.asarray(predict(model, x.astype(np.float32), batch_size))


def keras_says(model, x: np.ndarray) -> str:
    """What Keras itself does when `model.predict` gets `x` (lessons 30-31): the warnings it
    gives, then the exception it raises (type and text, no traceback) or the shape of what it
    predicted. Keras 2 warned and carried on; Keras 3 refuses a wrong feature count with a
    ValueError naming both shapes, and may take other shapes silently."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            predicted = model.predict(np.asarray(x, dtype=np.float32), verbose=0)
        except Exception as exc:  # whatever Keras raises is what it says
            text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()  # no terminal colours
            outcome = f"raised {type(exc).__name__}: {text}"
        else:
            outcome = f"predicted without complaint: outputs of shape {np.shape(predicted)}"
    said = [f"warned ({w.category.__name__}): {w.message}" for w in caught]
    return "\n".join([*said, outcome])


def load_samples(path: Path, key: str = "x") -> np.ndarray:
    """The user's own samples: array `key` of an `.npz` file, one row per sample."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"npz file not found: {path}; save your samples with np.savez(PATH, x=...)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if key not in archive.files:
                raise UserError(
                    f"{path} has keys {sorted(archive.files)}; expected {key!r} "
                    f"(save with np.savez(PATH, {key}=samples))"
                )
            samples = archive[key]
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {path} as an npz file ({exc})") from None
    if samples.ndim == 0 or len(samples) == 0:
        raise UserError(f"{path}: {key!r} holds no samples; give one row per sample")
    return samples


def last_epoch_keeper():
    """A Keras callback keeping a copy of the weights as they are at the end of each epoch.

    `EarlyStopping(restore_best_weights=True)` puts the best epoch's weights back when
    training ends, so the model `fit` returns is the best one; this keeps the last epoch's
    weights (`.weights`) and their epoch, counted from 1 (`.epoch`), for comparison.
    """
    import keras

    class LastEpoch(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.weights: list[np.ndarray] = []
            self.epoch = 0

        def on_epoch_end(self, epoch, logs=None):
            self.weights = [np.array(w) for w in self.model.get_weights()]
            self.epoch = epoch + 1

    return LastEpoch()
