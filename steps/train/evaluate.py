"""Evaluate step: task-aware test metrics (lessons 07-08): accuracy for classes, RMSE, MAE
and R2 in the target's units for numbers."""

from __future__ import annotations

import numpy as np

from steps.data.prepare import Prepared
from steps.track.quiet_pyfunc import predict_in_batches
from steps.train.feed import evaluation_arguments


def predict(model, x, batch_size: int = 256):
    """`model.predict(x)`, without tracing a graph for each model (`predict_in_batches`)."""
    return predict_in_batches(model, x, batch_size)


def test_metrics(model, prepared: Prepared, predictions: np.ndarray) -> dict[str, float]:
    """Keras's test scores (test_loss and one per compiled metric), plus test_accuracy from
    the predicted classes, or test_rmse / test_mae / test_r2 in the target's units: those
    whatever metrics the model was compiled with."""
    from sklearn.metrics import accuracy_score

    data = prepared.data
    rows = evaluation_arguments(data.x_test, data.y_test, batch_size=256)
    scores = model.evaluate(**rows, verbose=0, return_dict=True)
    metrics = {f"test_{name}": float(value) for name, value in scores.items()}
    if prepared.task == "classification":
        truth, guess = class_indices(data.y_test), class_indices(predictions)
        return metrics | {"test_accuracy": float(accuracy_score(truth, guess))}
    return metrics | regression_scores(data.y_test, predictions, prefix="test_")


def regression_scores(truth: np.ndarray, guess: np.ndarray, prefix: str = "") -> dict[str, float]:
    """RMSE, MAE and R2 in the target's units; several target columns are scored each on
    its own, then averaged (scikit-learn's uniform average)."""
    from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

    truth = np.asarray(truth).reshape(len(truth), -1)
    guess = np.asarray(guess).reshape(len(guess), -1)
    return {
        f"{prefix}rmse": float(root_mean_squared_error(truth, guess)),
        f"{prefix}mae": float(mean_absolute_error(truth, guess)),
        f"{prefix}r2": float(r2_score(truth, guess)),
    }


def class_indices(labels: np.ndarray) -> np.ndarray:
    """Class index per row from one-hot rows, probabilities or plain indices."""
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] > 1:
        return labels.argmax(axis=1)
    if labels.ndim == 2 and labels.dtype.kind == "f":  # one sigmoid column: P(class 1)
        return (labels[:, 0] > 0.5).astype(np.int64)
    return labels.reshape(len(labels)).astype(np.int64)
