"""Evaluate step: task-aware test metrics (lessons 07-08) and the figures a lesson shows."""

from __future__ import annotations

import numpy as np

from steps.prepare import Prepared


def predict(model, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0))


def test_metrics(model, prepared: Prepared, predictions: np.ndarray) -> dict[str, float]:
    """test_loss plus test_accuracy, or test_rmse / test_mae / test_r2 in the target's units."""
    from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

    data = prepared.data
    scores = model.evaluate(data.x_test, data.y_test, verbose=0, return_dict=True)
    metrics = {"test_loss": float(scores["loss"])}
    if prepared.task == "classification":
        metrics["test_accuracy"] = float(scores["accuracy"])
        return metrics
    truth, guess = data.y_test.ravel(), predictions.ravel()
    metrics["test_rmse"] = float(root_mean_squared_error(truth, guess))
    metrics["test_mae"] = float(mean_absolute_error(truth, guess))
    metrics["test_r2"] = float(r2_score(truth, guess))
    return metrics


def class_indices(labels: np.ndarray) -> np.ndarray:
    """Class index per row from one-hot rows, probabilities or plain indices."""
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] > 1:
        return labels.argmax(axis=1)
    return labels.reshape(len(labels)).astype(np.int64)
