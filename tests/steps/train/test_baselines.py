"""The baselines step on generated arrays: which baselines a split gets, and what they score."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from steps.data.prepare import IDENTITY, Prepared, Preprocessing, Split, encode_labels
from steps.train import baselines
from steps.train.baselines import LINEAR_LIMIT, baseline_metrics, beside, shared_score

MAJORITY = {"baseline_majority_accuracy"}
LINEAR_CLASSIFICATION = {"baseline_linear_accuracy"}
MEAN = {"baseline_mean_rmse", "baseline_mean_mae", "baseline_mean_r2"}
LINEAR_REGRESSION = {"baseline_linear_rmse", "baseline_linear_mae", "baseline_linear_r2"}


def prepared(task: str, x: np.ndarray, y: np.ndarray, n_test: int, n_val: int = 0) -> Prepared:
    """The last `n_test` rows as test rows, the `n_val` before them as validation rows."""
    fit = len(x) - n_test
    train = fit - n_val
    data = Split(x[:train], y[:train], x[train:fit], y[train:fit], x[fit:], y[fit:])
    names = tuple(str(c) for c in range(int(y.max()) + 1)) if task == "classification" else ()
    shape = tuple(x.shape[1:])
    return Prepared(task, names, y.ndim == 2, data, Preprocessing(shape, IDENTITY, IDENTITY))


def classes(rows: int, features: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three classes, mostly class 0, linear in the features."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, features)).astype(np.float32)
    y = np.where(x[:, 0] > 0.3, 0, np.where(x[:, 1] > 0, 1, 2))
    return x, y


def test_too_many_values_for_the_linear_model_keeps_only_the_trivial_baselines():
    features = 100
    rows = LINEAR_LIMIT // features + 1  # the fitted rows alone pass the limit
    x, y = classes(rows + 50, features)
    scores = baseline_metrics(prepared("classification", x, y, n_test=50))
    assert scores.keys() == MAJORITY
    assert scores["baseline_majority_accuracy"] == np.mean(y[-50:] == 0)

    target = np.stack([x[:, 0] * 3 + 1, x[:, 1] - 2], axis=1)  # two target columns
    scores = baseline_metrics(prepared("regression", x, target, n_test=50))
    assert scores.keys() == MEAN


def test_training_plus_validation_rows_count_towards_the_limit_and_are_fitted():
    features = 100
    fitted = LINEAR_LIMIT // features  # just within the limit once both are counted
    x, y = classes(fitted + 40, features)
    within = baseline_metrics(prepared("classification", x, y, n_test=40, n_val=fitted // 2))
    assert within.keys() == MAJORITY | LINEAR_CLASSIFICATION
    x, y = classes(fitted + 41, features)
    beyond = baseline_metrics(prepared("classification", x, y, n_test=40, n_val=fitted // 2))
    assert beyond.keys() == MAJORITY


def test_classification_baselines_are_sklearn_models_fitted_on_train_and_validation_rows():
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = classes(300, 5)
    x[:, 1] = np.round(x[:, 1] * 10)  # samples need not be floats to be flattened to rows
    images = x.reshape(300, 5, 1)
    scores = baseline_metrics(prepared("classification", images, y, n_test=60, n_val=40))
    linear = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    linear.fit(x[:240].astype(np.float64), y[:240])
    majority = DummyClassifier(strategy="most_frequent").fit(x[:240], y[:240])
    assert scores == {
        "baseline_majority_accuracy": majority.score(x[240:], y[240:]),
        "baseline_linear_accuracy": linear.score(x[240:].astype(np.float64), y[240:]),
    }
    assert scores["baseline_majority_accuracy"] < scores["baseline_linear_accuracy"]
    # One-hot labels score as their class indices do.
    one_hot = encode_labels(y, 3, one_hot=True)
    assert baseline_metrics(prepared("classification", images, one_hot, 60, 40)) == scores


def test_regression_baselines_score_every_target_column_as_the_test_metrics_do():
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import r2_score

    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 4))
    target = np.stack([x @ [1, 2, 0, 0] + 5, x @ [0, 0, -3, 1] - 1], axis=1)
    target += rng.normal(scale=0.1, size=target.shape)
    scores = baseline_metrics(prepared("regression", x, target, n_test=50, n_val=30))
    assert scores.keys() == MEAN | LINEAR_REGRESSION
    guess = LinearRegression().fit(x[:150], target[:150]).predict(x[150:])
    assert scores["baseline_linear_r2"] == pytest.approx(r2_score(target[150:], guess))
    assert scores["baseline_linear_r2"] > 0.99
    mean_guess = np.broadcast_to(target[:150].mean(axis=0), target[150:].shape)
    assert scores["baseline_mean_r2"] == pytest.approx(r2_score(target[150:], mean_guess))
    assert scores["baseline_mean_r2"] <= 0


def test_multi_input_samples_get_no_baselines():
    x, y = classes(100, 4)
    data = Split({"a": x[:80]}, y[:80], {"a": x[:0]}, y[:0], {"a": x[80:]}, y[80:])
    pre = Preprocessing((4,), IDENTITY, IDENTITY)
    assert baseline_metrics(Prepared("classification", ("0", "1", "2"), False, data, pre)) == {}


def test_text_samples_get_the_majority_baseline_only():
    x = np.array([f"sentence {i}" for i in range(60)])
    y = np.arange(60) % 2
    scores = baseline_metrics(prepared("classification", x, y, n_test=20))
    assert scores == {"baseline_majority_accuracy": 0.5}


def test_a_linear_model_stopped_before_converging_warns_no_one(monkeypatch):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = classes(200, 10)
    with pytest.warns(ConvergenceWarning):  # one iteration is too few for these rows
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=1)).fit(x[:150], y[:150])
    monkeypatch.setattr(baselines, "LINEAR_ITERATIONS", 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scores = baseline_metrics(prepared("classification", x, y, n_test=50))
    assert "baseline_linear_accuracy" in scores
    assert [w.message for w in caught] == []


def test_the_baselines_beside_a_test_metric_are_named_linear_first():
    metrics = {
        "test_accuracy": 0.9,
        "baseline_majority_accuracy": 0.3,
        "baseline_linear_accuracy": 0.8,
        "baseline_mean_rmse": 2.0,
    }
    assert list(beside("test_accuracy", metrics).items()) == [("linear", 0.8), ("majority", 0.3)]
    assert beside("test_rmse", metrics) == {"mean": 2.0}
    assert beside("test_loss", metrics) == {}
    # A comparison's parent scores each variant: `test_accuracy_dnn` is an accuracy.
    assert shared_score(["test_loss_dnn", "test_accuracy_dnn"], metrics) == "accuracy"
    assert shared_score(["test_r2_dnn"], metrics) is None
