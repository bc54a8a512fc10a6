"""Baselines step: the scores a lesson's network has to beat, on the network's own split.

A network no better than always answering the most frequent class (or the training mean)
has learnt nothing; one no better than a linear model on the same features did not need
to be deep. Both are fitted on the rows the network learnt from or early-stopped on (its
training plus validation rows), each sample flattened to one row, and scored on its test
rows with scikit-learn's metrics:

- classification: `baseline_majority_accuracy` (DummyClassifier, most frequent class) and
  `baseline_linear_accuracy` (StandardScaler + LogisticRegression);
- regression: `baseline_mean_rmse`, `_mae`, `_r2` (DummyRegressor, the training mean) and
  `baseline_linear_rmse`, `_mae`, `_r2` (StandardScaler + LinearRegression: ordinary least
  squares, one fit per target column), scored as the network's test metrics are.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping

import numpy as np

from steps.data.prepare import Prepared
from steps.train.evaluate import class_indices, regression_scores

# Rows fitted on x features above which the linear model is skipped: digits (1,437 x 64)
# and the bundled tables take well under a second, CIFAR-10 (50,000 x 3,072) would take minutes.
LINEAR_LIMIT = 500_000
# LogisticRegression's iterations at most: the bundled data sets converge within 40.
LINEAR_ITERATIONS = 500

# The kinds of baseline, in the order a run's description names them.
KINDS = ("linear", "majority", "mean")
# The test metrics a run's description and last printed line put their baselines beside.
SHOWN = ("test_accuracy", "test_rmse")


def baseline_metrics(prepared: Prepared) -> dict[str, float]:
    """The baselines of `prepared`'s task on its split (see the module's docstring); the
    linear one only up to LINEAR_LIMIT and for numeric samples; none for multi-input or
    multi-output (dict) data."""
    data = prepared.data
    parts = (data.x_train, data.y_train, data.x_val, data.y_val, data.x_test, data.y_test)
    if any(isinstance(part, dict) for part in parts):
        return {}
    x_train, x_val = rows(data.x_train), rows(data.x_val)
    if x_train.dtype.kind in "biuf" and x_train.size + x_val.size <= LINEAR_LIMIT:
        x_fit = np.concatenate([x_train, x_val]).astype(np.float64)
        x_test = rows(data.x_test).astype(np.float64)
    else:
        x_fit = x_test = None
    if prepared.task == "classification":
        y_fit = np.concatenate([class_indices(data.y_train), class_indices(data.y_val)])
        return classification(x_fit, y_fit, x_test, class_indices(data.y_test))
    y_fit = np.concatenate([rows(data.y_train), rows(data.y_val)]).astype(np.float64)
    return regression(x_fit, y_fit, x_test, rows(data.y_test))


def rows(x: np.ndarray) -> np.ndarray:
    """One row per sample, its values flattened (no rows: still as wide)."""
    x = np.asarray(x)
    return x.reshape(len(x), int(np.prod(x.shape[1:])))


def classification(
    x_fit: np.ndarray | None, y_fit: np.ndarray, x_test: np.ndarray | None, y_test: np.ndarray
) -> dict[str, float]:
    """Majority class, and the linear model unless `x_fit` is None."""
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score

    majority = DummyClassifier(strategy="most_frequent").fit(blank(y_fit), y_fit)
    scores = {
        "baseline_majority_accuracy": float(accuracy_score(y_test, majority.predict(blank(y_test))))
    }
    if x_fit is not None and np.unique(y_fit).size > 1:  # LogisticRegression needs two classes
        model = scaled_fit(LogisticRegression(max_iter=LINEAR_ITERATIONS), x_fit, y_fit)
        scores["baseline_linear_accuracy"] = float(accuracy_score(y_test, model.predict(x_test)))
    return scores


def regression(
    x_fit: np.ndarray | None, y_fit: np.ndarray, x_test: np.ndarray | None, y_test: np.ndarray
) -> dict[str, float]:
    """Training mean, and the linear model unless `x_fit` is None."""
    from sklearn.dummy import DummyRegressor
    from sklearn.linear_model import LinearRegression

    mean = DummyRegressor(strategy="mean").fit(blank(y_fit), y_fit)
    scores = regression_scores(y_test, mean.predict(blank(y_test)), prefix="baseline_mean_")
    if x_fit is not None:
        model = scaled_fit(LinearRegression(), x_fit, y_fit)
        scores |= regression_scores(y_test, model.predict(x_test), prefix="baseline_linear_")
    return scores


def blank(y: np.ndarray) -> np.ndarray:
    """Inputs for a dummy model, which ignores them: one zero per row."""
    return np.zeros((len(y), 1))


def scaled_fit(linear, x: np.ndarray, y: np.ndarray):
    """`linear` after a StandardScaler, fitted without scikit-learn's warning that it stopped
    before converging (a baseline still, printed on no one's terminal)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return make_pipeline(StandardScaler(), linear).fit(x, y)


def beside(metric: str, metrics: Mapping[str, float]) -> dict[str, float]:
    """The baselines in `metrics` of the test metric `metric`, by kind (`{'linear': 0.93,
    'majority': 0.33}`); none for a metric not in SHOWN."""
    return of_score(metric.removeprefix("test_"), metrics) if metric in SHOWN else {}


def of_score(score: str, metrics: Mapping[str, float]) -> dict[str, float]:
    """The baselines in `metrics` of a score (`accuracy`, `rmse`, ...), by kind, linear first."""
    keys = {kind: f"baseline_{kind}_{score}" for kind in KINDS}
    return {kind: metrics[key] for kind, key in keys.items() if key in metrics}


def shared_score(names: Iterable[str], metrics: Mapping[str, float]) -> str | None:
    """The first score among the test metrics `names` that `metrics` holds baselines of,
    counting a comparison's per-variant ones (`test_accuracy_dnn` is an accuracy)."""
    for name in names:
        for score in ("accuracy", "rmse", "mae", "r2"):
            ours = name == f"test_{score}" or name.startswith(f"test_{score}_")
            if ours and of_score(score, metrics):
                return score
    return None
